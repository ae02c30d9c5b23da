//===- runtime/SafeTensors.cpp - Reading and writing .safetensors ---------===//
#include "runtime/SafeTensors.h"

#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <map>

namespace sqc {

namespace {

/// Headers larger than this are refused (the reference implementation uses
/// the same 100 MB bound): a corrupt length must not make us allocate.
constexpr uint64_t kMaxHeaderSize = 100u << 20;

std::optional<StDType> parseStDType(llvm::StringRef s) {
  if (s == "F32") return StDType::F32;
  if (s == "F16") return StDType::F16;
  if (s == "BF16") return StDType::BF16;
  if (s == "I8") return StDType::I8;
  if (s == "U8") return StDType::U8;
  if (s == "I32") return StDType::I32;
  if (s == "I64") return StDType::I64;
  if (s == "F64") return StDType::F64;
  return std::nullopt;
}

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023;
  float f;
  if (exp == 0) {
    f = std::ldexp(float(man), -24); // zero and subnormals
    return sign ? -f : f;
  }
  uint32_t bits = exp == 31 ? (sign | 0x7f800000u | (man << 13))
                            : (sign | ((exp + 112) << 23) | (man << 13));
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16ToFloat(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <typename T> T readLE(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof(T)); // x86-64 and aarch64 are little-endian
  return v;
}

} // namespace

unsigned stDTypeSize(StDType t) {
  switch (t) {
  case StDType::F32: case StDType::I32: return 4;
  case StDType::F16: case StDType::BF16: return 2;
  case StDType::I8: case StDType::U8: return 1;
  case StDType::I64: case StDType::F64: return 8;
  }
  return 0;
}

llvm::StringRef stDTypeName(StDType t) {
  switch (t) {
  case StDType::F32: return "F32";
  case StDType::F16: return "F16";
  case StDType::BF16: return "BF16";
  case StDType::I8: return "I8";
  case StDType::U8: return "U8";
  case StDType::I32: return "I32";
  case StDType::I64: return "I64";
  case StDType::F64: return "F64";
  }
  return "?";
}

int64_t SafeTensorInfo::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

llvm::Expected<std::unique_ptr<SafeTensorsFile>>
SafeTensorsFile::open(llvm::StringRef path) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!buf)
    return llvm::createStringError(buf.getError(), "%s: %s", path.str().c_str(),
                                   buf.getError().message().c_str());
  return fromBuffer(std::move(*buf));
}

llvm::Expected<std::unique_ptr<SafeTensorsFile>>
SafeTensorsFile::fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer) {
  auto f = std::unique_ptr<SafeTensorsFile>(new SafeTensorsFile());
  f->path_ = buffer->getBufferIdentifier().str();
  auto fail = [&](const llvm::Twine &msg) -> llvm::Error {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   f->path_ + ": " + msg);
  };
  llvm::StringRef all = buffer->getBuffer();
  const uint8_t *base = reinterpret_cast<const uint8_t *>(all.data());
  if (all.size() < 8)
    return fail("not a safetensors file: " + llvm::Twine(all.size()) +
                " bytes, shorter than the 8-byte header length");
  uint64_t n = readLE<uint64_t>(base);
  if (n > kMaxHeaderSize || n > all.size() - 8)
    return fail("header length " + llvm::Twine(n) + " exceeds the file (" +
                llvm::Twine(all.size()) + " bytes)");
  f->data_ = base + 8 + n;
  f->dataSize_ = all.size() - 8 - n;

  nlohmann::json header = nlohmann::json::parse(
      all.begin() + 8, all.begin() + 8 + n, /*cb=*/nullptr,
      /*allow_exceptions=*/false);
  if (header.is_discarded())
    return fail("header is not valid JSON");
  if (!header.is_object())
    return fail("header is not a JSON object");
  for (auto &[name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object())
        return fail("__metadata__ is not an object");
      for (auto &[k, v] : entry.items())
        if (v.is_string())
          f->metadata_[k] = v.get<std::string>();
      continue;
    }
    auto tfail = [&](const llvm::Twine &msg) {
      return fail("tensor '" + name + "': " + msg);
    };
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets"))
      return tfail("needs dtype, shape and data_offsets");
    const auto &dt = entry["dtype"], &shape = entry["shape"],
               &offs = entry["data_offsets"];
    if (!dt.is_string())
      return tfail("dtype is not a string");
    SafeTensorInfo t;
    t.name = name;
    t.dtypeName = dt.get<std::string>();
    auto st = parseStDType(t.dtypeName);
    if (!st)
      return tfail("unsupported dtype '" + t.dtypeName + "'");
    t.dtype = *st;
    if (!shape.is_array() || shape.size() > kMaxRank)
      return tfail("shape is not an array of at most " + llvm::Twine(kMaxRank) +
                   " sizes");
    uint64_t elems = 1;
    for (const auto &d : shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(kMaxDimSize))
        return tfail("shape has an invalid size");
      uint64_t s = d.get<uint64_t>();
      if (s && elems > UINT64_MAX / 8 / s)
        return tfail("shape is too large");
      elems *= s;
      t.shape.push_back(int64_t(s));
    }
    if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() ||
        !offs[1].is_number_unsigned())
      return tfail("data_offsets is not [begin, end]");
    t.begin = offs[0].get<uint64_t>();
    t.end = offs[1].get<uint64_t>();
    if (t.begin > t.end || t.end > f->dataSize_)
      return tfail("data_offsets [" + llvm::Twine(t.begin) + ", " +
                   llvm::Twine(t.end) + "] lie outside the data section (" +
                   llvm::Twine(f->dataSize_) + " bytes)");
    uint64_t want = elems * stDTypeSize(t.dtype);
    if (t.end - t.begin != want)
      return tfail("holds " + llvm::Twine(t.end - t.begin) + " bytes but " +
                   t.dtypeName + " " + llvm::Twine(elems) + " elements need " +
                   llvm::Twine(want));
    f->tensors_.push_back(std::move(t));
  }
  // No two tensors may share bytes.
  std::vector<const SafeTensorInfo *> byOffset;
  for (const SafeTensorInfo &t : f->tensors_)
    byOffset.push_back(&t);
  std::sort(byOffset.begin(), byOffset.end(),
            [](auto *a, auto *b) { return a->begin < b->begin; });
  for (size_t i = 1; i < byOffset.size(); ++i)
    if (byOffset[i]->begin < byOffset[i - 1]->end)
      return fail("tensors '" + byOffset[i - 1]->name + "' and '" +
                  byOffset[i]->name + "' overlap");
  for (size_t i = 0; i < f->tensors_.size(); ++i)
    f->byName_[f->tensors_[i].name] = i;
  f->buffer_ = std::move(buffer);
  return f;
}

const SafeTensorInfo *SafeTensorsFile::find(llvm::StringRef name) const {
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : &tensors_[it->second];
}

llvm::ArrayRef<uint8_t> SafeTensorsFile::bytes(const SafeTensorInfo &t) const {
  return llvm::ArrayRef<uint8_t>(data_ + t.begin, t.end - t.begin);
}

llvm::Expected<Tensor> SafeTensorsFile::load(llvm::StringRef name, DType as) const {
  const SafeTensorInfo *t = find(name);
  if (!t)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path_ + ": no tensor '" + name.str() + "'");
  bool srcFloat = t->dtype == StDType::F32 || t->dtype == StDType::F16 ||
                  t->dtype == StDType::BF16 || t->dtype == StDType::F64;
  if (srcFloat != isFloat(as))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        path_ + ": tensor '" + name.str() + "' is " + t->dtypeName +
            ", which cannot be read as " + dtypeName(as).str());
  if (as == DType::I4 && t->dtype == StDType::U8 && !t->shape.empty()) {
    // Packed INT4 (InMemoryWeights::writeTo): two sign-extended nibbles per
    // byte, the low one first.
    std::vector<int64_t> shape = t->shape;
    shape.back() *= 2;
    Tensor out(as, shape);
    unpackInt4(bytes(*t), out.ints().data());
    return out;
  }
  const uint8_t *p = data_ + t->begin;
  // The common cases, element for element without rounding or clamping:
  // f32 as f32, and bytes read as a type that holds every value.
  int64_t n = t->end - t->begin;
  if (t->dtype == StDType::I8 && (as == DType::I8 || as == DType::I32)) {
    const int8_t *s = reinterpret_cast<const int8_t *>(p);
    return Tensor(as, t->shape, std::vector<int32_t>(s, s + n));
  }
  if (t->dtype == StDType::U8 && (as == DType::U8 || as == DType::I32))
    return Tensor(as, t->shape, std::vector<int32_t>(p, p + n));
  Tensor out(as, t->shape);
  if (t->dtype == StDType::F32 && as == DType::F32) {
    std::memcpy(out.floats().data(), p, size_t(n)); // little-endian host
    return out;
  }
  unsigned size = stDTypeSize(t->dtype);
  for (int64_t i = 0; i < out.numElements(); ++i, p += size) {
    double v = 0;
    switch (t->dtype) {
    case StDType::F32: v = readLE<float>(p); break;
    case StDType::F16: v = halfToFloat(readLE<uint16_t>(p)); break;
    case StDType::BF16: v = bf16ToFloat(readLE<uint16_t>(p)); break;
    case StDType::F64: v = readLE<double>(p); break;
    case StDType::I8: v = readLE<int8_t>(p); break;
    case StDType::U8: v = readLE<uint8_t>(p); break;
    case StDType::I32: v = readLE<int32_t>(p); break;
    case StDType::I64: v = double(readLE<int64_t>(p)); break;
    }
    out.set(i, v);
  }
  return out;
}

llvm::Error writeSafeTensors(llvm::StringRef path,
                             const std::vector<SafeTensorOut> &tensors,
                             const std::map<std::string, std::string> &metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty())
    header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const SafeTensorOut &t : tensors) {
    header[t.name] = {{"dtype", stDTypeName(t.dtype).str()},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' '); // keep the data 8-byte aligned
  return llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
    uint64_t n = json.size();
    char len[8];
    std::memcpy(len, &n, 8);
    os.write(len, 8);
    os << json;
    for (const SafeTensorOut &t : tensors)
      os.write(reinterpret_cast<const char *>(t.bytes.data()), t.bytes.size());
    return llvm::Error::success();
  });
}

std::vector<uint8_t> f32Bytes(llvm::ArrayRef<float> values) {
  std::vector<uint8_t> b(values.size() * 4);
  std::memcpy(b.data(), values.data(), b.size());
  return b;
}

} // namespace sqc
