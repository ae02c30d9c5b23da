//===- runtime/Executor.cpp - Runs a whole graph on the interpreter -------===//
#include "runtime/Executor.h"

#include "runtime/Interpreter.h"

namespace sqc {

llvm::Error GraphRun::fail(const Op *op, const llvm::Twine &msg) const {
  std::string where = op ? op->loc().str() + ": '" + op->mnemonic().str() + "': " : "";
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "@" + graph_.name() + ": " + where + msg);
}

llvm::Error GraphRun::start(std::vector<Tensor> inputs) {
  if (inputs.size() != graph_.numArguments())
    return fail(nullptr, "expects " + llvm::Twine(graph_.numArguments()) + " inputs, got " +
                             llvm::Twine(inputs.size()));
  for (unsigned i = 0; i < graph_.numArguments(); ++i)
    env_[graph_.argument(i)] = std::move(inputs[i]);
  return llvm::Error::success();
}

void GraphRun::release(llvm::ArrayRef<const Value *> reads) {
  for (const Value *v : reads)
    if (--usesLeft_[v] == 0)
      env_.erase(v);
}

const Tensor &GraphRun::get(const Value *v) const {
  auto w = lent_.find(v);
  return w != lent_.end() ? *w->second : env_.find(v)->second;
}

bool GraphRun::lastUse(const Value *v) const {
  auto it = usesLeft_.find(v);
  return it != usesLeft_.end() && it->second == 1 && env_.count(v);
}

Tensor GraphRun::take(const Value *v) { return std::move(env_.find(v)->second); }

void GraphRun::define(const Value *v, Tensor t) {
  if (observe_)
    (*observe_)(*v, t);
  env_[v] = std::move(t);
}

void GraphRun::lend(const Value *v, const Tensor *t) {
  if (observe_)
    (*observe_)(*v, *t);
  lent_[v] = t;
}

llvm::Error GraphRun::interpret(const Op &op) {
  if (op.kind() == OpKind::Weight) {
    if (!weights_)
      return fail(&op, "the graph has weights but no weights were loaded");
    auto t = weights_->get(op.stringAttr("name"), op.result()->type());
    if (!t)
      return fail(&op, llvm::toString(t.takeError()));
    lent_[op.result()] = *t;
    return llvm::Error::success();
  }
  std::vector<const Tensor *> in;
  for (const Value *v : op.operands())
    in.push_back(&get(v));
  auto out = evaluateOp(op, llvm::ArrayRef<const Tensor *>(in));
  if (!out)
    return fail(&op, llvm::toString(out.takeError()));
  release(op.operands());
  for (unsigned i = 0; i < op.numResults(); ++i)
    define(op.result(i), std::move((*out)[i]));
  return llvm::Error::success();
}

std::vector<Tensor> GraphRun::results(const Op &ret) {
  std::vector<Tensor> out;
  for (unsigned i = 0; i < ret.numOperands(); ++i) {
    const Value *v = ret.operand(i);
    bool again = llvm::is_contained(ret.operands().drop_front(i + 1), v);
    auto it = env_.find(v);
    // Moving spares copying what the run leaves behind (e.g. a KV cache).
    if (it != env_.end() && !again)
      out.push_back(std::move(it->second));
    else
      out.push_back(get(v));
  }
  return out;
}

llvm::Expected<std::vector<Tensor>> runGraph(const Graph &g,
                                             std::vector<Tensor> inputs,
                                             WeightStore *weights,
                                             const ValueObserver *observe) {
  GraphRun run(g, weights, observe);
  if (llvm::Error e = run.start(std::move(inputs)))
    return e;
  for (const Op &op : g.ops())
    for (const Value *v : op.operands())
      run.addUse(v);
  for (const Op &op : g.ops()) {
    if (op.kind() == OpKind::Return)
      return run.results(op);
    if (llvm::Error e = run.interpret(op))
      return e;
  }
  return run.fail(nullptr, "does not end with 'return'");
}

} // namespace sqc
