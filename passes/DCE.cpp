//===- passes/DCE.cpp - Dead code elimination -----------------------------===//
//
// Every op but `return` is free of side effects, so an op none of whose
// results is used can go. Walking each graph backwards removes whole dead
// chains in one sweep.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

namespace sqc {

namespace {

bool isDead(const Op &op) {
  if (op.kind() == OpKind::Return)
    return false;
  for (unsigned i = 0; i < op.numResults(); ++i)
    if (op.result(i)->hasUses())
      return false;
  return true;
}

class DCEPass : public Pass {
public:
  DCEPass() : Pass("dce") {}

  PassResult run(Module &m, PassContext &) override {
    bool changed = false;
    for (auto &g : m.graphs()) {
      auto &ops = g->ops();
      for (auto it = ops.rbegin(); it != ops.rend();) {
        Op &op = *it++;
        if (isDead(op)) {
          op.erase();
          changed = true;
        }
      }
    }
    return changed ? PassResult::Changed : PassResult::Unchanged;
  }
};

} // namespace

std::unique_ptr<Pass> createDCEPass() { return std::make_unique<DCEPass>(); }

} // namespace sqc
