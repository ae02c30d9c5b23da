//===- runtime/Executor.cpp - Runs a whole graph on the interpreter -------===//
#include "runtime/Executor.h"

#include "runtime/Interpreter.h"

#include "llvm/ADT/DenseMap.h"

namespace sqc {

llvm::Expected<std::vector<Tensor>> runGraph(const Graph &g,
                                             std::vector<Tensor> inputs,
                                             WeightStore *weights,
                                             const ValueObserver *observe) {
  auto fail = [&](const Op *op, const llvm::Twine &msg) {
    std::string where = op ? op->loc().str() + ": '" + op->mnemonic().str() + "': " : "";
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "@" + g.name() + ": " + where + msg);
  };
  if (inputs.size() != g.numArguments())
    return fail(nullptr, "expects " + llvm::Twine(g.numArguments()) +
                             " inputs, got " + llvm::Twine(inputs.size()));
  // Remaining uses of each value, so tensors can be freed early.
  llvm::DenseMap<const Value *, unsigned> usesLeft;
  for (const Op &op : g.ops())
    for (const Value *v : op.operands())
      ++usesLeft[v];
  llvm::DenseMap<const Value *, Tensor> env;
  llvm::DenseMap<const Value *, const Tensor *> weightEnv;
  for (unsigned i = 0; i < g.numArguments(); ++i)
    env[g.argument(i)] = std::move(inputs[i]);

  auto lookup = [&](const Value *v) -> const Tensor & {
    auto w = weightEnv.find(v);
    return w != weightEnv.end() ? *w->second : env.find(v)->second;
  };
  std::vector<Tensor> results;
  for (const Op &op : g.ops()) {
    if (op.kind() == OpKind::Return) {
      for (const Value *v : op.operands())
        results.push_back(lookup(v));
      return results;
    }
    if (op.kind() == OpKind::Weight) {
      if (!weights)
        return fail(&op, "the graph has weights but no weights were loaded");
      auto t = weights->get(op.stringAttr("name"), op.result()->type());
      if (!t)
        return fail(&op, llvm::toString(t.takeError()));
      weightEnv[op.result()] = *t;
      continue;
    }
    std::vector<const Tensor *> in;
    for (const Value *v : op.operands())
      in.push_back(&lookup(v));
    auto out = evaluateOp(op, llvm::ArrayRef<const Tensor *>(in));
    if (!out)
      return fail(&op, llvm::toString(out.takeError()));
    for (const Value *v : op.operands())
      if (--usesLeft[v] == 0)
        env.erase(v);
    for (unsigned i = 0; i < op.numResults(); ++i) {
      if (observe)
        (*observe)(*op.result(i), (*out)[i]);
      env[op.result(i)] = std::move((*out)[i]);
    }
  }
  return fail(nullptr, "does not end with 'return'");
}

} // namespace sqc
