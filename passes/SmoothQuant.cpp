//===- passes/SmoothQuant.cpp - Migrate activation outliers into weights --===//
//
// SmoothQuant: for an activation X read by linears Y = X W^T, per input
// channel j pick s_j = max|X_j|^alpha / max|W_:j|^(1-alpha) (the weight max
// over every linear that reads X), divide X's channel j by s_j where X is
// produced and multiply column j of each consumer's weight by s_j. The
// product is unchanged in real arithmetic; the outliers move into weights,
// where per-channel quantization absorbs them.
//
// Where 1/s goes, by what produces X:
//  - rms_norm / layer_norm: into gamma (and beta);
//  - silu(gate) * up (and other activations of a gate): into up's rows and
//    bias, since X_j = act(gate_j) * up_j is linear in up_j;
//  - attention output: into v's rows and bias. Output channel (h, d) is a
//    convex combination of V channel (h / G, d) over time, so the scales of
//    the G query heads that share a KV head must agree: the pass uses their
//    maximum for all of them.
// Anything else is left alone with a remark saying why. The scales appear in
// the IR as `mul` by constants on the weights, so the rewrite is visible and
// exact; `sqc quantize` materializes the products.
//
//===----------------------------------------------------------------------===//
#include "passes/PassUtils.h"
#include "passes/Passes.h"

#include "runtime/Calibration.h"
#include "runtime/ConstEval.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <map>

namespace sqc {

namespace {

/// A linear whose input is the smoothed activation.
struct Consumer {
  Op *linear;
};

/// Where 1/s is folded.
enum class ProducerKind { Norm, GatedUp, AttentionV };

struct Group {
  Value *x;                 // the activation being smoothed
  std::vector<Op *> consumers;
  ProducerKind kind;
  Op *producer;             // norm, or the linear whose rows are scaled
  // Attention: X channel c reads producer row rowOf[c]; producer rows that
  // feed no X channel (q, k of a fused projection) keep scale 1.
  std::vector<int64_t> rowOf;
};

bool isLinearInput(const Op *user, const Value *x) {
  return user->kind() == OpKind::Linear && user->operand(0) == x &&
         user->operand(1) != x;
}

const Op *defOf(const Value *v, OpKind kind) {
  const Op *d = v->definingOp();
  return d && d->kind() == kind ? d : nullptr;
}

bool hasPerm(const Op *op, llvm::ArrayRef<int64_t> perm) {
  return op->intArrayAttr("perm") == perm;
}

class SmoothQuantPass : public Pass {
public:
  SmoothQuantPass() : Pass("smooth-quant") {
    addOption("alpha", &alphaText_,
              "Migration strength in [0, 1] (0 leaves activations, 1 moves all "
              "of their range into weights), or auto: per group, the grid value "
              "with the least quantized output error on calibration rows");
    addOption("min-outlier-ratio", &minOutlierRatio_,
              "Leave activations whose largest channel max is less than this "
              "many times the median channel max (no outliers to migrate)");
    addOption("auto-acts", &autoActs_,
              "Activation scales alpha=auto assumes: per-token or per-tensor");
    addOption("paths", &paths_,
              "Which producers to fold into, joined by +: norms+gated+attention");
    addOption("calib", &calibPath_,
              "Calibration statistics (sqc calibrate); defaults to the ones "
              "the driver provides");
  }

  PassResult run(Module &m, PassContext &ctx) override {
    double alpha = -1; // auto
    if (alphaText_ != "auto" &&
        (llvm::StringRef(alphaText_).getAsDouble(alpha) || alpha < 0 || alpha > 1)) {
      ctx.diag.error(Location::unknown(),
                     "smooth-quant: alpha must be a number in [0, 1] or auto, got '" +
                         alphaText_ + "'");
      return PassResult::Failed;
    }
    const CalibrationStats *stats;
    if (!resolveCalibration(ctx, calibPath_, loaded_, stats))
      return PassResult::Failed;
    if (!stats) {
      ctx.diag.error(Location::unknown(),
                     "smooth-quant needs calibration statistics: give "
                     "smooth-quant{calib=stats.json} (from sqc calibrate)");
      return PassResult::Failed;
    }
    ConstEvaluator eval(ctx.weights);
    bool changed = false;
    for (auto &g : m.graphs())
      for (Group &group : findGroups(*g, ctx)) {
        std::optional<bool> r = smooth(group, alpha, *stats, eval, ctx);
        if (!r) // reported
          return PassResult::Failed;
        changed |= *r;
      }
    return changed ? PassResult::Changed : PassResult::Unchanged;
  }

private:
  /// Activations read only by linears, with a producer we can fold into.
  std::vector<Group> findGroups(Graph &g, PassContext &ctx) {
    std::vector<Group> groups;
    llvm::DenseSet<const Value *> seen;
    for (Op &op : g.ops()) {
      if (op.kind() != OpKind::Linear || !seen.insert(op.operand(0)).second)
        continue;
      Value *x = op.operand(0);
      if (llvm::all_of(x->users(), isHadamardRotation))
        continue; // rotate-qk's: Q and K are not linear inputs to smooth
      Group group{x, {}, ProducerKind::Norm, nullptr, {}};
      bool onlyLinears = true;
      for (Op *u : x->users()) {
        if (!isLinearInput(u, x)) {
          onlyLinears = false;
          break;
        }
        if (llvm::find(group.consumers, u) == group.consumers.end())
          group.consumers.push_back(u);
      }
      Op *def = x->definingOp();
      if (!def)
        continue; // a graph argument: nothing to fold 1/s into
      if (!onlyLinears) {
        ctx.diag.remark(def->loc(), "smooth-quant: not smoothing %" + x->name() +
                                        ": it also feeds ops other than linears");
        continue;
      }
      if (def->kind() == OpKind::RmsNorm || def->kind() == OpKind::LayerNorm) {
        if (!wants("norms"))
          continue;
        group.kind = ProducerKind::Norm;
        group.producer = def;
      } else if (Op *up = gatedUp(def)) {
        if (!wants("gated"))
          continue;
        group.kind = ProducerKind::GatedUp;
        group.producer = up;
      } else if (Op *v = attentionV(x, group.rowOf)) {
        if (!wants("attention"))
          continue;
        group.kind = ProducerKind::AttentionV;
        group.producer = v;
      } else {
        ctx.diag.remark(def->loc(), "smooth-quant: not smoothing %" + x->name() +
                                        ": no norm, gate or attention to fold "
                                        "the scale into");
        continue;
      }
      groups.push_back(std::move(group));
    }
    return groups;
  }

  /// For X = act(gate) * up with `up` a linear used only here: up.
  static Op *gatedUp(Op *mul) {
    if (mul->kind() != OpKind::Mul || mul->operand(0)->type() != mul->operand(1)->type())
      return nullptr;
    for (unsigned i = 0; i < 2; ++i) {
      Op *up = mul->operand(i)->definingOp();
      Op *act = mul->operand(1 - i)->definingOp();
      bool isAct = act && (act->kind() == OpKind::Silu || act->kind() == OpKind::Gelu ||
                           act->kind() == OpKind::Relu || act->kind() == OpKind::Sigmoid);
      if (up && up->kind() == OpKind::Linear && isAct &&
          up->result()->users().size() == 1)
        return up;
    }
    return nullptr;
  }

  /// Recognizes the attention the importers emit, from its output X back to
  /// the linear that produces V:
  ///   X = reshape(transpose<2,0,1,3>(matmul(P, transpose<1,2,0,3>(
  ///         reshape[ctx,KV,1,hs](concat(past, reshape[seq,KV,hs](V)))))))
  /// with V a linear, or a slice of one (a fused qkv projection). Fills
  /// rowOf[c] with the producer row that X channel c is made of.
  static Op *attentionV(Value *x, std::vector<int64_t> &rowOf) {
    const Op *rs = defOf(x, OpKind::Reshape);
    const Op *tr = rs ? defOf(rs->operand(0), OpKind::Transpose) : nullptr;
    const Op *mm = tr && hasPerm(tr, {2, 0, 1, 3}) ? defOf(tr->operand(0), OpKind::MatMul)
                                                  : nullptr;
    if (!mm || mm->boolAttr("transpose_b"))
      return nullptr;
    const Op *vt = defOf(mm->operand(1), OpKind::Transpose);
    const Op *vg = vt && hasPerm(vt, {1, 2, 0, 3}) ? defOf(vt->operand(0), OpKind::Reshape)
                                                  : nullptr;
    const Op *cat = vg ? defOf(vg->operand(0), OpKind::Concat) : nullptr;
    if (!cat || cat->numOperands() != 2 || cat->intAttr("axis") != 0)
      return nullptr;
    const Op *v3 = defOf(cat->operand(1), OpKind::Reshape);
    if (!v3 || v3->result()->type().rank() != 3 || vg->result()->type().rank() != 4)
      return nullptr;
    const TensorType &o = mm->result()->type(); // [KV, G, seq, hs]
    const TensorType &vv = v3->result()->type(); // [seq, KV, hs]
    if (o.rank() != 4 || !o.dim(0).isStatic() || !o.dim(1).isStatic() ||
        !o.dim(3).isStatic() || vg->result()->type().dim(2) != Dim(1) ||
        vv.dim(1) != o.dim(0) || vv.dim(2) != o.dim(3))
      return nullptr;
    int64_t KV = o.dim(0).size(), G = o.dim(1).size(), hs = o.dim(3).size();
    if (x->type().rank() != 2 || x->type().dim(1) != Dim(KV * G * hs))
      return nullptr;
    // The V projection: a linear, or a slice of one along features.
    Op *src = v3->operand(0)->definingOp();
    int64_t offset = 0;
    if (src && src->kind() == OpKind::Slice) {
      if (src->intAttr("axis") != 1 && src->intAttr("axis") != -1)
        return nullptr;
      offset = src->intAttr("start");
      src = src->operand(0)->definingOp();
    } else if (src && src->result()->users().size() != 1) {
      return nullptr;
    }
    if (!src || src->kind() != OpKind::Linear)
      return nullptr;
    rowOf.assign(KV * G * hs, 0);
    for (int64_t kv = 0; kv < KV; ++kv)
      for (int64_t g = 0; g < G; ++g)
        for (int64_t d = 0; d < hs; ++d)
          rowOf[(kv * G + g) * hs + d] = offset + kv * hs + d;
    return src;
  }

  /// Inserts `mul(v, constant)` before `before` and returns it.
  static Value *scaled(Value *v, std::vector<double> scale,
                       llvm::ArrayRef<Dim> scaleDims, Op *before,
                       llvm::StringRef name) {
    OpBuilder b = OpBuilder::before(before);
    return scaledByConstant(b, v, std::move(scale), scaleDims, name);
  }

  /// s_j for `alpha`; for attention, the scales of query heads that share a
  /// KV head are made equal (their maximum).
  static std::vector<double> scales(const Group &group, double alpha,
                                    const ActivationStats &xs,
                                    const std::vector<double> &wmax) {
    size_t C = wmax.size();
    std::vector<double> s(C, 1.0);
    for (size_t j = 0; j < C; ++j) {
      double a = xs.channelAbsMax[j], w = wmax[j];
      if (a > 0 && w > 0)
        s[j] = std::clamp(std::pow(a, alpha) / std::pow(w, 1 - alpha), 1e-5, 1e5);
    }
    if (group.kind == ProducerKind::AttentionV) {
      std::map<int64_t, double> perRow;
      for (size_t c = 0; c < C; ++c)
        perRow[group.rowOf[c]] = std::max(perRow[group.rowOf[c]], s[c]);
      for (size_t c = 0; c < C; ++c)
        s[c] = perRow[group.rowOf[c]];
    }
    return s;
  }

  /// Symmetric INT8 rounding of `v` with step `scale`.
  static double fakeQuant(double v, double scale) {
    return scale > 0 ? std::clamp(std::nearbyint(v / scale), -127.0, 127.0) * scale : 0;
  }

  /// Squared error of the consumers' outputs on the sample rows when X / s is
  /// quantized (per token or per tensor) and W s per output channel.
  double quantizedError(const ActivationStats &xs,
                        const std::vector<std::pair<Op *, const Tensor *>> &weights,
                        const std::vector<double> &s) const {
    size_t C = s.size(), R = xs.rows.size();
    std::vector<std::vector<double>> xq(R, std::vector<double>(C));
    double tensorMax = 0;
    for (const auto &row : xs.rows)
      for (size_t j = 0; j < C; ++j)
        tensorMax = std::max(tensorMax, std::fabs(row[j] / s[j]));
    for (size_t r = 0; r < R; ++r) {
      double rowMax = 0;
      for (size_t j = 0; j < C; ++j)
        rowMax = std::max(rowMax, std::fabs(xs.rows[r][j] / s[j]));
      double scale = (autoActs_ == "per-tensor" ? tensorMax : rowMax) / 127.0;
      for (size_t j = 0; j < C; ++j)
        xq[r][j] = fakeQuant(xs.rows[r][j] / s[j], scale);
    }
    double err = 0;
    for (const auto &[lin, w] : weights) {
      int64_t N = w->shape()[0];
      std::vector<double> wq(C);
      for (int64_t n = 0; n < N; ++n) {
        double rowMax = 0;
        for (size_t j = 0; j < C; ++j)
          rowMax = std::max(rowMax, std::fabs(w->get(n * C + j) * s[j]));
        for (size_t j = 0; j < C; ++j)
          wq[j] = fakeQuant(w->get(n * C + j) * s[j], rowMax / 127.0);
        for (size_t r = 0; r < R; ++r) {
          double exact = 0, quant = 0;
          for (size_t j = 0; j < C; ++j) {
            exact += double(xs.rows[r][j]) * w->get(n * C + j);
            quant += xq[r][j] * wq[j];
          }
          err += (exact - quant) * (exact - quant);
        }
      }
    }
    return err;
  }

  /// Smooths one group; whether it changed anything, or nullopt after
  /// reporting an error.
  std::optional<bool> smooth(Group &group, double alpha,
                              const CalibrationStats &stats, ConstEvaluator &eval,
                              PassContext &ctx) {
    Value *x = group.x;
    Location loc = x->definingOp()->loc();
    const ActivationStats *xs = stats.find(x->name());
    int64_t C = x->type().dims().back().isStatic() ? x->type().dims().back().size() : -1;
    if (!xs || int64_t(xs->channelAbsMax.size()) != C) {
      ctx.diag.remark(loc, "smooth-quant: no calibration statistics for %" +
                               x->name() + " with " + llvm::Twine(C) + " channels");
      return false;
    }
    if (minOutlierRatio_ > 0) {
      std::vector<double> sorted = xs->channelAbsMax;
      std::nth_element(sorted.begin(), sorted.begin() + C / 2, sorted.end());
      double median = sorted[C / 2];
      double peak = *std::max_element(xs->channelAbsMax.begin(), xs->channelAbsMax.end());
      if (median > 0 && peak / median < minOutlierRatio_) {
        ctx.diag.remark(loc, "smooth-quant: not smoothing %" + x->name() +
                                 ": channel max/median " +
                                 llvm::formatv("{0:F1}", peak / median).str() +
                                 " is below min-outlier-ratio");
        return false;
      }
    }
    // max |W_:j| over every consumer's weight.
    std::vector<double> wmax(C, 0.0);
    for (Op *lin : group.consumers) {
      if (!isCompileTimeValue(lin->operand(1))) {
        ctx.diag.remark(lin->loc(), "smooth-quant: not smoothing %" + x->name() +
                                        ": a consumer's weight is not known at "
                                        "compile time");
        return false;
      }
      auto w = eval.evaluate(lin->operand(1));
      if (!w) {
        ctx.diag.error(lin->loc(), "smooth-quant: " + llvm::toString(w.takeError()));
        return std::nullopt;
      }
      for (int64_t i = 0; i < (*w)->numElements(); ++i)
        wmax[i % C] = std::max(wmax[i % C], std::fabs((*w)->get(i)));
    }
    std::vector<std::pair<Op *, const Tensor *>> weights;
    for (Op *lin : group.consumers)
      weights.push_back({lin, cantFail(eval.evaluate(lin->operand(1)))}); // cached above
    if (alpha < 0) {
      if (xs->rows.empty()) {
        ctx.diag.error(loc, "smooth-quant: alpha=auto needs sample rows of %" +
                                x->name() + " (sqc calibrate --keep-rows N)");
        return std::nullopt;
      }
      double best = INFINITY;
      for (int step = 0; step <= 10; ++step) {
        double a = step / 10.0;
        double err = quantizedError(*xs, weights, scales(group, a, *xs, wmax));
        if (err < best) {
          best = err;
          alpha = a;
        }
      }
    }
    std::vector<double> s = scales(group, alpha, *xs, wmax);
    std::vector<double> inv(C);
    for (int64_t j = 0; j < C; ++j)
      inv[j] = 1.0 / s[j];

    Op *p = group.producer;
    std::string base = x->name().str() + ".smooth";
    switch (group.kind) {
    case ProducerKind::Norm:
      for (unsigned i = 1; i < p->numOperands(); ++i) // gamma, beta
        p->setOperand(i, scaled(p->operand(i), inv, {C}, p,
                                base + (i == 1 ? ".gamma" : ".beta")));
      break;
    case ProducerKind::GatedUp:
    case ProducerKind::AttentionV: {
      // Scale producer rows (and bias entries); rows outside X stay.
      const TensorType &wt = p->operand(1)->type();
      int64_t rows = wt.dim(0).size();
      std::vector<double> rowInv(rows, 1.0);
      for (int64_t c = 0; c < C; ++c)
        rowInv[group.kind == ProducerKind::GatedUp ? c : group.rowOf[c]] = inv[c];
      p->setOperand(1, scaled(p->operand(1), rowInv, {rows, 1}, p, base + ".rows"));
      if (p->numOperands() == 3)
        p->setOperand(2, scaled(p->operand(2), rowInv, {rows}, p, base + ".bias"));
      break;
    }
    }
    for (Op *lin : group.consumers)
      lin->setOperand(1, scaled(lin->operand(1), s, {C}, lin, base + ".cols"));
    eval.clear();
    return true;
  }

  bool wants(llvm::StringRef path) const {
    llvm::SmallVector<llvm::StringRef, 3> parts;
    llvm::StringRef(paths_).split(parts, '+');
    return llvm::is_contained(parts, path);
  }

  std::string alphaText_ = "0.5";
  std::string autoActs_ = "per-token";
  double minOutlierRatio_ = 0;
  std::string paths_ = "norms+gated+attention";
  std::string calibPath_;
  std::optional<CalibrationStats> loaded_;
};

} // namespace

std::unique_ptr<Pass> createSmoothQuantPass() {
  return std::make_unique<SmoothQuantPass>();
}

} // namespace sqc
