//===- runtime/Executor.h - Runs a whole graph on the interpreter -*- C++ -*-===//
#ifndef SQC_RUNTIME_EXECUTOR_H
#define SQC_RUNTIME_EXECUTOR_H

#include "ir/IR.h"
#include "runtime/Tensor.h"
#include "runtime/Weights.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <vector>

namespace sqc {

/// Called with every value the executor computes (op results), e.g. to
/// collect calibration statistics.
using ValueObserver = std::function<void(const Value &, const Tensor &)>;

/// The values of one run of a graph: its arguments, op results and loaded
/// weights. A value is freed when its last counted use is released. Both
/// the interpreter's runGraph and the JIT's CompiledGraph run on it.
class GraphRun {
public:
  GraphRun(const Graph &g, WeightStore *weights, const ValueObserver *observe)
      : graph_(g), weights_(weights), observe_(observe) {}

  /// Binds the graph's arguments; fails on a wrong count.
  llvm::Error start(std::vector<Tensor> inputs);
  /// Counts one future use of `v`, to be released with release().
  void addUse(const Value *v) { ++usesLeft_[v]; }
  void release(llvm::ArrayRef<const Value *> reads);

  const Tensor &get(const Value *v) const;
  /// Whether the next release of `v` frees it: its storage may then be
  /// taken and reused in place.
  bool lastUse(const Value *v) const;
  /// Moves `v`'s tensor out (only at its last use; release it as usual).
  Tensor take(const Value *v);
  /// Records an op result (and shows it to the observer).
  void define(const Value *v, Tensor t);
  /// Records a result that lives elsewhere (e.g. codes a step keeps from run
  /// to run): readers see `*t`, which must outlive the run; nothing frees
  /// or moves it.
  void lend(const Value *v, const Tensor *t);
  /// Runs `op` on the reference interpreter: loads a weight, or evaluates
  /// the op and releases its operands.
  llvm::Error interpret(const Op &op);
  /// The values `ret` (a return op) returns; moved out, so call it once,
  /// at the end.
  std::vector<Tensor> results(const Op &ret);
  /// "@graph: file:line:col: 'op': msg" (without the op part for null).
  llvm::Error fail(const Op *op, const llvm::Twine &msg) const;

private:
  const Graph &graph_;
  WeightStore *weights_;
  const ValueObserver *observe_;
  llvm::DenseMap<const Value *, unsigned> usesLeft_;
  llvm::DenseMap<const Value *, Tensor> env_;
  llvm::DenseMap<const Value *, const Tensor *> lent_; // weights and lend()
};

/// Runs `g` op by op with the reference interpreter. `inputs` are the graph's
/// arguments; `weights` resolves `weight` ops (may be null if there are none).
/// Each intermediate tensor is freed after its last use.
llvm::Expected<std::vector<Tensor>> runGraph(const Graph &g,
                                             std::vector<Tensor> inputs,
                                             WeightStore *weights,
                                             const ValueObserver *observe = nullptr);

} // namespace sqc

#endif // SQC_RUNTIME_EXECUTOR_H
