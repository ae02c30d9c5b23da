//===- frontend/BPETokenizer.cpp - GPT-2's byte-level BPE -----------------===//
//
// GPT-2's vocab.json + merges.txt and Hugging Face tokenizer.json files with a
// byte-level BPE model. GPT-2's pre-tokenization regex is matched by hand over
// code points: std::regex knows neither \p classes nor look-ahead.
//
//===----------------------------------------------------------------------===//
#include "frontend/BPETokenizer.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/MemoryBuffer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cassert>
#include <climits>

namespace sqc {

namespace {

llvm::Error fail(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

/// Ids at or above this are refused, so a bad file cannot make decoding
/// tables huge; real vocabularies stay below 300,000.
constexpr int64_t kMaxId = int64_t(1) << 21;
/// Distinct words remembered by encode() before the memo starts over.
constexpr size_t kMemoLimit = 1 << 16;

//===----------------------------------------------------------------------===//
// Unicode classes and UTF-8
//===----------------------------------------------------------------------===//

/// What GPT-2's pattern asks of a code point: \p{L}, \p{N}, \s, or none.
enum CharClass : uint8_t { Other = 0, Letter = 1, Number = 2, Space = 3 };

/// Unicode 14 as runs: `first code point << 2 | CharClass`, ascending; a run
/// lasts until the next starts. Letter is \p{L} (Lu Ll Lt Lm Lo), Number
/// \p{N} (Nd Nl No), Space the White_Space property (what \s is to Python's
/// `regex` and to Rust's). Unassigned code points join the run before them.
/// Generated with Python 3.11's unicodedata:
///   def cls(c):
///     s = chr(c); cat = unicodedata.category(s)
///     if cat == 'Cn': return None
///     if s.isspace() and not 0x1c <= c <= 0x1f: return 3
///     return {'L': 1, 'N': 2}.get(cat[0], 0)
///   runs, cur = [], None
///   for c in range(0x110000):
///     k = cls(c)
///     if k is not None and k != cur: runs.append(c << 2 | k); cur = k
const uint32_t kClassRuns[] = {
    0x0,     0x27,    0x38,    0x83,    0x84,    0xc2,    0xe8,    0x105,    0x16c,
    0x185,   0x1ec,   0x217,   0x218,   0x283,   0x284,   0x2a9,   0x2ac,    0x2ca,
    0x2d0,   0x2d5,   0x2d8,   0x2e6,   0x2e9,   0x2ec,   0x2f2,   0x2fc,    0x301,
    0x35c,   0x361,   0x3dc,   0x3e1,   0xb08,   0xb19,   0xb48,   0xb81,    0xb94,
    0xbb1,   0xbb4,   0xbb9,   0xbbc,   0xdc1,   0xdd4,   0xdd9,   0xdf8,    0xdfd,
    0xe10,   0xe19,   0xe1c,   0xe21,   0xfd8,   0xfdd,   0x1208,  0x1229,   0x1568,
    0x1581,  0x1624,  0x1741,  0x17cc,  0x1881,  0x192c,  0x1982,  0x19a8,   0x19b9,
    0x19c0,  0x19c5,  0x1b50,  0x1b55,  0x1b58,  0x1b95,  0x1b9c,  0x1bb9,   0x1bc2,
    0x1be9,  0x1bf4,  0x1bfd,  0x1c00,  0x1c41,  0x1c44,  0x1c49,  0x1cc0,   0x1d35,
    0x1e98,  0x1ec5,  0x1f02,  0x1f29,  0x1fac,  0x1fd1,  0x1fd8,  0x1fe9,   0x1ff4,
    0x2001,  0x2058,  0x2069,  0x206c,  0x2091,  0x2094,  0x20a1,  0x20a4,   0x2101,
    0x2164,  0x2181,  0x2220,  0x2225,  0x2240,  0x2281,  0x2328,  0x2411,   0x24e8,
    0x24f5,  0x24f8,  0x2541,  0x2544,  0x2561,  0x2588,  0x259a,  0x25c0,   0x25c5,
    0x2604,  0x2615,  0x26f0,  0x26f5,  0x26f8,  0x2739,  0x275c,  0x2771,   0x2788,
    0x279a,  0x27c1,  0x27c8,  0x27d2,  0x27e8,  0x27f1,  0x27f4,  0x2815,   0x28f0,
    0x2965,  0x299a,  0x29c0,  0x29c9,  0x29d4,  0x2a15,  0x2af0,  0x2af5,   0x2af8,
    0x2b41,  0x2b88,  0x2b9a,  0x2bc0,  0x2be5,  0x2be8,  0x2c15,  0x2cf0,   0x2cf5,
    0x2cf8,  0x2d71,  0x2d88,  0x2d9a,  0x2dc0,  0x2dc5,  0x2dca,  0x2e08,   0x2e0d,
    0x2ef8,  0x2f41,  0x2f5c,  0x2f9a,  0x2fcc,  0x3015,  0x30f0,  0x30f5,   0x30f8,
    0x3161,  0x3188,  0x319a,  0x31dc,  0x31e2,  0x31fc,  0x3201,  0x3204,   0x3215,
    0x32f0,  0x32f5,  0x32f8,  0x3375,  0x3388,  0x339a,  0x33c5,  0x3400,   0x3411,
    0x34ec,  0x34f5,  0x34f8,  0x3539,  0x353c,  0x3551,  0x355c,  0x3562,   0x357d,
    0x3588,  0x359a,  0x35e4,  0x35e9,  0x3604,  0x3615,  0x3728,  0x379a,   0x37c8,
    0x3805,  0x38c4,  0x38c9,  0x38d0,  0x3901,  0x391c,  0x3942,  0x3968,   0x3a05,
    0x3ac4,  0x3ac9,  0x3ad0,  0x3af5,  0x3b20,  0x3b42,  0x3b71,  0x3c04,   0x3c82,
    0x3cd0,  0x3d01,  0x3dc4,  0x3e21,  0x3e34,  0x4001,  0x40ac,  0x40fd,   0x4102,
    0x4128,  0x4141,  0x4158,  0x4169,  0x4178,  0x4185,  0x4188,  0x4195,   0x419c,
    0x41b9,  0x41c4,  0x41d5,  0x4208,  0x4239,  0x423c,  0x4242,  0x4268,   0x4281,
    0x43ec,  0x43f1,  0x4d74,  0x4da6,  0x4e01,  0x4e40,  0x4e81,  0x5000,   0x5005,
    0x59b4,  0x59bd,  0x5a03,  0x5a05,  0x5a6c,  0x5a81,  0x5bac,  0x5bba,   0x5bc5,
    0x5c48,  0x5c7d,  0x5cc8,  0x5d01,  0x5d48,  0x5d81,  0x5dc8,  0x5e01,   0x5ed0,
    0x5f5d,  0x5f60,  0x5f71,  0x5f74,  0x5f82,  0x6000,  0x6042,  0x6081,   0x6214,
    0x621d,  0x62a4,  0x62a9,  0x6480,  0x651a,  0x6541,  0x6742,  0x6778,   0x6801,
    0x685c,  0x6881,  0x6954,  0x6a02,  0x6a80,  0x6a9d,  0x6aa0,  0x6c15,   0x6cd0,
    0x6d15,  0x6d42,  0x6d68,  0x6e0d,  0x6e84,  0x6eb9,  0x6ec2,  0x6ee9,   0x6f98,
    0x7001,  0x7090,  0x7102,  0x7135,  0x7142,  0x7169,  0x71f8,  0x7201,   0x7300,
    0x73a5,  0x73b4,  0x73b9,  0x73d0,  0x73d5,  0x73dc,  0x73e9,  0x7700,   0x7801,
    0x7ef4,  0x7ef9,  0x7efc,  0x7f09,  0x7f34,  0x7f41,  0x7f74,  0x7f81,   0x7fb4,
    0x7fc9,  0x7ff4,  0x8003,  0x802c,  0x80a3,  0x80a8,  0x80bf,  0x80c0,   0x817f,
    0x8180,  0x81c2,  0x81c5,  0x81d2,  0x81e8,  0x81fd,  0x8202,  0x8228,   0x8241,
    0x8280,  0x8409,  0x840c,  0x841d,  0x8420,  0x8429,  0x8450,  0x8455,   0x8458,
    0x8465,  0x8478,  0x8491,  0x8494,  0x8499,  0x849c,  0x84a1,  0x84a4,   0x84a9,
    0x84b8,  0x84bd,  0x84e8,  0x84f1,  0x8500,  0x8515,  0x8528,  0x8539,   0x853c,
    0x8542,  0x860d,  0x8616,  0x8628,  0x9182,  0x9270,  0x93aa,  0x9400,   0x9dda,
    0x9e50,  0xb001,  0xb394,  0xb3ad,  0xb3bc,  0xb3c9,  0xb3e4,  0xb3f6,   0xb3f8,
    0xb401,  0xb5c0,  0xb601,  0xb780,  0xb8bd,  0xb8c0,  0xc003,  0xc004,   0xc015,
    0xc01e,  0xc020,  0xc086,  0xc0a8,  0xc0c5,  0xc0d8,  0xc0e2,  0xc0ed,   0xc0f4,
    0xc105,  0xc264,  0xc275,  0xc280,  0xc285,  0xc3ec,  0xc3f1,  0xc640,   0xc64a,
    0xc658,  0xc681,  0xc700,  0xc7c1,  0xc800,  0xc882,  0xc8a8,  0xc922,   0xc940,
    0xc946,  0xc980,  0xca02,  0xca28,  0xcac6,  0xcb00,  0xd001,  0x13700,  0x13801,
    0x29240, 0x29341, 0x293f8, 0x29401, 0x29834, 0x29841, 0x29882, 0x298a9,  0x299bc,
    0x299fd, 0x29a78, 0x29a81, 0x29b9a, 0x29bc0, 0x29c5d, 0x29c80, 0x29c89,  0x29e24,
    0x29e2d, 0x2a008, 0x2a00d, 0x2a018, 0x2a01d, 0x2a02c, 0x2a031, 0x2a08c,  0x2a0c2,
    0x2a0d8, 0x2a101, 0x2a1d0, 0x2a209, 0x2a2d0, 0x2a342, 0x2a380, 0x2a3c9,  0x2a3e0,
    0x2a3ed, 0x2a3f0, 0x2a3f5, 0x2a3fc, 0x2a402, 0x2a429, 0x2a498, 0x2a4c1,  0x2a51c,
    0x2a581, 0x2a600, 0x2a611, 0x2a6cc, 0x2a73d, 0x2a742, 0x2a778, 0x2a781,  0x2a794,
    0x2a799, 0x2a7c2, 0x2a7e9, 0x2a8a4, 0x2a901, 0x2a90c, 0x2a911, 0x2a930,  0x2a942,
    0x2a970, 0x2a981, 0x2a9dc, 0x2a9e9, 0x2a9ec, 0x2a9f9, 0x2aac0, 0x2aac5,  0x2aac8,
    0x2aad5, 0x2aadc, 0x2aae5, 0x2aaf8, 0x2ab01, 0x2ab04, 0x2ab09, 0x2ab78,  0x2ab81,
    0x2abac, 0x2abc9, 0x2abd4, 0x2ac05, 0x2ad6c, 0x2ad71, 0x2ada8, 0x2adc1,  0x2af8c,
    0x2afc2, 0x2b001, 0x36000, 0x3e401, 0x3ec78, 0x3ec7d, 0x3eca4, 0x3eca9,  0x3eec8,
    0x3ef4d, 0x3f4f8, 0x3f541, 0x3f73c, 0x3f7c1, 0x3f7f0, 0x3f9c1, 0x3fbfc,  0x3fc42,
    0x3fc68, 0x3fc85, 0x3fcec, 0x3fd05, 0x3fd6c, 0x3fd99, 0x3ff80, 0x40001,  0x40400,
    0x4041e, 0x404dc, 0x40502, 0x405e4, 0x4062a, 0x40630, 0x40a01, 0x40b80,  0x40b86,
    0x40c01, 0x40c82, 0x40cb5, 0x40d06, 0x40d09, 0x40d2a, 0x40d41, 0x40dd8,  0x40e01,
    0x40e7c, 0x40e81, 0x40f40, 0x40f46, 0x41001, 0x41282, 0x412c1, 0x415bc,  0x415c1,
    0x4215c, 0x42162, 0x42181, 0x421dc, 0x421e6, 0x42201, 0x4229e, 0x42381,  0x423ee,
    0x42401, 0x4245a, 0x4247c, 0x42481, 0x424fc, 0x42601, 0x426f2, 0x426f9,  0x42702,
    0x42801, 0x42804, 0x42841, 0x428e0, 0x42902, 0x42940, 0x42981, 0x429f6,  0x429fc,
    0x42a01, 0x42a76, 0x42b01, 0x42b20, 0x42b25, 0x42b94, 0x42bae, 0x42bc0,  0x42c01,
    0x42ce4, 0x42d01, 0x42d62, 0x42d81, 0x42de2, 0x42e01, 0x42e64, 0x42ea6,  0x43001,
    0x433ea, 0x43401, 0x43490, 0x434c2, 0x43a01, 0x43aac, 0x43ac1, 0x43c76,  0x43c9d,
    0x43d18, 0x43d46, 0x43d54, 0x43dc1, 0x43e08, 0x43ec1, 0x43f16, 0x43f81,  0x44000,
    0x4400d, 0x440e0, 0x4414a, 0x441c0, 0x441c5, 0x441cc, 0x441d5, 0x441fc,  0x4420d,
    0x442c0, 0x44341, 0x443c2, 0x44400, 0x4440d, 0x4449c, 0x444da, 0x44500,  0x44511,
    0x44514, 0x4451d, 0x445cc, 0x445d9, 0x44600, 0x4460d, 0x446cc, 0x44705,  0x44714,
    0x44742, 0x44769, 0x4476c, 0x44771, 0x44774, 0x44786, 0x44801, 0x448b0,  0x44a01,
    0x44aa4, 0x44ac1, 0x44b7c, 0x44bc2, 0x44c00, 0x44c15, 0x44cec, 0x44cf5,  0x44cf8,
    0x44d41, 0x44d5c, 0x44d75, 0x44d88, 0x45001, 0x450d4, 0x4511d, 0x4512c,  0x45142,
    0x45168, 0x4517d, 0x452c0, 0x45311, 0x45318, 0x4531d, 0x45342, 0x45601,  0x456bc,
    0x45761, 0x45770, 0x45801, 0x458c0, 0x45911, 0x45942, 0x45980, 0x45a01,  0x45aac,
    0x45ae1, 0x45ae4, 0x45b02, 0x45c01, 0x45c74, 0x45cc2, 0x45cf0, 0x45d01,  0x460b0,
    0x46281, 0x46382, 0x463fd, 0x464c0, 0x464fd, 0x46500, 0x46505, 0x46508,  0x46542,
    0x46681, 0x46744, 0x46785, 0x46788, 0x4678d, 0x46790, 0x46801, 0x46804,  0x4682d,
    0x468cc, 0x468e9, 0x468ec, 0x46941, 0x46944, 0x46971, 0x46a28, 0x46a75,  0x46a78,
    0x46ac1, 0x470bc, 0x47101, 0x47104, 0x47142, 0x471c0, 0x471c9, 0x47248,  0x47401,
    0x474c4, 0x47519, 0x4751c, 0x47542, 0x47581, 0x47628, 0x47661, 0x47682,  0x47b81,
    0x47bcc, 0x47ec1, 0x47f02, 0x47f54, 0x48001, 0x49002, 0x491c0, 0x49201,  0x4bfc4,
    0x4c001, 0x4d0c0, 0x51001, 0x5a982, 0x5a9b8, 0x5a9c1, 0x5ab02, 0x5ab41,  0x5abc0,
    0x5ac01, 0x5acc0, 0x5ad01, 0x5ad10, 0x5ad42, 0x5ad8d, 0x5ba02, 0x5ba5c,  0x5bc01,
    0x5bd3c, 0x5bd41, 0x5bd44, 0x5be4d, 0x5bf88, 0x5bf8d, 0x5bf90, 0x5c001,  0x6f270,
    0x74b82, 0x74c00, 0x74d82, 0x75001, 0x75b04, 0x75b09, 0x75b6c, 0x75b71,  0x75bec,
    0x75bf1, 0x75c54, 0x75c59, 0x75cd4, 0x75cd9, 0x75d3c, 0x75d41, 0x75dbc,  0x75dc1,
    0x75e24, 0x75e29, 0x75ea4, 0x75ea9, 0x75f0c, 0x75f11, 0x75f3a, 0x76000,  0x77c01,
    0x78000, 0x78401, 0x784c0, 0x784dd, 0x78502, 0x78539, 0x7853c, 0x78a41,  0x78ab8,
    0x78b01, 0x78bb0, 0x78bc2, 0x78bfc, 0x79f81, 0x7a31e, 0x7a340, 0x7a401,  0x7a510,
    0x7a52d, 0x7a542, 0x7a578, 0x7b1c6, 0x7b2b0, 0x7b2b6, 0x7b2c0, 0x7b2c6,  0x7b4b8,
    0x7b4be, 0x7b801, 0x7bbc0, 0x7c402, 0x7c434, 0x7efc2, 0x80001, 0x380004,
};

CharClass classOf(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
      return Letter;
    if (cp >= '0' && cp <= '9')
      return Number;
    if (cp == ' ' || (cp >= '\t' && cp <= '\r'))
      return Space;
    return Other;
  }
  const uint32_t *run =
      std::upper_bound(std::begin(kClassRuns), std::end(kClassRuns), cp << 2 | 3);
  return CharClass(run[-1] & 3); // kClassRuns[0] starts at U+0000
}

constexpr uint32_t kInvalid = UINT32_MAX;

/// The code point at `s[i]` and its length in bytes; a byte that does not
/// start a valid, shortest-form UTF-8 sequence is `kInvalid`, one byte long.
std::pair<uint32_t, unsigned> decodeUtf8(llvm::StringRef s, size_t i) {
  uint8_t b = uint8_t(s[i]);
  if (b < 0x80)
    return {b, 1};
  unsigned n;
  uint32_t cp, min;
  if ((b & 0xE0) == 0xC0) {
    n = 2, cp = b & 0x1F, min = 0x80;
  } else if ((b & 0xF0) == 0xE0) {
    n = 3, cp = b & 0x0F, min = 0x800;
  } else if ((b & 0xF8) == 0xF0) {
    n = 4, cp = b & 0x07, min = 0x10000;
  } else {
    return {kInvalid, 1};
  }
  if (s.size() - i < n)
    return {kInvalid, 1};
  for (unsigned k = 1; k < n; ++k) {
    uint8_t c = uint8_t(s[i + k]);
    if ((c & 0xC0) != 0x80)
      return {kInvalid, 1};
    cp = cp << 6 | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return {kInvalid, 1};
  return {cp, n};
}

//===----------------------------------------------------------------------===//
// GPT-2's byte alphabet
//===----------------------------------------------------------------------===//

/// GPT-2's bytes_to_unicode(): the printable Latin-1 bytes ('!'..'~',
/// U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves; the other 68 (the
/// controls, space, DEL..NBSP, soft hyphen) for U+0100.. in byte order, so a
/// space is 'Ġ' (U+0120) and a newline 'Ċ' (U+010A).
struct ByteAlphabet {
  std::array<std::string, 256> symbol;  ///< UTF-8 of each byte's code point
  std::array<int16_t, 256 + 68> byteOf; ///< code point -> byte, or -1

  ByteAlphabet() {
    byteOf.fill(-1);
    uint32_t next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      bool printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      uint32_t cp = printable ? b : next++;
      byteOf[cp] = int16_t(b);
      if (cp < 0x80)
        symbol[b] = std::string(1, char(cp));
      else
        symbol[b] = {char(0xC0 | cp >> 6), char(0x80 | (cp & 0x3F))};
    }
  }
};

const ByteAlphabet &alphabet() {
  static const ByteAlphabet a;
  return a;
}

/// The bytes a vocabulary spelling stands for. A spelling with a character
/// outside the byte alphabet is taken as its own UTF-8, as Hugging Face's
/// ByteLevel decoder does.
std::string spellingToBytes(llvm::StringRef spelling) {
  const ByteAlphabet &a = alphabet();
  std::string out;
  for (size_t i = 0; i < spelling.size();) {
    auto [cp, n] = decodeUtf8(spelling, i);
    if (cp >= a.byteOf.size() || a.byteOf[cp] < 0)
      return spelling.str();
    out += char(a.byteOf[cp]);
    i += n;
  }
  return out;
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

llvm::Expected<nlohmann::json> readJson(llvm::StringRef path) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf)
    return fail(path + ": " + buf.getError().message());
  nlohmann::json j = nlohmann::json::parse((*buf)->getBuffer().begin(),
                                           (*buf)->getBuffer().end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded())
    return fail(path + ": not valid JSON");
  if (!j.is_object())
    return fail(path + ": expected a JSON object");
  return j;
}

/// `j[key]` if `j` is an object that has it and it is not null.
const nlohmann::json *member(const nlohmann::json &j, const char *key) {
  if (!j.is_object())
    return nullptr;
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

/// The "type" of a tokenizer.json component, or "?".
std::string typeOf(const nlohmann::json &j) {
  const nlohmann::json *t = member(j, "type");
  return t && t->is_string() ? t->get<std::string>() : "?";
}

/// A JSON integer as an id; anything out of range becomes -1.
int64_t idOf(const nlohmann::json &j) {
  if (j.is_number_unsigned())
    return j.get<uint64_t>() < uint64_t(kMaxId) ? int64_t(j.get<uint64_t>()) : -1;
  int64_t v = j.get<int64_t>();
  return v < kMaxId ? v : -1;
}

bool isAsciiSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

} // namespace

//===----------------------------------------------------------------------===//
// Pre-tokenization
//===----------------------------------------------------------------------===//

std::vector<llvm::StringRef> ByteLevelBPETokenizer::preTokenize(llvm::StringRef text) {
  struct Char {
    uint32_t cp;
    CharClass cls;
    size_t offset;
  };
  std::vector<Char> cs;
  for (size_t i = 0; i < text.size();) {
    auto [cp, n] = decodeUtf8(text, i);
    cs.push_back({cp, cp == kInvalid ? Other : classOf(cp), i});
    i += n;
  }
  size_t n = cs.size();
  auto is = [&](size_t k, char c) { return k < n && cs[k].cp == uint32_t(c); };
  std::vector<llvm::StringRef> words;
  for (size_t i = 0, j; i < n; i = j) {
    if (is(i, '\'') &&
        (is(i + 1, 's') || is(i + 1, 't') || is(i + 1, 'm') || is(i + 1, 'd'))) {
      j = i + 2; // 's 't 'm 'd
    } else if (is(i, '\'') && ((is(i + 1, 'r') && is(i + 2, 'e')) ||
                               (is(i + 1, 'v') && is(i + 2, 'e')) ||
                               (is(i + 1, 'l') && is(i + 2, 'l')))) {
      j = i + 3; // 're 've 'll
    } else {
      // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then
      // a run of one class.
      size_t k = is(i, ' ') && i + 1 < n && cs[i + 1].cls != Space ? i + 1 : i;
      if (cs[k].cls != Space) {
        j = k + 1;
        while (j < n && cs[j].cls == cs[k].cls)
          ++j;
      } else {
        // `\s+(?!\S)` leaves the last of several spaces before a non-space
        // to the word after it; `\s+` takes a lone one.
        j = i + 1;
        while (j < n && cs[j].cls == Space)
          ++j;
        if (j < n && j - i > 1)
          --j;
      }
    }
    words.push_back(text.slice(cs[i].offset, j < n ? cs[j].offset : text.size()));
  }
  return words;
}

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

ByteLevelBPETokenizer::ByteLevelBPETokenizer() { byteIds_.fill(-1); }

llvm::Error ByteLevelBPETokenizer::addVocab(llvm::StringRef spelling, int64_t id,
                                            llvm::StringRef where) {
  if (spelling.empty())
    return fail(where + ": a token is the empty string");
  assert(id >= 0 && id < kMaxId && "ids are checked by the readers");
  if (size_t(id) >= pieces_.size())
    pieces_.resize(size_t(id) + 1);
  if (!pieces_[id].empty())
    return fail(where + ": token '" + spelling + "' has id " + llvm::Twine(id) +
                ", already used by '" + pieces_[id] + "'");
  pieces_[id] = spelling.str();
  idOf_[spelling] = int32_t(id);
  return llvm::Error::success();
}

llvm::Error ByteLevelBPETokenizer::addMerge(llvm::StringRef a, llvm::StringRef b,
                                            int32_t rank, llvm::StringRef where) {
  int32_t ids[3];
  std::string merged = (a + b).str();
  llvm::StringRef symbols[3] = {a, b, merged};
  for (int k = 0; k < 3; ++k) {
    auto it = idOf_.find(symbols[k]);
    if (it == idOf_.end())
      return fail(where + ": '" + symbols[k] + "' is not in the vocabulary" +
                  (k == 2 ? " (merging '" + a + "' and '" + b + "')" : llvm::Twine()));
    ids[k] = it->second;
  }
  // A later duplicate wins, as in GPT-2's encoder.py and Hugging Face.
  merges_[uint64_t(ids[0]) << 32 | uint32_t(ids[1])] = {rank, ids[2]};
  return llvm::Error::success();
}

llvm::Error ByteLevelBPETokenizer::addAddedToken(AddedToken tok, llvm::StringRef where) {
  if (tok.content.empty())
    return fail(where + ": \"content\" is empty");
  for (const AddedToken &t : added_) {
    if (t.id == tok.id && t.content != tok.content)
      return fail(where + ": id " + llvm::Twine(tok.id) + " is used by both '" +
                  t.content + "' and '" + tok.content + "'");
    if (t.content == tok.content)
      return fail(where + ": '" + tok.content + "' is added twice");
  }
  if (size_t(tok.id) >= pieces_.size())
    pieces_.resize(size_t(tok.id) + 1);
  if (pieces_[tok.id].empty())
    pieces_[tok.id] = tok.content;
  added_.push_back(std::move(tok));
  return llvm::Error::success();
}

int32_t ByteLevelBPETokenizer::find(llvm::StringRef content) const {
  for (const AddedToken &t : added_)
    if (t.content == content)
      return t.id;
  auto it = idOf_.find(content);
  return it == idOf_.end() ? -1 : it->second;
}

void ByteLevelBPETokenizer::finish() {
  bytes_.resize(pieces_.size());
  for (size_t id = 0; id < pieces_.size(); ++id)
    bytes_[id] = spellingToBytes(pieces_[id]);
  for (const AddedToken &t : added_)
    bytes_[t.id] = t.content;
  for (unsigned b = 0; b < 256; ++b) {
    auto it = idOf_.find(alphabet().symbol[b]);
    byteIds_[b] = it == idOf_.end() ? -1 : it->second;
  }
  // Longest first, so that the first match at a position is the longest.
  // (Two tokens of one length cannot both match at one place.)
  std::sort(added_.begin(), added_.end(), [](const AddedToken &x, const AddedToken &y) {
    return x.content.size() > y.content.size();
  });
  int32_t s = find("<s>"), es = find("</s>"), eot = find("<|endoftext|>");
  if (s == 0 && es == 2) { // fairseq's dictionary: OPT
    bos_ = eos_ = es;
    addsBos_ = true;
  } else if (eot >= 0) { // GPT-2
    bos_ = eos_ = eot;
  } else {
    bos_ = s >= 0 ? s : es;
    eos_ = es;
  }
}

/// Reads {"token": id, ...}; `file` prefixes errors.
static llvm::Error
readVocab(const nlohmann::json &vocab, llvm::StringRef file,
          llvm::function_ref<llvm::Error(llvm::StringRef, int64_t)> add) {
  if (vocab.empty())
    return fail(file + ": the vocabulary is empty");
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it->is_number_integer())
      return fail(file + ": token '" + it.key() + "' has id " + it->dump() +
                  ", not an integer");
    if (idOf(*it) < 0)
      return fail(file + ": token '" + it.key() + "' has id " + it->dump() +
                  ", outside [0, " + llvm::Twine(kMaxId) + ")");
    if (llvm::Error e = add(it.key(), idOf(*it)))
      return e;
  }
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<ByteLevelBPETokenizer>>
ByteLevelBPETokenizer::loadGpt2(llvm::StringRef vocabJson, llvm::StringRef mergesTxt) {
  auto tok = std::unique_ptr<ByteLevelBPETokenizer>(new ByteLevelBPETokenizer());
  auto vocab = readJson(vocabJson);
  if (!vocab)
    return vocab.takeError();
  if (llvm::Error e = readVocab(*vocab, vocabJson, [&](llvm::StringRef s, int64_t id) {
        return tok->addVocab(s, id, vocabJson);
      }))
    return e;

  auto buf = llvm::MemoryBuffer::getFile(mergesTxt, /*IsText=*/true);
  if (!buf)
    return fail(mergesTxt + ": " + buf.getError().message());
  llvm::StringRef rest = (*buf)->getBuffer();
  int32_t rank = 0;
  for (unsigned lineNo = 1; !rest.empty(); ++lineNo) {
    llvm::StringRef line;
    std::tie(line, rest) = rest.split('\n');
    line.consume_back("\r");
    if ((lineNo == 1 && line.starts_with("#version")) || line.empty())
      continue;
    std::string where = (mergesTxt + ":" + llvm::Twine(lineNo)).str();
    auto [a, b] = line.split(' ');
    if (a.empty() || b.empty() || b.contains(' '))
      return fail(where + ": expected two symbols separated by a space");
    if (llvm::Error e = tok->addMerge(a, b, rank++, where))
      return e;
  }

  // What Hugging Face's GPT-2 and OPT tokenizers treat as special.
  bool fairseq = tok->find("<s>") == 0 && tok->find("</s>") == 2;
  for (const char *name : {"<|endoftext|>", "<s>", "<pad>", "</s>", "<unk>"}) {
    int32_t id = tok->find(name);
    if (id >= 0 && (fairseq || llvm::StringRef(name) == "<|endoftext|>"))
      tok->added_.push_back({name, id, false, false});
  }
  tok->unk_ = tok->find("<unk>");
  tok->finish();
  return tok;
}

/// The id of the special token a post-processor puts before the text, or -1.
static int64_t bosOfPostProcessor(const nlohmann::json &pp,
                                  llvm::function_ref<int32_t(llvm::StringRef)> find) {
  std::string type = typeOf(pp);
  if (type == "Sequence") {
    const nlohmann::json *procs = member(pp, "processors");
    if (procs && procs->is_array())
      for (const nlohmann::json &p : *procs)
        if (int64_t id = bosOfPostProcessor(p, find); id >= 0)
          return id;
    return -1;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    const nlohmann::json *cls = member(pp, "cls");
    if (cls && cls->is_array() && cls->size() == 2 && (*cls)[1].is_number_integer())
      return idOf((*cls)[1]);
    return -1;
  }
  if (type != "TemplateProcessing")
    return -1;
  const nlohmann::json *single = member(pp, "single");
  if (!single || !single->is_array() || single->empty())
    return -1;
  const nlohmann::json *special = member((*single)[0], "SpecialToken");
  const nlohmann::json *name = special ? member(*special, "id") : nullptr;
  if (!name || !name->is_string())
    return -1;
  // "special_tokens": {"</s>": {"id": "</s>", "ids": [2], ...}}
  if (const nlohmann::json *map = member(pp, "special_tokens"))
    if (const nlohmann::json *entry = member(*map, name->get<std::string>().c_str()))
      if (const nlohmann::json *ids = member(*entry, "ids");
          ids && ids->is_array() && ids->size() == 1 && (*ids)[0].is_number_integer())
        return idOf((*ids)[0]);
  return find(name->get<std::string>());
}

llvm::Expected<std::unique_ptr<ByteLevelBPETokenizer>>
ByteLevelBPETokenizer::loadTokenizerJson(llvm::StringRef path) {
  auto j = readJson(path);
  if (!j)
    return j.takeError();
  auto tok = std::unique_ptr<ByteLevelBPETokenizer>(new ByteLevelBPETokenizer());

  const nlohmann::json *model = member(*j, "model");
  if (!model || !model->is_object())
    return fail(path + ": no \"model\" object");
  if (member(*model, "type") && typeOf(*model) != "BPE")
    return fail(path + ": model type '" + typeOf(*model) +
                "' is not supported; sqc reads byte-level BPE");
  for (const char *key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const nlohmann::json *v = member(*model, key);
        v && !(v->is_string() && v->get<std::string>().empty()))
      return fail(path + ": model." + key + " " + v->dump() +
                  " is not supported; sqc reads byte-level BPE");
  if (const nlohmann::json *v = member(*model, "ignore_merges"); v && v->is_boolean())
    tok->ignoreMerges_ = v->get<bool>();

  const nlohmann::json *vocab = member(*model, "vocab");
  if (!vocab || !vocab->is_object())
    return fail(path + ": model.vocab must be an object");
  if (llvm::Error e = readVocab(*vocab, path, [&](llvm::StringRef s, int64_t id) {
        return tok->addVocab(s, id, path);
      }))
    return e;

  const nlohmann::json *merges = member(*model, "merges");
  if (!merges || !merges->is_array())
    return fail(path + ": model.merges must be an array");
  for (size_t i = 0; i < merges->size(); ++i) {
    const nlohmann::json &m = (*merges)[i];
    std::string where = (path + ": model.merges[" + llvm::Twine(i) + "]").str();
    std::string a, b;
    if (m.is_string()) {
      auto [x, y] = llvm::StringRef(m.get_ref<const std::string &>()).split(' ');
      a = x.str(), b = y.str();
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>(), b = m[1].get<std::string>();
    }
    if (a.empty() || b.empty() || llvm::StringRef(b).contains(' '))
      return fail(where + ": expected \"a b\" or [\"a\", \"b\"]");
    if (llvm::Error e = tok->addMerge(a, b, int32_t(i), where))
      return e;
  }
  if (const nlohmann::json *unk = member(*model, "unk_token"); unk && unk->is_string())
    tok->unk_ = tok->find(unk->get<std::string>());

  if (const nlohmann::json *norm = member(*j, "normalizer"))
    return fail(path + ": normalizer '" + typeOf(*norm) +
                "' is not supported; sqc reads byte-level BPE without one");
  // The ByteLevel pre-tokenizer, alone or as a one-element Sequence.
  const nlohmann::json *pre = member(*j, "pre_tokenizer");
  if (pre && typeOf(*pre) == "Sequence") {
    const nlohmann::json *list = member(*pre, "pretokenizers");
    if (list && list->is_array() && list->size() == 1)
      pre = &(*list)[0];
  }
  if (!pre || typeOf(*pre) != "ByteLevel")
    return fail(path + ": pre_tokenizer '" + (pre ? typeOf(*pre) : "none") +
                "' is not supported; sqc splits text as GPT-2's ByteLevel does");
  if (const nlohmann::json *v = member(*pre, "use_regex");
      v && v->is_boolean() && !v->get<bool>())
    return fail(path + ": a ByteLevel pre_tokenizer without use_regex is not "
                       "supported; sqc splits text as GPT-2 does");
  if (const nlohmann::json *v = member(*pre, "add_prefix_space"); v && v->is_boolean())
    tok->addPrefixSpace_ = v->get<bool>();

  if (const nlohmann::json *added = member(*j, "added_tokens")) {
    if (!added->is_array())
      return fail(path + ": added_tokens must be an array");
    for (size_t i = 0; i < added->size(); ++i) {
      const nlohmann::json &t = (*added)[i];
      std::string where = (path + ": added_tokens[" + llvm::Twine(i) + "]").str();
      const nlohmann::json *id = member(t, "id"), *content = member(t, "content");
      if (!id || !id->is_number_integer())
        return fail(where + ": \"id\" must be an integer");
      if (idOf(*id) < 0)
        return fail(where + ": id " + id->dump() + " is outside [0, " +
                    llvm::Twine(kMaxId) + ")");
      if (!content || !content->is_string())
        return fail(where + ": \"content\" must be a string");
      auto flag = [&](const char *key) {
        const nlohmann::json *v = member(t, key);
        return v && v->is_boolean() && v->get<bool>();
      };
      if (llvm::Error e =
              tok->addAddedToken({content->get<std::string>(), int32_t(idOf(*id)),
                                  flag("lstrip"), flag("rstrip")},
                                 where))
        return e;
    }
  }
  tok->finish();

  if (const nlohmann::json *pp = member(*j, "post_processor")) {
    int64_t bos =
        bosOfPostProcessor(*pp, [&](llvm::StringRef s) { return tok->find(s); });
    if (bos >= tok->vocabSize())
      return fail(path + ": post_processor puts id " + llvm::Twine(bos) +
                  " before the text; the vocabulary has " +
                  llvm::Twine(tok->vocabSize()) + " ids");
    if (bos >= 0) {
      tok->bos_ = int32_t(bos);
      tok->addsBos_ = true;
    }
  }
  return tok;
}

//===----------------------------------------------------------------------===//
// Encoding and decoding
//===----------------------------------------------------------------------===//

std::vector<int32_t> ByteLevelBPETokenizer::encodeWord(llvm::StringRef word) const {
  if (ignoreMerges_) {
    std::string spelled;
    for (uint8_t b : word)
      spelled += alphabet().symbol[b];
    if (auto it = idOf_.find(spelled); it != idOf_.end())
      return {it->second};
  }
  std::vector<int32_t> syms;
  syms.reserve(word.size());
  for (uint8_t b : word) {
    if (byteIds_[b] >= 0)
      syms.push_back(byteIds_[b]);
    else if (unk_ >= 0)
      syms.push_back(unk_);
  }
  if (syms.size() < 2)
    return syms;
  // merge[i]: (rank, merged id) of syms[i] and syms[i + 1].
  auto lookup = [&](size_t i) -> std::pair<int32_t, int32_t> {
    auto it = merges_.find(uint64_t(syms[i]) << 32 | uint32_t(syms[i + 1]));
    return it == merges_.end() ? std::pair(INT32_MAX, -1) : it->second;
  };
  std::vector<std::pair<int32_t, int32_t>> merge(syms.size() - 1);
  for (size_t i = 0; i + 1 < syms.size(); ++i)
    merge[i] = lookup(i);
  while (!merge.empty()) {
    size_t best = 0;
    for (size_t i = 1; i < merge.size(); ++i)
      if (merge[i].first < merge[best].first)
        best = i;
    if (merge[best].first == INT32_MAX)
      break;
    syms[best] = merge[best].second;
    syms.erase(syms.begin() + best + 1);
    merge.erase(merge.begin() + best);
    if (best > 0)
      merge[best - 1] = lookup(best - 1);
    if (best + 1 < syms.size())
      merge[best] = lookup(best);
  }
  return syms;
}

void ByteLevelBPETokenizer::encodePlain(llvm::StringRef text, std::vector<int32_t> &out) {
  if (text.empty())
    return;
  std::string prefixed;
  if (addPrefixSpace_ && !text.starts_with(" ")) {
    prefixed = " " + text.str();
    text = prefixed;
  }
  for (llvm::StringRef word : preTokenize(text)) {
    std::string key = word.str();
    auto it = memo_.find(key);
    if (it == memo_.end()) {
      if (memo_.size() >= kMemoLimit)
        memo_.clear();
      it = memo_.emplace(std::move(key), encodeWord(word)).first;
    }
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
}

std::vector<int32_t> ByteLevelBPETokenizer::encode(llvm::StringRef text, bool bos) {
  std::vector<int32_t> out;
  if (bos && bos_ >= 0)
    out.push_back(bos_);
  std::array<bool, 256> starts{};
  for (const AddedToken &t : added_)
    starts[uint8_t(t.content[0])] = true;
  size_t plain = 0; // start of the text not yet encoded
  for (size_t i = 0; i < text.size();) {
    const AddedToken *hit = nullptr;
    if (starts[uint8_t(text[i])])
      for (const AddedToken &t : added_)
        if (text.substr(i).starts_with(t.content)) {
          hit = &t;
          break;
        }
    if (!hit) {
      ++i;
      continue;
    }
    size_t end = i, next = i + hit->content.size();
    if (hit->lstrip)
      while (end > plain && isAsciiSpace(text[end - 1]))
        --end;
    if (hit->rstrip)
      while (next < text.size() && isAsciiSpace(text[next]))
        ++next;
    encodePlain(text.slice(plain, end), out);
    out.push_back(hit->id);
    plain = i = next;
  }
  encodePlain(text.substr(plain), out);
  return out;
}

std::string ByteLevelBPETokenizer::decode(int32_t prev, int32_t id) const {
  if (id < 0 || size_t(id) >= bytes_.size())
    return "";
  return bytes_[id];
}

llvm::StringRef ByteLevelBPETokenizer::piece(int32_t id) const {
  if (id < 0 || size_t(id) >= pieces_.size())
    return "";
  return pieces_[id];
}

} // namespace sqc
