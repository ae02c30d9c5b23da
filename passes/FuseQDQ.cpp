//===- passes/FuseQDQ.cpp - Fake quantization into integer arithmetic -----===//
//
//   linear(dequantize(xq, xs), dequantize(wq, ws) [, b])
//     -> acc = int_linear(xq, wq)                      i8 x i8 (or i4) -> i32
//        y   = dequantize(acc, xs) * ws^T [+ b]        per token x per channel
//   matmul(dequantize(aq, as), dequantize(bq, bs))
//     -> dequantize(int_matmul(aq, bq), as) * bs       per-tensor scales
//   matmul(dequantize_log2(pq), dequantize(vq, vs))
//     -> log2_matmul(pq, vq) * vs                      shifts and adds
//   matmul(dequantize(pq, ps, block), dequantize(vq, vs))
//     -> block_int_matmul(pq, ps, vq) * vs             P's scales per block,
//                                                      each block summed in i32
//   matmul(dequantize(qq, qs) / ks, dequantize(kq, ks)^T)
//     -> dequantize(int_matmul(qq, kq^T), qs)          keys per channel, their
//                                                      scales inside qq
//
// The integer product equals the sum of the fake-quantized products up to
// float rounding, so the graph now does real INT8 arithmetic. Only symmetric
// scales are fused, and activations with one constant zero point (repq's
// u8 quantizer): the zero point times each weight row's code sum is
// subtracted from the i32 accumulator. The weight scale must be a constant,
// and the matmul scales per tensor.
//
//===----------------------------------------------------------------------===//
#include "passes/PassUtils.h"
#include "passes/Passes.h"

#include "runtime/ConstEval.h"

#include <cmath>

namespace sqc {

namespace {

/// If `v` is dequantize(q, scale) without zero point: {q, scale}; with
/// `block` > 0, scales per block of that many along the last axis.
std::optional<std::pair<Value *, Value *>> dequantized(Value *v, int64_t block = 0) {
  Op *d = v->definingOp();
  if (!d || d->kind() != OpKind::Dequantize || d->numOperands() != 2 ||
      d->intAttr("block") != block)
    return std::nullopt;
  DType t = d->operand(0)->type().dtype();
  if (t != DType::I8 && t != DType::U8 && t != DType::I4)
    return std::nullopt;
  return std::make_pair(d->operand(0), d->operand(1));
}

/// The values of a constant op.
const DenseElements *constantValues(Value *v) {
  Op *d = v->definingOp();
  if (!d || d->kind() != OpKind::Constant)
    return nullptr;
  return &d->attr("value")->getDense();
}

/// If `v` is dequantize(q : u8, scale, zero_point) with one constant scale
/// and zero point (repq's per-tensor quantizer): {q, scale, zero point}.
struct ZeroPointQuant {
  Value *q;
  double scale, zeroPoint;
};
std::optional<ZeroPointQuant> dequantizedWithZeroPoint(Value *v) {
  Op *d = v->definingOp();
  if (!d || d->kind() != OpKind::Dequantize || d->numOperands() != 3 ||
      d->operand(0)->type().dtype() != DType::U8)
    return std::nullopt;
  const DenseElements *s = constantValues(d->operand(1)), *z = constantValues(d->operand(2));
  if (!s || !z || s->values.size() != 1 || z->values.size() != 1)
    return std::nullopt;
  return ZeroPointQuant{d->operand(0), s->values[0], z->values[0]};
}

/// Gives `out` the name of `op`'s result, which it replaces, and erases `op`.
bool replaceWith(Op *op, Value *out) {
  out->setName(op->result()->name().str());
  op->result()->setName("");
  op->result()->replaceAllUsesWith(out);
  op->erase();
  return true;
}

class FuseQDQPass : public Pass {
public:
  FuseQDQPass() : Pass("fuse-qdq") {}

  PassResult run(Module &m, PassContext &ctx) override {
    ConstEvaluator eval(ctx.weights); // weight codes, for zero-point sums
    bool changed = false;
    for (auto &g : m.graphs()) {
      std::vector<Op *> ops;
      for (Op &op : g->ops())
        if (op.kind() == OpKind::Linear || op.kind() == OpKind::MatMul)
          ops.push_back(&op);
      for (Op *op : ops)
        changed |= op->kind() == OpKind::Linear ? fuseLinear(op, eval) : fuseMatMul(op);
    }
    return changed ? PassResult::Changed : PassResult::Unchanged;
  }

private:
  static bool fuseLinear(Op *lin, ConstEvaluator &eval) {
    auto x = dequantized(lin->operand(0));
    auto xz = x ? std::nullopt : dequantizedWithZeroPoint(lin->operand(0));
    auto w = dequantized(lin->operand(1));
    if ((!x && !xz) || !w || (x && x->first->type().dtype() == DType::I4) ||
        w->first->type().dtype() == DType::U8)
      return false;
    const DenseElements *ws = constantValues(w->second);
    int64_t N = lin->result()->type().dims().back().size();
    if (!ws)
      return false;
    // With a zero point z: sum_k (q - z) w = acc - z sum_k w, per column,
    // subtracted exactly in i32 by the dequantize.
    std::vector<double> zeroPoints;
    if (xz) {
      if (!isCompileTimeValue(w->first))
        return false;
      auto codes = eval.evaluate(w->first);
      if (!codes) {
        llvm::consumeError(codes.takeError());
        return false;
      }
      int64_t K = (*codes)->shape()[1];
      for (int64_t n = 0; n < N; ++n) {
        double sum = 0;
        for (int64_t k = 0; k < K; ++k)
          sum += (*codes)->get(n * K + k);
        double zp = xz->zeroPoint * sum;
        if (std::fabs(zp) > 2147483647.0)
          return false; // beyond i32: left as fake quantization
        zeroPoints.push_back(zp);
      }
    }
    OpBuilder b = OpBuilder::before(lin);
    Value *acc = cantFail(b.value(OpKind::IntLinear, {x ? x->first : xz->q, w->first}));
    acc->setName(lin->result()->name().str() + ".acc");
    Value *y;
    if (x) {
      y = cantFail(b.value(OpKind::Dequantize, {acc, x->second}));
    } else {
      Value *scale = createF32Constant(b, std::vector<double>(N, xz->scale), {Dim(N)});
      Value *zero = createIntConstant(b, DType::I32, zeroPoints, {Dim(N)});
      y = cantFail(b.value(OpKind::Dequantize, {acc, scale, zero}));
    }
    // The weight scale as a row vector over the output channels.
    DenseElements row;
    row.splat = ws->splat || ws->values.size() == 1;
    row.values = row.splat ? std::vector<double>{ws->values[0]} : ws->values;
    Value *wsRow = cantFail(b.value(
        OpKind::Constant, {}, {{"value", row}},
        {TensorType(DType::F32, row.splat ? llvm::ArrayRef<Dim>{} : llvm::ArrayRef<Dim>{N})}));
    Value *out = cantFail(b.value(OpKind::Mul, {y, wsRow}));
    if (lin->numOperands() == 3)
      out = cantFail(b.value(OpKind::Add, {out, lin->operand(2)}));
    return replaceWith(lin, out);
  }

  /// Whether `scale` is one value per row of `q` ([..., rows, 1]).
  static bool perRow(const Value *scale, const Value *q) {
    const TensorType &s = scale->type(), &t = q->type();
    return s.rank() == t.rank() && s.dims().back() == Dim(1) &&
           s.dims().drop_back() == t.dims().drop_back();
  }

  /// Whether `scale` is one value per column of `q` ([..., 1, cols]).
  static bool perColumn(const Value *scale, const Value *q) {
    const TensorType &s = scale->type(), &t = q->type();
    return s.rank() == t.rank() && s.rank() >= 2 && s.dims()[s.rank() - 2] == Dim(1) &&
           s.dims().back() == t.dims().back() &&
           s.dims().drop_back(2) == t.dims().drop_back(2);
  }

  /// matmul(dequantize_log2(p), dequantize(v, per-tensor or per-column
  /// scale)) -> log2_matmul(p, v) * scale.
  static bool fuseLog2MatMul(Op *mm) {
    Op *a = mm->operand(0)->definingOp();
    auto c = dequantized(mm->operand(1));
    if (!a || a->kind() != OpKind::DequantizeLog2 || !c ||
        c->first->type().dtype() != DType::I8 || mm->boolAttr("transpose_b") ||
        (c->second->type().rank() != 0 && !perColumn(c->second, c->first)))
      return false;
    OpBuilder b = OpBuilder::before(mm);
    std::vector<NamedAttr> base;
    if (a->stringAttr("base") != "sqrt2")
      base.push_back({"base", a->stringAttr("base").str()});
    Value *prod = cantFail(b.value(OpKind::Log2MatMul, {a->operand(0), c->first}, base));
    prod->setName(mm->result()->name().str() + ".shifted");
    Value *out = cantFail(b.value(OpKind::Mul, {prod, c->second}));
    return replaceWith(mm, out);
  }

  /// Keys per channel (quantize{keys=per-channel}): the key scales ks
  /// multiply into the query codes and divide out again, so only the
  /// queries' per-row scale is left on the product.
  static bool fuseKeyChannelMatMul(Op *mm) {
    Op *div = mm->operand(0)->definingOp();
    if (!mm->boolAttr("transpose_b") || !div || div->kind() != OpKind::Div ||
        div->result()->type() != div->operand(0)->type()) // no broadcast of the codes
      return false;
    auto a = dequantized(div->operand(0));
    auto c = dequantized(mm->operand(1));
    if (!a || !c || c->second != div->operand(1) || !perRow(a->second, a->first) ||
        !perColumn(c->second, c->first) || a->first->type().dtype() != DType::I8 ||
        c->first->type().dtype() != DType::I8)
      return false;
    OpBuilder b = OpBuilder::before(mm);
    Value *acc = cantFail(
        b.value(OpKind::IntMatMul, {a->first, c->first}, {{"transpose_b", true}}));
    acc->setName(mm->result()->name().str() + ".acc");
    Value *out = cantFail(b.value(OpKind::Dequantize, {acc, a->second}));
    return replaceWith(mm, out);
  }

  /// matmul(dequantize(pq, ps, block), dequantize(vq, vs)) with ps per
  /// block of P's rows and vs per tensor or column:
  /// block_int_matmul(pq, ps, vq) * vs.
  static bool fuseBlockMatMul(Op *mm) {
    Op *d = mm->operand(0)->definingOp();
    int64_t block = d && d->kind() == OpKind::Dequantize ? d->intAttr("block") : 0;
    if (!block)
      return false;
    auto a = dequantized(mm->operand(0), block);
    auto c = dequantized(mm->operand(1));
    if (!a || !c || a->first->type().dtype() == DType::I4 ||
        c->first->type().dtype() != DType::I8 || mm->boolAttr("transpose_b") ||
        (c->second->type().rank() != 0 && !perColumn(c->second, c->first)))
      return false;
    OpBuilder b = OpBuilder::before(mm);
    Value *prod = cantFail(b.value(OpKind::BlockIntMatMul, {a->first, a->second, c->first},
                                   {{"block", block}}));
    prod->setName(mm->result()->name().str() + ".blocks");
    Value *out = cantFail(b.value(OpKind::Mul, {prod, c->second}));
    return replaceWith(mm, out);
  }

  static bool fuseMatMul(Op *mm) {
    if (fuseLog2MatMul(mm) || fuseKeyChannelMatMul(mm) || fuseBlockMatMul(mm))
      return true;
    auto a = dequantized(mm->operand(0));
    auto c = dequantized(mm->operand(1));
    bool tb = mm->boolAttr("transpose_b");
    if (!a || !c || a->first->type().dtype() == DType::I4 ||
        c->first->type().dtype() == DType::I4)
      return false; // int_matmul takes i8/u8
    // A per tensor or per row; B per tensor, per row when transposed (its
    // rows are then the output's columns) or per column when not.
    if (!a || !c || (a->second->type().rank() != 0 && !perRow(a->second, a->first)) ||
        (c->second->type().rank() != 0 && !(tb ? perRow(c->second, c->first)
                                               : perColumn(c->second, c->first))))
      return false;
    OpBuilder b = OpBuilder::before(mm);
    std::vector<NamedAttr> attrs;
    if (tb)
      attrs.push_back({"transpose_b", true});
    Value *acc = cantFail(b.value(OpKind::IntMatMul, {a->first, c->first}, attrs));
    acc->setName(mm->result()->name().str() + ".acc");
    Value *y = cantFail(b.value(OpKind::Dequantize, {acc, a->second}));
    Value *colScale = c->second;
    if (tb && colScale->type().rank() != 0) {
      // [..., N, 1] -> [..., 1, N]: one scale per output column.
      llvm::SmallVector<Dim, 4> dims(colScale->type().dims().drop_back(2));
      dims.push_back(Dim(1));
      dims.push_back(colScale->type().dims()[colScale->type().rank() - 2]);
      colScale = cantFail(b.value(OpKind::Reshape, {colScale}, {},
                                  {TensorType(DType::F32, dims)}));
    }
    Value *out = cantFail(b.value(OpKind::Mul, {y, colScale}));
    return replaceWith(mm, out);
  }
};

} // namespace

std::unique_ptr<Pass> createFuseQDQPass() { return std::make_unique<FuseQDQPass>(); }

} // namespace sqc
