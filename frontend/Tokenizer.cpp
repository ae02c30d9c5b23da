//===- frontend/Tokenizer.cpp - llama2.c tokenizer ------------------------===//
#include "frontend/Tokenizer.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

namespace sqc {

llvm::Expected<std::unique_ptr<Llama2cTokenizer>>
Llama2cTokenizer::load(llvm::StringRef path) {
  auto fail = [&](const llvm::Twine &msg) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": " + msg);
  };
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!buf)
    return fail(buf.getError().message());
  llvm::StringRef data = (*buf)->getBuffer();
  if (data.size() < 4)
    return fail("not a llama2.c tokenizer: shorter than its 4-byte header");
  int32_t maxLen;
  std::memcpy(&maxLen, data.data(), 4);
  if (maxLen <= 0 || maxLen > 1 << 16)
    return fail("max_token_length " + llvm::Twine(maxLen) + " is not plausible");
  auto tok = std::unique_ptr<Llama2cTokenizer>(new Llama2cTokenizer());
  size_t p = 4;
  while (p < data.size()) {
    if (data.size() - p < 8)
      return fail("truncated at token " + llvm::Twine(tok->pieces_.size()));
    float score;
    int32_t len;
    std::memcpy(&score, data.data() + p, 4);
    std::memcpy(&len, data.data() + p + 4, 4);
    p += 8;
    if (len < 0 || len > maxLen || size_t(len) > data.size() - p)
      return fail("token " + llvm::Twine(tok->pieces_.size()) + " has length " +
                  llvm::Twine(len) + " (max_token_length " + llvm::Twine(maxLen) +
                  ", " + llvm::Twine(data.size() - p) + " bytes left)");
    tok->pieces_.emplace_back(data.data() + p, size_t(len));
    tok->scores_.push_back(score);
    p += len;
  }
  if (tok->pieces_.size() < 3)
    return fail("has " + llvm::Twine(tok->pieces_.size()) +
                " tokens; <unk>, BOS and EOS are required");
  // Later duplicates do not shadow earlier ids, as in run.c's sorted lookup.
  for (size_t i = 0; i < tok->pieces_.size(); ++i)
    tok->idOf_.try_emplace(tok->pieces_[i], int32_t(i));
  for (const std::string &p : tok->pieces_)
    tok->chunkable_ &= p.find(' ', 1) == std::string::npos;
  tok->byteFallback_ =
      tok->pieces_.size() >= 259 && tok->idOf_.count("<0x00>") != 0;
  return tok;
}

std::vector<int32_t> Llama2cTokenizer::encodeChunk(llvm::StringRef chunk) const {
  std::vector<int32_t> toks;
  // One piece per UTF-8 character: a lead byte and its continuation bytes.
  for (size_t i = 0; i < chunk.size();) {
    size_t n = 1;
    while (i + n < chunk.size() && n < 4 && (uint8_t(chunk[i + n]) & 0xC0) == 0x80)
      ++n;
    llvm::StringRef ch = chunk.substr(i, n);
    auto it = idOf_.find(ch);
    if (it != idOf_.end())
      toks.push_back(it->second);
    else if (byteFallback_)
      for (unsigned char b : ch)
        toks.push_back(int32_t(b) + 3);
    else
      toks.push_back(0);
    i += n;
  }
  std::string pair;
  while (true) {
    float best = -1e10f;
    int bestIdx = -1, bestId = -1;
    for (size_t i = 0; i + 1 < toks.size(); ++i) {
      pair = pieces_[toks[i]] + pieces_[toks[i + 1]];
      auto it = idOf_.find(pair);
      if (it != idOf_.end() && scores_[it->second] > best) {
        best = scores_[it->second];
        bestIdx = int(i);
        bestId = it->second;
      }
    }
    if (bestIdx < 0)
      return toks;
    toks[bestIdx] = bestId;
    toks.erase(toks.begin() + bestIdx + 1);
  }
}

std::vector<int32_t> Llama2cTokenizer::encode(llvm::StringRef text, bool bos) {
  std::vector<int32_t> out;
  if (bos)
    out.push_back(bosId());
  if (text.empty())
    return out;
  // No piece has a space after its first byte, so merges never cross the
  // start of a space-led chunk: chunks encode independently (and repeat a
  // lot, hence the memo).
  std::string s = " " + text.str();
  if (!chunkable_) {
    std::vector<int32_t> all = encodeChunk(s);
    out.insert(out.end(), all.begin(), all.end());
    return out;
  }
  size_t start = 0;
  for (size_t i = 1; i <= s.size(); ++i) {
    if (i < s.size() && s[i] != ' ')
      continue;
    std::string chunk = s.substr(start, i - start);
    auto it = memo_.find(chunk);
    if (it == memo_.end())
      it = memo_.emplace(chunk, encodeChunk(chunk)).first;
    out.insert(out.end(), it->second.begin(), it->second.end());
    start = i;
  }
  return out;
}

std::string Llama2cTokenizer::decode(int32_t prev, int32_t id) const {
  if (id < 0 || id >= vocabSize())
    return "";
  llvm::StringRef piece = pieces_[id];
  // run.c: after BOS, a leading space is dropped; <0xXX> is a raw byte.
  if (prev == bosId() && piece.starts_with(" "))
    piece = piece.drop_front();
  if (piece.size() == 6 && piece.starts_with("<0x") && piece.ends_with(">")) {
    unsigned byte;
    if (!piece.substr(3, 2).getAsInteger(16, byte))
      return std::string(1, char(byte));
  }
  return piece.str();
}

llvm::Error writeLlama2cTokenizer(llvm::StringRef path,
                                  llvm::ArrayRef<std::string> pieces,
                                  llvm::ArrayRef<float> scores) {
  int32_t maxLen = 1;
  for (const std::string &p : pieces)
    maxLen = std::max<int32_t>(maxLen, int32_t(p.size()));
  return llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
    os.write(reinterpret_cast<const char *>(&maxLen), 4);
    for (size_t i = 0; i < pieces.size(); ++i) {
      float score = i < scores.size() ? scores[i] : 0.0f;
      int32_t len = int32_t(pieces[i].size());
      os.write(reinterpret_cast<const char *>(&score), 4);
      os.write(reinterpret_cast<const char *>(&len), 4);
      os << pieces[i];
    }
    return llvm::Error::success();
  });
}

} // namespace sqc
