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

class DCEPass : public Pass {
public:
  DCEPass() : Pass("dce") {}

  PassResult run(Module &m, PassContext &) override {
    bool changed = false;
    for (auto &g : m.graphs())
      changed |= g->eraseDeadOps();
    return changed ? PassResult::Changed : PassResult::Unchanged;
  }
};

} // namespace

std::unique_ptr<Pass> createDCEPass() { return std::make_unique<DCEPass>(); }

} // namespace sqc
