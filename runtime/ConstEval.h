//===- runtime/ConstEval.h - Values computable before the graph runs -*- C++ -*-===//
//
// A value whose producers are only `weight` and `constant` ops (e.g. a weight
// times a smoothing scale) is known at compile time. Passes evaluate such
// values to compute scales, and `sqc quantize` materializes them into the
// output weights file.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_RUNTIME_CONSTEVAL_H
#define SQC_RUNTIME_CONSTEVAL_H

#include "ir/IR.h"
#include "runtime/Tensor.h"
#include "runtime/Weights.h"

#include "llvm/Support/Error.h"

#include <functional>
#include <unordered_map>

namespace sqc {

/// Whether `v` depends only on weight and constant ops.
bool isCompileTimeValue(const Value *v);

/// Evaluates compile-time values with the reference interpreter, caching
/// results; `weights` may be null when no weight op is involved.
class ConstEvaluator {
public:
  explicit ConstEvaluator(WeightStore *weights) : weights_(weights) {}
  llvm::Expected<const Tensor *> evaluate(const Value *v);
  /// Forget cached results (after the IR changed).
  void clear() { cache_.clear(); }
  /// Ops `fast` computes (returning true) skip the interpreter. It must give
  /// the interpreter's results: the JIT passes its host kernels for the ops
  /// whose results they match exactly (quantize, dequantize, arithmetic),
  /// which makes packing fake-quantized weights quick.
  using FastPath = std::function<bool(const Op &, llvm::ArrayRef<const Tensor *>,
                                      std::vector<Tensor> &)>;
  void setFastPath(FastPath fast) { fast_ = std::move(fast); }

private:
  WeightStore *weights_;
  FastPath fast_;
  /// Node-based, so tensors handed out stay put as the cache grows.
  std::unordered_map<const Value *, Tensor> cache_;
};

} // namespace sqc

#endif // SQC_RUNTIME_CONSTEVAL_H
