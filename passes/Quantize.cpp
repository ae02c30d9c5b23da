//===- passes/Quantize.cpp - Insert W8A8 quantize/dequantize pairs --------===//
//
// Every linear whose weight is known at compile time gets symmetric INT8
// fake quantization on both inputs:
//
//   w  -> dequantize(quantize(w, ws), ws)      ws: per output channel [N,1]
//                                                  or per tensor []
//   x  -> dequantize(quantize_dynamic(x))      per token, or per tensor,
//         dequantize(quantize(x, xs), xs)      or per tensor with a static
//                                              scale from calibration
//
// With bmm=true the two operands of each attention matmul are quantized
// too, at the same level (at O1 queries per token, keys per channel with
// their scales folded into the queries, values per column; the softmax
// probabilities u8 per block of a row at every level, see
// quantizeBmmOperand); linears
// the graph returns (the LM head) stay FP32 unless keep-head=false. The
// paper's levels: O1 = per-token dynamic, O2 = per-tensor dynamic, O3 =
// per-tensor static activations. Numerics change by
// exactly the rounding this makes explicit; fuse-qdq then turns the patterns
// into integer arithmetic. Norms, softmax and residual adds stay FP32.
//
//===----------------------------------------------------------------------===//
#include "passes/PassUtils.h"
#include "passes/Passes.h"
#include "passes/WeightError.h"

#include "runtime/Calibration.h"
#include "runtime/ConstEval.h"

#include <algorithm>
#include <cmath>

namespace sqc {

namespace {

class QuantizePass : public Pass {
public:
  QuantizePass() : Pass("quantize") {
    addOption("weights", &weights_,
              "per-channel or per-tensor weight scales, or fp32: weights left in FP32 "
              "and only the activations quantized (A8, to study activation "
              "quantizers apart from the weights' rounding)");
    addOption("acts", &acts_,
              "per-token, per-tensor-dynamic or per-tensor-static activation scales");
    addOption("bmm", &bmm_, "Also quantize the attention matmuls (Q K^T and P V)");
    addOption("calib", &calibPath_,
              "Calibration statistics, for per-tensor-static (sqc calibrate)");
    addOption("keep-head", &keepHead_,
              "Leave linears whose result the graph returns (the LM head) in "
              "FP32, as SmoothQuant's reference setup does");
    addOption("percentile", &usePercentile_,
              "Static scales from the recorded percentile instead of the max");
    addOption("softmax", &softmax_,
              "With bmm=true, the attention probabilities' quantizer: uniform (u8 "
              "steps of the maximum of each block of softmax-block probabilities "
              "in a row, at every level), fixed (u8 steps of 1/255), log-sqrt2 or "
              "log2 (logarithmic codes, RepQ-ViT; fuse-qdq turns P V into shifts "
              "and adds)");
    addOption("softmax-block", &softmaxBlock_,
              "With softmax=uniform, the probabilities per u8 scale along the "
              "context (0: the whole row)");
    addOption("keys", &keys_,
              "With bmm=true and acts=per-token, the keys of Q K^T: per-channel (a "
              "scale per channel over the context, folded into the queries before "
              "their per-token quantization) or per-token");
    addOption("weight-clip", &weightClip_,
              "max: weight scale max|w| / 127; mse: per scale group, the clipping "
              "of max|w| (100% down to 70%) with the least squared rounding error");
  }

  PassResult run(Module &m, PassContext &ctx) override {
    if (weights_ != "per-channel" && weights_ != "per-tensor" && weights_ != "fp32")
      return fail(ctx, "weights must be per-channel, per-tensor or fp32, got '" + weights_ +
                           "'");
    if (weightClip_ != "max" && weightClip_ != "mse")
      return fail(ctx, "weight-clip must be max or mse, got '" + weightClip_ + "'");
    if (softmaxBlock_ < 0)
      return fail(ctx, "softmax-block must be >= 0, got " + llvm::Twine(softmaxBlock_));
    if (keys_ != "per-channel" && keys_ != "per-token")
      return fail(ctx, "keys must be per-channel or per-token, got '" + keys_ + "'");
    if (softmax_ != "uniform" && softmax_ != "fixed" && softmax_ != "log2" &&
        softmax_ != "log-sqrt2")
      return fail(ctx, "softmax must be uniform, fixed, log2 or log-sqrt2, got '" +
                           softmax_ + "'");
    if (acts_ != "per-token" && acts_ != "per-tensor-dynamic" &&
        acts_ != "per-tensor-static")
      return fail(ctx, "acts must be per-token, per-tensor-dynamic or "
                       "per-tensor-static, got '" + acts_ + "'");
    if (!resolveCalibration(ctx, calibPath_, loaded_, stats_))
      return PassResult::Failed;
    if (acts_ == "per-tensor-static" && !stats_)
      return fail(ctx, "acts=per-tensor-static needs calibration statistics "
                       "(quantize{calib=stats.json})");
    ConstEvaluator eval(ctx.weights);
    bool changed = false;
    for (auto &g : m.graphs()) {
      std::vector<Op *> targets;
      for (Op &op : g->ops())
        if ((op.kind() == OpKind::Linear && !(keepHead_ && isGraphOutput(op.result()))) ||
            (bmm_ && op.kind() == OpKind::MatMul))
          targets.push_back(&op);
      for (Op *op : targets) {
        std::optional<bool> r = op->kind() == OpKind::Linear
                                     ? quantizeLinear(op, eval, ctx)
                                     : std::optional<bool>(quantizeMatMul(op, ctx));
        if (!r) // reported
          return PassResult::Failed;
        changed |= *r;
      }
    }
    return changed ? PassResult::Changed : PassResult::Unchanged;
  }

private:
  PassResult fail(PassContext &ctx, const llvm::Twine &msg) {
    ctx.diag.error(Location::unknown(), "quantize: " + msg);
    return PassResult::Failed;
  }

  /// Fake-quantizes activation `x` for use by `user`; nullopt (after a
  /// remark) when a static scale is missing.
  std::optional<Value *> quantizeActivation(Value *x, Op *user, PassContext &ctx) {
    OpBuilder b = OpBuilder::before(user);
    if (acts_ == "per-tensor-static") {
      const ActivationStats *s = stats_->find(x->name());
      double range = s ? (usePercentile_ ? stats_->percentileValue(x->name()) : s->absMax)
                       : 0;
      if (!s || !(range > 0)) {
        ctx.diag.remark(user->loc(), "quantize: no calibration range for %" +
                                         x->name() + "; left in FP32");
        return std::nullopt;
      }
      Value *scale = createF32Constant(b, {range / 127.0}, {});
      Value *q = cantFail(b.value(OpKind::Quantize, {x, scale}, {},
                                  {x->type().withDType(DType::I8)}));
      nameAfter(q, x, ".q");
      return cantFail(b.value(OpKind::Dequantize, {q, scale}));
    }
    std::vector<NamedAttr> attrs; // per-token is the default
    if (acts_ != "per-token")
      attrs.push_back({"granularity", "per-tensor"});
    Op *qd = cantFail(b.create(OpKind::QuantizeDynamic, {x}, attrs));
    nameAfter(qd->result(0), x, ".q");
    return cantFail(b.value(OpKind::Dequantize, {qd->result(0), qd->result(1)}));
  }

  /// Per-tensor dynamic or static quantization of a matmul operand.
  std::optional<Value *> quantizeBmmOperand(Value *x, Op *user, PassContext &ctx) {
    // Softmax output is non-negative: u8 steps of the maximum of each block
    // of softmax-block probabilities along the row (of the whole row with
    // 0), found at run time, at every level: even O3 needs no statistics
    // here. With one step per row, the small probabilities far from a
    // row's peak round to a few codes or none; blocks away from the peak
    // get steps of their own. fuse-qdq sums each block's products exactly
    // and scales them (block_int_matmul). softmax=fixed puts P on 1/255
    // instead (SmoothQuant's static choice).
    const Op *def = x->definingOp();
    bool isSoftmax = def && def->kind() == OpKind::Softmax;
    if (isSoftmax && (softmax_ == "log2" || softmax_ == "log-sqrt2") &&
        x == user->operand(0)) {
      OpBuilder b = OpBuilder::before(user);
      std::vector<NamedAttr> base; // sqrt2, the default, is not spelled out
      if (softmax_ == "log2")
        base.push_back({"base", "2"});
      Value *q = cantFail(b.value(OpKind::QuantizeLog2, {x}, base));
      nameAfter(q, x, ".q");
      return cantFail(b.value(OpKind::DequantizeLog2, {q}, base));
    }
    if (isSoftmax && softmax_ == "uniform" && x == user->operand(0)) {
      OpBuilder b = OpBuilder::before(user);
      std::vector<NamedAttr> attrs{{"unsigned", true}}, block;
      if (softmaxBlock_ > 0) {
        attrs.push_back({"granularity", "per-block"});
        block.push_back({"block", softmaxBlock_});
        attrs.push_back(block.back());
      }
      Op *qd = cantFail(b.create(OpKind::QuantizeDynamic, {x}, attrs));
      nameAfter(qd->result(0), x, ".q");
      return cantFail(b.value(OpKind::Dequantize, {qd->result(0), qd->result(1)}, block));
    }
    if (isSoftmax) {
      OpBuilder b = OpBuilder::before(user);
      Value *scale = createF32Constant(b, {1.0 / 255.0}, {});
      Value *q = cantFail(b.value(OpKind::Quantize, {x, scale}, {},
                                  {x->type().withDType(DType::U8)}));
      nameAfter(q, x, ".q");
      return cantFail(b.value(OpKind::Dequantize, {q, scale}));
    }
    bool rowsContract = x == user->operand(0) || user->boolAttr("transpose_b");
    // Per token: A's rows (queries, probabilities) and transposed B's rows
    // (keys) factor out of the product; B's columns (values) do too.
    if (acts_ == "per-token") {
      OpBuilder b = OpBuilder::before(user);
      std::vector<NamedAttr> attrs;
      if (!rowsContract)
        attrs.push_back({"granularity", "per-column"});
      Op *qd = cantFail(b.create(OpKind::QuantizeDynamic, {x}, attrs));
      nameAfter(qd->result(0), x, ".q");
      return cantFail(b.value(OpKind::Dequantize, {qd->result(0), qd->result(1)}));
    }
    return quantizeActivation(x, user, ctx);
  }

  /// Whether `lin` was quantized; nullopt after reporting an error.
  std::optional<bool> quantizeLinear(Op *lin, ConstEvaluator &eval, PassContext &ctx) {
    Value *w = lin->operand(1);
    // An activation quantized already (by repq) keeps its quantizer; the
    // weight is still ours to quantize.
    if (!isCompileTimeValue(w) || isDequantized(w))
      return false;
    if (weights_ == "fp32") {
      if (isDequantized(lin->operand(0)))
        return false;
      std::optional<Value *> x = quantizeActivation(lin->operand(0), lin, ctx);
      if (x)
        lin->setOperand(0, *x);
      return x.has_value();
    }
    auto wt = eval.evaluate(w);
    if (!wt) {
      ctx.diag.error(lin->loc(), "quantize: " + llvm::toString(wt.takeError()));
      return std::nullopt;
    }
    int64_t N = (*wt)->shape()[0], K = (*wt)->shape()[1];
    bool perChannel = weights_ == "per-channel";
    std::vector<double> ws(perChannel ? N : 1, 1.0);
    int64_t group = perChannel ? K : N * K;
    for (size_t g = 0; g < ws.size(); ++g)
      ws[g] = weightScale((*wt)->floats().data() + g * group, group);
    std::optional<Value *> x = lin->operand(0);
    if (!isDequantized(*x))
      x = quantizeActivation(*x, lin, ctx);
    if (!x)
      return false;
    OpBuilder b = OpBuilder::before(lin);
    Value *scale = perChannel ? createF32Constant(b, ws, {N, 1}) : createF32Constant(b, ws, {});
    Value *wq = cantFail(b.value(OpKind::Quantize, {w, scale}, {},
                                 {w->type().withDType(DType::I8)}));
    nameAfter(wq, w, ".q");
    Value *wdq = cantFail(b.value(OpKind::Dequantize, {wq, scale}));
    lin->setOperand(0, *x);
    lin->setOperand(1, wdq);
    return true;
  }

  bool quantizeMatMul(Op *mm, PassContext &ctx) {
    if (isDequantized(mm->operand(0)) || isDequantized(mm->operand(1)))
      return false;
    const Op *lhs = mm->operand(0)->definingOp();
    if (mm->boolAttr("transpose_b") && acts_ == "per-token" && keys_ == "per-channel" &&
        !(lhs && lhs->kind() == OpKind::Softmax)) {
      quantizeKeysPerChannel(mm);
      return true;
    }
    auto a = quantizeBmmOperand(mm->operand(0), mm, ctx);
    auto c = a ? quantizeBmmOperand(mm->operand(1), mm, ctx) : std::nullopt;
    if (!a || !c)
      return false;
    mm->setOperand(0, *a);
    mm->setOperand(1, *c);
    return true;
  }

  /// Q K^T with K quantized per channel d over the context (scale k_d) and
  /// Q per token after multiplying its channel d by k_d:
  ///   (dequantize(quantize_dynamic(Q k), qs) / k) (dequantize(Kq, k))^T
  /// equals qs * (Qq Kq^T) in real arithmetic, so fuse-qdq makes it one
  /// int_matmul scaled per row. Keys often carry a few large channels (in
  /// rotary models, the slowest frequencies); per token they would set the
  /// step for every other channel of their row. Like the values' column
  /// scales, the key scales span the whole context: in a prefill, later
  /// keys' ranges shape earlier rows' codes.
  static void quantizeKeysPerChannel(Op *mm) {
    OpBuilder b = OpBuilder::before(mm);
    Value *q = mm->operand(0), *k = mm->operand(1);
    Op *kq = cantFail(b.create(OpKind::QuantizeDynamic, {k}, {{"granularity", "per-column"}}));
    nameAfter(kq->result(0), k, ".q");
    Value *ks = kq->result(1);
    Value *kd = cantFail(b.value(OpKind::Dequantize, {kq->result(0), ks}));
    Value *qk = nameAfter(cantFail(b.value(OpKind::Mul, {q, ks})), q, ".kscaled");
    Op *qq = cantFail(b.create(OpKind::QuantizeDynamic, {qk}));
    nameAfter(qq->result(0), q, ".q");
    Value *qd = cantFail(b.value(OpKind::Dequantize, {qq->result(0), qq->result(1)}));
    mm->setOperand(0, cantFail(b.value(OpKind::Div, {qd, ks})));
    mm->setOperand(1, kd);
  }

  /// The scale of one group of weights: max|w| / 127, or with
  /// weight-clip=mse the clipped maximum (100% down to 70%, in 1% steps)
  /// whose int8 rounding (saturating at -128 and 127, as quantize does)
  /// leaves the least squared error.
  double weightScale(const float *w, int64_t n) const {
    std::vector<double> scale;
    quantizationError(w, 1, n, 8, std::vector<double>(n, 1.0),
                      weightClip_ == "mse" ? 0.70 : 1.0, scale, /*clipStep=*/0.01);
    return scale[0];
  }

  /// Names `v` after `from` with `suffix` (x.q for x's codes), when `from`
  /// has a name.
  static Value *nameAfter(Value *v, const Value *from, llvm::StringRef suffix) {
    if (!from->name().empty())
      v->setName(from->name().str() + suffix.str());
    return v;
  }

  static bool isGraphOutput(const Value *v) {
    for (const Op *u : v->users())
      if (u->kind() == OpKind::Return)
        return true;
    return false;
  }


  std::string weights_ = "per-channel";
  std::string weightClip_ = "max";
  std::string softmax_ = "uniform";
  int64_t softmaxBlock_ = 32;
  std::string keys_ = "per-channel";
  std::string acts_ = "per-token";
  bool bmm_ = false;
  bool usePercentile_ = false;
  bool keepHead_ = true;
  std::string calibPath_;
  const CalibrationStats *stats_ = nullptr;
  std::optional<CalibrationStats> loaded_;
};

} // namespace

std::unique_ptr<Pass> createQuantizePass() { return std::make_unique<QuantizePass>(); }

} // namespace sqc
