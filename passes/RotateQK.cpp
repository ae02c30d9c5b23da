//===- passes/RotateQK.cpp - Hadamard rotation of attention scores --------===//
//
// For a score matmul S = A B^T (transpose_b = true) over a head dimension d
// that is a power of two, inserts A' = A H and B' = B H with H the
// normalized d x d Walsh-Hadamard matrix. H is orthogonal, so
// A' B'^T = A H H^T B^T = S exactly in real arithmetic.
//
// Why: the attention matmuls are quantized per token and per head, so each
// row of Q and K has only d values (8 in stories260K), and the few largest
// channels of a head (RoPE's slowest frequencies) set the row's INT8 step.
// The rotation spreads every channel over all d. Whether that pays off is an
// empirical question: on stories260K at O1 (30k tokens) it cut the cost of
// INT8 Q K^T by about two thirds on TinyStories but doubled it on
// WikiText-2, so `sqc quantize` applies it only when asked (--rotate-qk).
// Smoothing cannot even out these rows: a per channel scale on Q must be
// undone on K, where the same channels are large.
//
// Run before `quantize`: a matmul whose operands are already quantized, or
// already rotated, is left alone, so the pass is idempotent.
//
//===----------------------------------------------------------------------===//
#include "passes/PassUtils.h"
#include "passes/Passes.h"

#include <cmath>
#include <map>

namespace sqc {

namespace {

class RotateQKPass : public Pass {
public:
  RotateQKPass() : Pass("rotate-qk") {}

  PassResult run(Module &m, PassContext &ctx) override {
    bool changed = false;
    for (auto &g : m.graphs()) {
      std::vector<Op *> targets;
      for (Op &op : g->ops())
        if (op.kind() == OpKind::MatMul && op.boolAttr("transpose_b"))
          targets.push_back(&op);
      std::map<int64_t, Value *> matrices; // one constant per size and graph
      for (Op *mm : targets)
        changed |= rotate(mm, matrices, ctx);
    }
    return changed ? PassResult::Changed : PassResult::Unchanged;
  }

private:
  bool rotate(Op *mm, std::map<int64_t, Value *> &matrices, PassContext &ctx) {
    Value *a = mm->operand(0), *b = mm->operand(1);
    if ((isRotated(a) && isRotated(b)) || isDequantized(a) || isDequantized(b))
      return false;
    const TensorType &t = a->type();
    if (t.dtype() != DType::F32 || b->type().dtype() != DType::F32)
      return false;
    const Dim &last = t.dims().back();
    int64_t d = last.isStatic() ? last.size() : 0;
    if (d < 2 || (d & (d - 1)) != 0) {
      ctx.diag.remark(mm->loc(), "rotate-qk: contracted dimension is not a static "
                                 "power of two; not rotated");
      return false;
    }
    Value *&h = matrices[d];
    if (!h) {
      OpBuilder atStart(*mm->graph(), mm->graph()->begin(), mm->loc());
      h = createF32Constant(atStart, hadamard(d), {d, d});
      h->setName("hadamard" + std::to_string(d));
    }
    OpBuilder builder = OpBuilder::before(mm);
    for (unsigned i = 0; i < 2; ++i) {
      Value *x = mm->operand(i);
      Value *r = cantFail(builder.value(OpKind::Linear, {x, h}));
      if (!x->name().empty())
        r->setName(x->name().str() + ".rot");
      mm->setOperand(i, r);
    }
    return true;
  }

  /// Normalized Walsh-Hadamard matrix of order d (a power of two), row-major:
  /// H[i][j] = (-1)^popcount(i & j) / sqrt(d). Symmetric, so `linear`
  /// (x W^T) applies it as x H.
  static std::vector<double> hadamard(int64_t d) {
    std::vector<double> h(d * d);
    double norm = 1.0 / std::sqrt(double(d));
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j)
        h[i * d + j] = (__builtin_popcountll(uint64_t(i & j)) & 1) ? -norm : norm;
    return h;
  }

  static bool isRotated(const Value *v) { return isHadamardRotation(v->definingOp()); }
};

} // namespace

std::unique_ptr<Pass> createRotateQKPass() { return std::make_unique<RotateQKPass>(); }

} // namespace sqc
