//===- passes/Canonicalize.cpp - Local simplifications --------------------===//
//
// Rewrites that never change numerics:
//   x + (-0.0), (-0.0) + x, x - 0.0, x * 1, 1 * x, x / 1 -> x (same type)
//   (for integers, any zero; for floats x + 0.0 stays: -0.0 + 0.0 is +0.0)
//   reshape/convert to the input's own type        -> x
//   reshape(reshape(x))                            -> reshape(x)
//   transpose with the identity permutation        -> x
//   transpose(transpose(x, p), q)                  -> transpose(x, p o q)
//   slice of a whole static dimension              -> x
// Then ops left without users are erased, as MLIR's canonicalizer does. Rewrites repeat until nothing changes
// (at most `max-iterations` sweeps).
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include <cmath>

namespace sqc {

namespace {

/// Whether `v` is a constant with every element equal to `x`, including the
/// sign of a float zero (x + (-0.0) is x for every x; x + 0.0 is not).
bool isSplatOf(const Value *v, double x) {
  const Op *def = v->definingOp();
  if (!def || def->kind() != OpKind::Constant)
    return false;
  bool checkSign = isFloat(v->type().dtype());
  const DenseElements &d = def->attr("value")->getDense();
  for (double e : d.values)
    if (e != x || (checkSign && std::signbit(e) != std::signbit(x)))
      return false;
  return !d.values.empty();
}

/// The zero that leaves x unchanged under addition: -0.0 for floats.
double additiveIdentity(const Value *v) {
  return isFloat(v->type().dtype()) ? -0.0 : 0.0;
}

/// The value `op` can be replaced by, or null. May instead update `op` in
/// place (returning null and setting `changed`).
Value *simplify(Op &op, bool &changed) {
  const TensorType &type = op.numResults() ? op.result()->type() : TensorType();
  auto sameType = [&](Value *v) { return v->type() == type ? v : nullptr; };
  switch (op.kind()) {
  case OpKind::Add: {
    double zero = additiveIdentity(op.operand(0));
    if (isSplatOf(op.operand(1), zero)) return sameType(op.operand(0));
    if (isSplatOf(op.operand(0), zero)) return sameType(op.operand(1));
    return nullptr;
  }
  case OpKind::Mul:
    if (isSplatOf(op.operand(1), 1)) return sameType(op.operand(0));
    if (isSplatOf(op.operand(0), 1)) return sameType(op.operand(1));
    return nullptr;
  case OpKind::Sub:
    return isSplatOf(op.operand(1), 0) ? sameType(op.operand(0)) : nullptr;
  case OpKind::Div:
    return isSplatOf(op.operand(1), 1) ? sameType(op.operand(0)) : nullptr;
  case OpKind::Convert:
    return sameType(op.operand(0));
  case OpKind::Reshape: {
    if (Value *v = sameType(op.operand(0)))
      return v;
    const Op *inner = op.operand(0)->definingOp();
    if (inner && inner->kind() == OpKind::Reshape) {
      op.setOperand(0, inner->operand(0));
      changed = true;
    }
    return nullptr;
  }
  case OpKind::Transpose: {
    llvm::ArrayRef<int64_t> perm = op.intArrayAttr("perm");
    bool identity = true;
    for (size_t i = 0; i < perm.size(); ++i)
      identity &= perm[i] == int64_t(i);
    if (identity)
      return op.operand(0);
    const Op *inner = op.operand(0)->definingOp();
    if (inner && inner->kind() == OpKind::Transpose) {
      // out[i] = mid[perm[i]] = in[innerPerm[perm[i]]].
      llvm::ArrayRef<int64_t> innerPerm = inner->intArrayAttr("perm");
      std::vector<int64_t> composed;
      for (int64_t p : perm)
        composed.push_back(innerPerm[p]);
      op.setAttr("perm", Attribute(std::move(composed)));
      op.setOperand(0, inner->operand(0));
      changed = true;
    }
    return nullptr;
  }
  case OpKind::Slice: {
    const TensorType &in = op.operand(0)->type();
    int64_t axis = op.intAttr("axis");
    if (axis < 0)
      axis += in.rank();
    const Dim &d = in.dim(unsigned(axis));
    return op.intAttr("start") == 0 && d.isStatic() &&
                   op.intAttr("end") == d.size()
               ? op.operand(0)
               : nullptr;
  }
  default:
    return nullptr;
  }
}

class CanonicalizePass : public Pass {
public:
  CanonicalizePass() : Pass("canonicalize") {
    addOption("max-iterations", &maxIterations_,
              "Sweeps over the module before giving up on a fixpoint");
  }

  PassResult run(Module &m, PassContext &) override {
    bool everChanged = false;
    for (int64_t iter = 0; iter < maxIterations_; ++iter) {
      bool changed = false;
      for (auto &g : m.graphs())
        for (auto it = g->begin(); it != g->end();) {
          Op &op = *it++;
          if (op.kind() == OpKind::Return)
            continue;
          if (Value *replacement = simplify(op, changed)) {
            op.result()->replaceAllUsesWith(replacement);
            changed = true;
          }
        }
      // Rewrites leave the ops they bypassed dead; MLIR's canonicalizer
      // erases those too.
      if (changed)
        for (auto &g : m.graphs())
          g->eraseDeadOps();
      everChanged |= changed;
      if (!changed)
        break;
    }
    return everChanged ? PassResult::Changed : PassResult::Unchanged;
  }

private:
  int64_t maxIterations_ = 10;
};

} // namespace

std::unique_ptr<Pass> createCanonicalizePass() {
  return std::make_unique<CanonicalizePass>();
}

} // namespace sqc
