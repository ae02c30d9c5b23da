//===- passes/CSE.cpp - Common subexpression elimination ------------------===//
//
// Two ops of the same kind, with the same operands (in either order for a
// commutative op), attributes and result types compute the same values (no
// op has side effects). Graphs are straight lines, so the first of them
// dominates the rest and can replace them.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include <unordered_map>

namespace sqc {

namespace {

/// A string that is equal for exactly the ops CSE may merge.
std::string opKey(const Op &op) {
  std::string key = op.mnemonic().str();
  key += '(';
  std::vector<uintptr_t> operands;
  for (const Value *v : op.operands())
    operands.push_back(reinterpret_cast<uintptr_t>(v));
  if (isCommutative(op.kind()))
    llvm::sort(operands);
  for (uintptr_t v : operands) {
    key += std::to_string(v);
    key += ',';
  }
  key += "){";
  // Every attribute the table declares, explicit or default, so that
  // `softmax {axis = -1}` and `softmax` merge.
  for (const AttrSpec &spec : op.info().attrs) {
    const Attribute *a = op.attr(spec.name);
    if (!a && spec.defaultValue)
      a = &*spec.defaultValue;
    if (a)
      key += spec.name + "=" + formatAttribute(*a) + ",";
  }
  key += "}:";
  for (unsigned i = 0; i < op.numResults(); ++i)
    key += op.result(i)->type().str() + ",";
  return key;
}

class CSEPass : public Pass {
public:
  CSEPass() : Pass("cse") {}

  PassResult run(Module &m, PassContext &) override {
    bool changed = false;
    for (auto &g : m.graphs()) {
      std::unordered_map<std::string, Op *> seen;
      for (auto it = g->begin(); it != g->end();) {
        Op &op = *it++;
        if (op.kind() == OpKind::Return)
          continue;
        auto [pos, inserted] = seen.try_emplace(opKey(op), &op);
        if (inserted)
          continue;
        Op *first = pos->second;
        for (unsigned i = 0; i < op.numResults(); ++i) {
          // Keep a name the survivor lacks: statistics may be keyed by it.
          if (first->result(i)->name().empty())
            first->result(i)->setName(op.result(i)->name().str());
          op.result(i)->replaceAllUsesWith(first->result(i));
        }
        op.erase();
        changed = true;
      }
    }
    return changed ? PassResult::Changed : PassResult::Unchanged;
  }
};

} // namespace

std::unique_ptr<Pass> createCSEPass() { return std::make_unique<CSEPass>(); }

} // namespace sqc
