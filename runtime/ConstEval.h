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

#include <unordered_map>
#include "llvm/Support/Error.h"

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

private:
  WeightStore *weights_;
  /// Node-based, so tensors handed out stay put as the cache grows.
  std::unordered_map<const Value *, Tensor> cache_;
};

} // namespace sqc

#endif // SQC_RUNTIME_CONSTEVAL_H
