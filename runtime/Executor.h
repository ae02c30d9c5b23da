//===- runtime/Executor.h - Runs a whole graph on the interpreter -*- C++ -*-===//
#ifndef SQC_RUNTIME_EXECUTOR_H
#define SQC_RUNTIME_EXECUTOR_H

#include "ir/IR.h"
#include "runtime/Tensor.h"
#include "runtime/Weights.h"

#include "llvm/Support/Error.h"

#include <functional>
#include <vector>

namespace sqc {

/// Called with every value the executor computes (op results), e.g. to
/// collect calibration statistics.
using ValueObserver = std::function<void(const Value &, const Tensor &)>;

/// Runs `g` op by op with the reference interpreter. `inputs` are the graph's
/// arguments; `weights` resolves `weight` ops (may be null if there are none).
/// Each intermediate tensor is freed after its last use.
llvm::Expected<std::vector<Tensor>> runGraph(const Graph &g,
                                             std::vector<Tensor> inputs,
                                             WeightStore *weights,
                                             const ValueObserver *observe = nullptr);

} // namespace sqc

#endif // SQC_RUNTIME_EXECUTOR_H
