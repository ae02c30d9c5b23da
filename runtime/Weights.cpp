//===- runtime/Weights.cpp - Where `weight` ops get their tensors ---------===//
#include "runtime/Weights.h"

namespace sqc {

static std::string shapeStr(llvm::ArrayRef<int64_t> s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
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

llvm::Expected<Tensor> InMemoryWeights::load(llvm::StringRef name, DType as) {
  const Tensor &src = tensors_.find(name)->second;
  if (src.dtype() == as)
    return src;
  Tensor out(as, src.shape());
  for (int64_t i = 0; i < out.numElements(); ++i)
    out.set(i, src.get(i));
  return out;
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
