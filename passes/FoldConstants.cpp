//===- passes/FoldConstants.cpp - Evaluate ops on constants ---------------===//
//
// An op whose operands are all `constant` ops is evaluated with the reference
// interpreter and replaced by constants holding its results. Results larger
// than `max-elements` are left alone: they would bloat the text, and large
// tensors belong in the weights file.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "runtime/Interpreter.h"

#include <cmath>

namespace sqc {

namespace {

bool isConstant(const Value *v) {
  return v->definingOp() && v->definingOp()->kind() == OpKind::Constant;
}

/// A constant op holding `t`, as a splat when every element is the same.
std::unique_ptr<Op> makeConstant(const Tensor &t, Location loc) {
  DenseElements d;
  bool same = t.numElements() > 0;
  for (int64_t i = 1; i < t.numElements() && same; ++i)
    same = t.get(i) == t.get(0) || (std::isnan(t.get(i)) && std::isnan(t.get(0)));
  if (same) {
    d.splat = true;
    d.values.push_back(t.get(0));
  } else {
    for (int64_t i = 0; i < t.numElements(); ++i)
      d.values.push_back(t.get(i));
  }
  return Op::create(OpKind::Constant, {}, {t.type()},
                    {NamedAttr{"value", Attribute(std::move(d))}}, loc);
}

class FoldConstantsPass : public Pass {
public:
  FoldConstantsPass() : Pass("fold-constants") {
    addOption("max-elements", &maxElements_,
              "Largest result (in elements) that is folded into a constant");
  }

  PassResult run(Module &m, PassContext &ctx) override {
    bool changed = false;
    for (auto &g : m.graphs())
      for (auto it = g->begin(); it != g->end();) {
        Op &op = *it++;
        if (tryFold(op, ctx))
          changed = true;
      }
    return changed ? PassResult::Changed : PassResult::Unchanged;
  }

private:
  bool tryFold(Op &op, PassContext &ctx) {
    if (op.kind() == OpKind::Constant || op.numResults() == 0 ||
        !interpreterSupports(op.kind()))
      return false;
    for (const Value *v : op.operands())
      if (!isConstant(v))
        return false;
    for (unsigned i = 0; i < op.numResults(); ++i) {
      auto n = op.result(i)->type().numElements();
      if (!n || *n > maxElements_)
        return false;
    }
    std::vector<Tensor> inputs;
    for (const Value *v : op.operands())
      inputs.push_back(constantValue(*v->definingOp()));
    auto results = evaluateOp(op, inputs);
    if (!results) {
      // Not foldable (e.g. an out-of-range gather): leave the op to fail at
      // run time, where the user sees it with real inputs.
      ctx.diag.remark(op.loc(), "not folded: " +
                                    llvm::toString(results.takeError()));
      return false;
    }
    Graph &g = *op.graph();
    for (unsigned i = 0; i < op.numResults(); ++i) {
      Op *c = g.insert(op.getIterator(), makeConstant((*results)[i], op.loc()));
      c->result()->setName(op.result(i)->name().str());
      op.result(i)->replaceAllUsesWith(c->result());
    }
    op.erase();
    return true;
  }

  int64_t maxElements_ = 4096;
};

} // namespace

std::unique_ptr<Pass> createFoldConstantsPass() {
  return std::make_unique<FoldConstantsPass>();
}

} // namespace sqc
