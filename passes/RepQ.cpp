//===- passes/RepQ.cpp - RepQ-ViT scale reparameterization for norms ------===//
//
// Post-norm activations vary a lot from channel to channel, so a per-tensor
// quantizer wastes most of its codes; per-channel asymmetric quantization
// (scale s_c, zero point z_c, u8 codes) fits them, but a GEMM cannot use
// per-channel scales along its reduction. RepQ-ViT folds the channel
// variation away: with s~ = mean(s), z~ = round(mean(z)), r = s / s~ and
// d = s~ (z - z~),
//
//   x~ = x / r + d      quantized per tensor with (s~, z~)
//
// gives exactly the per-channel codes, since x~ / s~ = x / s_c + (z_c - z~)
// and z_c - z~ is an integer. The norm produces x~ directly (gamma / r; for
// LayerNorm beta / r + d; RMSNorm has no beta, so an `add` of d follows it),
// and each consumer undoes it: W' = W diag(r), bias' = bias - W' d (a bias is
// added where there was none). The product is unchanged in real arithmetic.
//
// mode=per-channel instead quantizes x per channel with (s_c, z_c) and
// leaves the rest alone: the accuracy the reparameterization must match;
// mode=per-tensor quantizes it with one (s, z) for its whole range.
// Weights are left to `quantize`, which quantizes the consumers' weights and
// keeps these activation quantizers.
//
//===----------------------------------------------------------------------===//
#include "passes/PassUtils.h"
#include "passes/Passes.h"

#include "runtime/ConstEval.h"

#include <cmath>
#include <numeric>

namespace sqc {

namespace {

class RepQPass : public Pass {
public:
  RepQPass() : Pass("repq") {
    addOption("mode", &mode_,
              "reparameterize: fold the per-channel quantizer into the norm and the "
              "next linears; per-channel: quantize per channel (the reference it "
              "must match); per-tensor: one asymmetric quantizer for the tensor's "
              "whole range, without reparameterizing (what it improves on)");
    addOption("calib", &calibPath_, "Calibration statistics (sqc calibrate)");
  }

  PassResult run(Module &m, PassContext &ctx) override {
    if (mode_ != "reparameterize" && mode_ != "per-channel" && mode_ != "per-tensor") {
      ctx.diag.error(Location::unknown(), "repq: mode must be reparameterize, per-channel "
                                          "or per-tensor, got '" + mode_ + "'");
      return PassResult::Failed;
    }
    if (!resolveCalibration(ctx, calibPath_, loaded_, stats_))
      return PassResult::Failed;
    if (!stats_) {
      ctx.diag.error(Location::unknown(),
                     "repq: needs calibration statistics (repq{calib=stats.json})");
      return PassResult::Failed;
    }
    ConstEvaluator eval(ctx.weights);
    bool changed = false;
    for (auto &g : m.graphs()) {
      std::vector<Op *> norms;
      for (Op &op : g->ops())
        if (op.kind() == OpKind::RmsNorm || op.kind() == OpKind::LayerNorm)
          norms.push_back(&op);
      for (Op *norm : norms) {
        std::optional<bool> r = rewrite(norm, eval, ctx);
        if (!r)
          return PassResult::Failed;
        changed |= *r;
      }
    }
    return changed ? PassResult::Changed : PassResult::Unchanged;
  }

private:
  /// Per-channel asymmetric u8 quantizer of one activation.
  struct Quantizer {
    std::vector<double> scale, zero; // per channel
    double tensorScale = 0, tensorZero = 0;
  };

  static Quantizer fit(const ActivationStats &s) {
    Quantizer q;
    size_t C = s.channelMin.size();
    for (size_t c = 0; c < C; ++c) {
      // The range must hold 0 (exact zeros, and zero points in [0, 255]).
      double lo = std::min(s.channelMin[c], 0.0), hi = std::max(s.channelMax[c], 0.0);
      double scale = hi > lo ? (hi - lo) / 255.0 : 1e-8;
      q.scale.push_back(scale);
      q.zero.push_back(std::clamp(std::nearbyint(-lo / scale), 0.0, 255.0));
    }
    q.tensorScale = std::accumulate(q.scale.begin(), q.scale.end(), 0.0) / double(C);
    q.tensorZero = std::nearbyint(std::accumulate(q.zero.begin(), q.zero.end(), 0.0) /
                                  double(C));
    return q;
  }

  /// Whether `norm` was rewritten; nullopt after an error.
  std::optional<bool> rewrite(Op *norm, ConstEvaluator &eval, PassContext &ctx) {
    Value *x = norm->result();
    std::vector<Op *> consumers;
    for (Op *u : x->users()) {
      bool ok = u->kind() == OpKind::Linear && u->operand(0) == x && u->operand(1) != x &&
                isCompileTimeValue(u->operand(1)) &&
                (u->numOperands() < 3 || isCompileTimeValue(u->operand(2)));
      if (!ok) {
        ctx.diag.remark(norm->loc(), "repq: not reparameterizing %" + x->name() +
                                         ": it also feeds something other than linears "
                                         "with compile-time weights");
        return false;
      }
      if (llvm::find(consumers, u) == consumers.end())
        consumers.push_back(u);
    }
    if (consumers.empty())
      return false;
    const ActivationStats *s = stats_->find(x->name());
    int64_t C = x->type().dims().back().isStatic() ? x->type().dims().back().size() : -1;
    if (!s || int64_t(s->channelMin.size()) != C || int64_t(s->channelMax.size()) != C) {
      ctx.diag.remark(norm->loc(), "repq: no per-channel min/max for %" + x->name() +
                                       "; left alone");
      return false;
    }
    // Every consumer's weight before anything changes: an error leaves the
    // graph as it was.
    std::vector<const Tensor *> weights;
    for (Op *lin : consumers) {
      auto w = eval.evaluate(lin->operand(1));
      if (!w) {
        ctx.diag.error(lin->loc(), "repq: " + llvm::toString(w.takeError()));
        return std::nullopt;
      }
      weights.push_back(*w);
    }
    Quantizer q = fit(*s);
    std::string base = x->name().str() + ".repq";
    OpBuilder after(*norm->graph(), std::next(norm->getIterator()), norm->loc());
    if (mode_ != "reparameterize") {
      bool perChannel = mode_ == "per-channel";
      if (!perChannel) {
        ActivationStats whole;
        whole.channelMin = {*std::min_element(s->channelMin.begin(), s->channelMin.end())};
        whole.channelMax = {*std::max_element(s->channelMax.begin(), s->channelMax.end())};
        q = fit(whole);
      }
      llvm::SmallVector<Dim, 1> dims;
      if (perChannel)
        dims.push_back(Dim(C));
      Value *scale = createF32Constant(after, q.scale, dims);
      Value *zero = createIntConstant(after, DType::I32, q.zero, dims);
      Value *dq = fakeQuantize(after, x, scale, zero, base);
      for (Op *lin : consumers)
        lin->setOperand(0, dq);
      return true;
    }
    std::vector<double> r(C), invR(C), shift(C);
    bool anyShift = false;
    for (int64_t c = 0; c < C; ++c) {
      r[c] = q.scale[c] / q.tensorScale;
      invR[c] = 1.0 / r[c];
      shift[c] = q.tensorScale * (q.zero[c] - q.tensorZero);
      anyShift |= shift[c] != 0;
    }
    // The norm yields x / r + d.
    OpBuilder before = OpBuilder::before(norm);
    norm->setOperand(1,
                     scaledByConstant(before, norm->operand(1), invR, {Dim(C)}, base + ".gamma"));
    Value *xt = x;
    if (norm->kind() == OpKind::LayerNorm && norm->numOperands() == 3) {
      Value *beta = scaledByConstant(before, norm->operand(2), invR, {Dim(C)}, "");
      Value *d = createF32Constant(before, shift, {Dim(C)});
      Value *shifted = cantFail(before.value(OpKind::Add, {beta, d}));
      shifted->setName(base + ".beta");
      norm->setOperand(2, shifted);
    } else if (anyShift) {
      Value *d = createF32Constant(after, shift, {Dim(C)});
      xt = cantFail(after.value(OpKind::Add, {x, d}));
      xt->setName(base + ".shifted");
    }
    Value *scale = createF32Constant(after, {q.tensorScale}, {});
    Value *zero = createIntConstant(after, DType::I32, {q.tensorZero}, {});
    Value *dq = fakeQuantize(after, xt, scale, zero, base);
    // Each consumer: W diag(r), and bias - W diag(r) d.
    for (size_t i = 0; i < consumers.size(); ++i) {
      Op *lin = consumers[i];
      const Tensor &w = *weights[i];
      int64_t N = w.shape()[0];
      std::vector<double> correction(N, 0.0);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c)
          correction[n] -= w.get(n * C + c) * r[c] * shift[c];
      OpBuilder b = OpBuilder::before(lin);
      Value *wr = scaledByConstant(b, lin->operand(1), r, {Dim(C)}, base + ".cols");
      std::vector<Value *> operands{dq, wr};
      if (anyShift) {
        Value *bias = createF32Constant(b, correction, {Dim(N)});
        if (lin->numOperands() == 3)
          bias = cantFail(b.value(OpKind::Add, {lin->operand(2), bias}));
        operands.push_back(bias);
      } else if (lin->numOperands() == 3) {
        operands.push_back(lin->operand(2));
      }
      Value *y = cantFail(b.value(OpKind::Linear, operands));
      y->setName(lin->result()->name().str());
      lin->result()->setName("");
      lin->result()->replaceAllUsesWith(y);
      lin->erase();
    }
    eval.clear();
    return true;
  }

  /// dequantize(quantize(x, scale, zero) : u8, scale, zero).
  static Value *fakeQuantize(OpBuilder &b, Value *x, Value *scale, Value *zero,
                             const std::string &base) {
    Value *q = cantFail(b.value(OpKind::Quantize, {x, scale, zero}, {},
                                {x->type().withDType(DType::U8)}));
    q->setName(base + ".q");
    return cantFail(b.value(OpKind::Dequantize, {q, scale, zero}));
  }

  std::string mode_ = "reparameterize";
  std::string calibPath_;
  const CalibrationStats *stats_ = nullptr;
  std::optional<CalibrationStats> loaded_;
};

} // namespace

std::unique_ptr<Pass> createRepQPass() { return std::make_unique<RepQPass>(); }

} // namespace sqc
