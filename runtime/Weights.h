//===- runtime/Weights.h - Where `weight` ops get their tensors -*- C++ -*-===//
#ifndef SQC_RUNTIME_WEIGHTS_H
#define SQC_RUNTIME_WEIGHTS_H

#include "runtime/SafeTensors.h"
#include "runtime/Tensor.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <vector>

namespace sqc {

/// Supplies the tensor behind each `weight {name = ...}` op, checked against
/// the type the op declares. Tensors are converted once and cached.
class WeightStore {
public:
  virtual ~WeightStore() = default;
  llvm::Expected<const Tensor *> get(llvm::StringRef name, const TensorType &type);
  /// Whether a tensor of that name exists (without loading it).
  virtual bool contains(llvm::StringRef name) const = 0;
  /// Shape of the named tensor, for importers that check before building.
  virtual std::optional<std::vector<int64_t>> shapeOf(llvm::StringRef name) const = 0;
  /// The codes of an i8 or i4 weight of `type`, read from where they are
  /// stored without converting and caching a Tensor (the JIT packs them
  /// once, and the cache would keep four bytes a code); nullopt when this
  /// store cannot, or the stored tensor does not match: use get().
  virtual std::optional<std::vector<int8_t>> readCodes(llvm::StringRef name,
                                                       const TensorType &type) const {
    return std::nullopt;
  }

protected:
  virtual llvm::Expected<Tensor> load(llvm::StringRef name, DType as) = 0;
  /// Where the tensors come from, for messages.
  virtual std::string origin(llvm::StringRef name) const = 0;

private:
  llvm::StringMap<Tensor> cache_;
};

/// Tensors held in memory (llama2.c checkpoints, tests, transformed weights).
class InMemoryWeights : public WeightStore {
public:
  /// Writes every tensor to a safetensors file: integers as I8/U8/I32 (INT4
  /// packed two per byte as U8 when the last dimension is even), the rest as
  /// F32.
  llvm::Error writeTo(llvm::StringRef path) const;
  explicit InMemoryWeights(std::string origin) : origin_(std::move(origin)) {}
  void add(llvm::StringRef name, Tensor t) { tensors_[name] = std::move(t); }
  bool contains(llvm::StringRef name) const override { return tensors_.count(name); }
  std::optional<std::vector<int64_t>> shapeOf(llvm::StringRef name) const override;
  const llvm::StringMap<Tensor> &tensors() const { return tensors_; }

protected:
  llvm::Expected<Tensor> load(llvm::StringRef name, DType as) override;
  std::string origin(llvm::StringRef) const override { return origin_; }

private:
  std::string origin_;
  llvm::StringMap<Tensor> tensors_;
};

/// A path from a module attribute (`weights`, `tokenizer`): absolute, or
/// relative to the module file `modulePath` (the working directory for
/// standard input, "-").
std::string resolveBeside(llvm::StringRef modulePath, llvm::StringRef path);

/// Tensors in one or more memory-mapped safetensors files (sharded models).
class SafeTensorsWeights : public WeightStore {
public:
  /// Opens a .safetensors file, or every shard a
  /// model.safetensors.index.json names.
  static llvm::Expected<std::unique_ptr<SafeTensorsWeights>> open(llvm::StringRef path);
  void addFile(std::unique_ptr<SafeTensorsFile> f);
  bool contains(llvm::StringRef name) const override { return fileOf_.count(name); }
  std::optional<std::vector<int64_t>> shapeOf(llvm::StringRef name) const override;
  std::optional<std::vector<int8_t>> readCodes(llvm::StringRef name,
                                               const TensorType &type) const override;

protected:
  llvm::Expected<Tensor> load(llvm::StringRef name, DType as) override;
  std::string origin(llvm::StringRef name) const override;

private:
  std::vector<std::unique_ptr<SafeTensorsFile>> files_;
  llvm::StringMap<const SafeTensorsFile *> fileOf_;
};

} // namespace sqc

#endif // SQC_RUNTIME_WEIGHTS_H
