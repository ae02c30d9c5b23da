//===- runtime/Weights.cpp - Where `weight` ops get their tensors ---------===//
#include "runtime/Weights.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <set>

namespace sqc {

std::string resolveBeside(llvm::StringRef modulePath, llvm::StringRef path) {
  if (llvm::sys::path::is_absolute(path))
    return path.str();
  llvm::SmallString<256> p(modulePath == "-" ? "" : llvm::sys::path::parent_path(modulePath));
  llvm::sys::path::append(p, path);
  return p.str().str();
}

llvm::Expected<const Tensor *> WeightStore::get(llvm::StringRef name,
                                                 const TensorType &type) {
  auto it = cache_.find(name);
  if (it == cache_.end()) {
    if (!contains(name))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     origin(name) + ": no tensor '" + name.str() +
                                         "'");
    auto t = load(name, type.dtype());
    if (!t)
      return t.takeError();
    it = cache_.try_emplace(name, std::move(*t)).first;
  }
  const Tensor &t = it->second;
  if (t.type() != type)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        origin(name) + ": tensor '" + name.str() + "' is " + t.type().str() +
            " but the graph needs " + type.str());
  return &t;
}

std::optional<std::vector<int64_t>>
InMemoryWeights::shapeOf(llvm::StringRef name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    return std::nullopt;
  return std::vector<int64_t>(it->second.shape().begin(), it->second.shape().end());
}

llvm::Error InMemoryWeights::writeTo(llvm::StringRef path) const {
  std::vector<std::string> names;
  for (const auto &e : tensors_)
    names.push_back(e.first().str());
  std::sort(names.begin(), names.end());
  std::vector<SafeTensorOut> out;
  for (const std::string &n : names) {
    const Tensor &t = tensors_.find(n)->second;
    std::vector<int64_t> shape = storedShape(t.dtype(), t.shape());
    if (t.dtype() == DType::I4 && int4StoredPacked(t.shape())) {
      // Two codes per byte, the even element in the low nibble; the file says
      // U8 [..., K/2] and the graph's i4 type says how to read it back.
      std::vector<uint8_t> b(t.numElements() / 2);
      for (size_t i = 0; i < b.size(); ++i)
        b[i] = uint8_t((t.ints()[2 * i] & 0xf) | ((t.ints()[2 * i + 1] & 0xf) << 4));
      out.push_back({n, StDType::U8, shape, b});
      continue;
    }
    if (t.dtype() == DType::I8 || t.dtype() == DType::U8 || t.dtype() == DType::I4) {
      // Integer weights stay one byte per element: that is the point.
      std::vector<uint8_t> b(t.numElements());
      for (int64_t i = 0; i < t.numElements(); ++i)
        b[i] = uint8_t(int8_t(t.ints()[i]) & 0xff);
      out.push_back({n, t.dtype() == DType::U8 ? StDType::U8 : StDType::I8, shape, b});
      continue;
    }
    if (t.dtype() == DType::I32) {
      std::vector<uint8_t> b(t.numElements() * 4);
      std::memcpy(b.data(), t.ints().data(), b.size());
      out.push_back({n, StDType::I32, shape, b});
      continue;
    }
    std::vector<float> v(t.numElements());
    for (int64_t i = 0; i < t.numElements(); ++i)
      v[i] = float(t.get(i));
    out.push_back({n, StDType::F32, shape, f32Bytes(v)});
  }
  return writeSafeTensors(path, out);
}

llvm::Expected<Tensor> InMemoryWeights::load(llvm::StringRef name, DType as) {
  const Tensor &src = tensors_.find(name)->second;
  if (src.dtype() == as)
    return src;
  Tensor out(as, src.shape());
  for (int64_t i = 0; i < out.numElements(); ++i)
    out.set(i, src.get(i));
  return out;
}

llvm::Expected<std::unique_ptr<SafeTensorsWeights>>
SafeTensorsWeights::open(llvm::StringRef path) {
  auto fail = [&](const llvm::Twine &msg) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), path + ": " + msg);
  };
  auto store = std::make_unique<SafeTensorsWeights>();
  if (!path.ends_with(".json")) {
    auto st = SafeTensorsFile::open(path);
    if (!st)
      return st.takeError();
    store->addFile(std::move(*st));
    return store;
  }
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf)
    return fail(buf.getError().message());
  nlohmann::json j = nlohmann::json::parse((*buf)->getBuffer().begin(),
                                           (*buf)->getBuffer().end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return fail("not a JSON object");
  if (!j.contains("weight_map") || !j["weight_map"].is_object())
    return fail("missing \"weight_map\"");
  std::set<std::string> shards;
  for (auto &[name, file] : j["weight_map"].items()) {
    if (!file.is_string())
      return fail("weight_map entry '" + name + "' is not a file name");
    std::string f = file.get<std::string>();
    if (f.find('/') != std::string::npos || f.find("..") != std::string::npos)
      return fail("shard name '" + f + "' must be a plain file name");
    shards.insert(f);
  }
  for (const std::string &f : shards) {
    llvm::SmallString<256> p = llvm::sys::path::parent_path(path);
    llvm::sys::path::append(p, f);
    auto st = SafeTensorsFile::open(p);
    if (!st)
      return st.takeError();
    store->addFile(std::move(*st));
  }
  return store;
}

void SafeTensorsWeights::addFile(std::unique_ptr<SafeTensorsFile> f) {
  for (const SafeTensorInfo &t : f->tensors())
    fileOf_[t.name] = f.get();
  files_.push_back(std::move(f));
}

std::optional<std::vector<int64_t>>
SafeTensorsWeights::shapeOf(llvm::StringRef name) const {
  auto it = fileOf_.find(name);
  if (it == fileOf_.end())
    return std::nullopt;
  return it->second->find(name)->shape;
}

std::optional<std::vector<int8_t>>
SafeTensorsWeights::readCodes(llvm::StringRef name, const TensorType &type) const {
  auto it = fileOf_.find(name);
  if (it == fileOf_.end() || !type.isStatic())
    return std::nullopt;
  const SafeTensorInfo &t = *it->second->find(name);
  if ((type.dtype() != DType::I8 && type.dtype() != DType::I4) ||
      t.shape != storedShape(type.dtype(), type.staticShape()))
    return std::nullopt;
  llvm::ArrayRef<uint8_t> raw = it->second->bytes(t);
  if (t.dtype == StDType::I8) // i8, or i4 with an odd last dimension
    return std::vector<int8_t>(raw.begin(), raw.end());
  if (type.dtype() != DType::I4 || t.dtype != StDType::U8 ||
      !int4StoredPacked(type.staticShape()))
    return std::nullopt;
  std::vector<int8_t> codes(raw.size() * 2);
  unpackInt4(raw, codes.data());
  return codes;
}

llvm::Expected<Tensor> SafeTensorsWeights::load(llvm::StringRef name, DType as) {
  return fileOf_.find(name)->second->load(name, as);
}

std::string SafeTensorsWeights::origin(llvm::StringRef name) const {
  auto it = fileOf_.find(name);
  if (it != fileOf_.end())
    return it->second->path().str();
  return files_.empty() ? "weights" : files_.front()->path().str();
}

} // namespace sqc
