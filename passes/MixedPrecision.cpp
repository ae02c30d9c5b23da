//===- passes/MixedPrecision.cpp - Per-linear weight bit widths -----------===//
//
// After `quantize` every linear has INT8 weights. This pass gives each one
// 4 bits, 8 bits or FP32, whichever assignment of the whole model is on the
// Pareto frontier of size vs summed sensitivity-weighted error and fits the
// budget (`avg-bits=5.5`: mean bits per weight; `size-mb=`: the linears'
// codes and scales).
//
// Sensitivity is the layer-wise reconstruction Hessian H = 2 X^T X / rows of
// the linear's calibration input (HAWQ-V2 uses the trace of the loss
// Hessian; a compiler without autograd uses this one). A weight error dW
// changes the output by about tr(dW H dW^T) / 2, which the pass estimates
// from the diagonal of H: `hessian=trace` spreads tr(H) evenly over the
// input channels (HAWQ-V2's average eigenvalue), `hessian=diagonal` keeps
// each channel's own entry.
//
// That error is a layer's output error; how much of it reaches the model's
// loss differs from layer to layer. `sensitivity=measured` asks the loss
// probe (PassContext::lossProbe) what each linear alone at INT4 per row
// costs, and scales every choice of that linear by the ratio of that loss
// to its estimated error: the Hessian still ranks one linear's choices, the
// measured loss weighs linears against each other.
//
// INT4 weights are symmetric per output channel, codes in [-8, 7], with the
// clipping of each channel's max|w| that minimizes that error; with group=G
// a linear may instead take a scale per group of G inputs (and pay for the
// multipliers), each linear as the frontier prefers. The baselines
// the frontier should beat: `assign=in-order` ignores sensitivity and
// upgrades linears in graph order until the budget is spent;
// `assign=uniform` gives every linear the widest width that fits them all.
//
//===----------------------------------------------------------------------===//
#include "passes/MixedPrecision.h"

#include "passes/PassUtils.h"
#include "passes/Passes.h"

#include "runtime/ConstEval.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Sequence.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace sqc {

std::vector<FrontierPoint> paretoFrontier(const std::vector<std::vector<BitChoice>> &layers,
                                          size_t maxPoints) {
  struct State {
    uint64_t cost;
    double error;
    uint32_t parent; // index into the previous stage
    unsigned choice;
  };
  std::vector<std::vector<State>> stages;
  std::vector<State> cur{{0, 0.0, 0, 0}};
  for (const auto &choices : layers) {
    std::vector<State> next;
    for (uint32_t p = 0; p < cur.size(); ++p)
      for (unsigned c = 0; c < choices.size(); ++c)
        next.push_back({cur[p].cost + choices[c].cost, cur[p].error + choices[c].error, p, c});
    std::sort(next.begin(), next.end(), [](const State &a, const State &b) {
      return a.cost != b.cost ? a.cost < b.cost : a.error < b.error;
    });
    // Keep what nothing cheaper beats.
    std::vector<State> front;
    for (const State &s : next)
      if (front.empty() || s.error < front.back().error)
        front.push_back(s);
    // Past maxPoints, a point closer in cost than minGap to the one before
    // the last kept replaces the last: the cheapest and the most accurate
    // points always stay.
    std::vector<State> kept;
    uint64_t minGap = 0;
    if (front.size() > maxPoints && maxPoints > 0)
      minGap = (front.back().cost - front.front().cost) / maxPoints;
    for (const State &s : front) {
      if (minGap && kept.size() >= 2 && s.cost - kept[kept.size() - 2].cost < minGap)
        kept.back() = s;
      else
        kept.push_back(s);
    }
    stages.push_back(cur);
    cur = std::move(kept);
  }
  std::vector<FrontierPoint> out;
  for (const State &end : cur) {
    FrontierPoint f{end.cost, end.error, std::vector<unsigned>(layers.size())};
    const State *s = &end;
    for (size_t l = layers.size(); l-- > 0;) {
      f.choice[l] = s->choice;
      s = &stages[l][s->parent];
    }
    out.push_back(std::move(f));
  }
  return out;
}

double groupedInt4Error(const float *w, int64_t N, int64_t K, int64_t group,
                        const std::vector<double> &h, double minClip,
                        std::vector<double> &rowScales, std::vector<int> &multipliers) {
  int64_t groups = K / group;
  rowScales.assign(N, 1.0);
  multipliers.assign(N * groups, 16);
  double total = 0;
  for (int64_t n = 0; n < N; ++n) {
    // Each group's own best scale; the row's scale lets the largest be 16x.
    std::vector<double> one;
    std::vector<bool> zero(groups);
    double top = 0;
    for (int64_t g = 0; g < groups; ++g) {
      const float *wg = w + n * K + g * group;
      zero[g] = std::all_of(wg, wg + group, [](float v) { return v == 0; });
      if (zero[g])
        continue; // exact at any scale: not a say in the row's
      std::vector<double> hg(h.begin() + g * group, h.begin() + (g + 1) * group);
      quantizationError(wg, 1, group, 4, hg, minClip, one);
      top = std::max(top, one[0]);
    }
    if (top == 0) { // an all-zero row: exact at any scale
      std::fill(multipliers.begin() + n * groups, multipliers.begin() + (n + 1) * groups, 1);
      continue;
    }
    double s = top / 16.0;
    rowScales[n] = s;
    for (int64_t g = 0; g < groups; ++g) {
      if (zero[g]) {
        multipliers[n * groups + g] = 1;
        continue;
      }
      std::vector<double> hg(h.begin() + g * group, h.begin() + (g + 1) * group);
      double bestErr = INFINITY;
      for (int m = 1; m <= 16; ++m) {
        double e = quantizationError(w + n * K + g * group, 1, group, 4, hg,
                                     std::vector<double>{s * m});
        if (e < bestErr)
          bestErr = e, multipliers[n * groups + g] = m;
      }
      total += bestErr;
    }
  }
  return total;
}

namespace {

/// How a linear's weights are quantized at 4 bits: per row, or per group
/// (group > 0) with integer multipliers of the row scale.
struct Int4Plan {
  int64_t group = 0;
  std::vector<double> scales; // per row
  std::vector<int> multipliers;
};

/// One linear the pass may change: linear(dequantize(xq), dequantize(wq, ws)).
struct Candidate {
  Op *linear;
  Value *x;      // the FP32 activation before quantization
  Value *w;      // the FP32 weight before quantization
  int64_t N, K;
  std::vector<double> scale8; // the scales `quantize` chose
};

class MixedPrecisionPass : public Pass {
public:
  MixedPrecisionPass() : Pass("mixed-precision") {
    addOption("avg-bits", &avgBits_, "Budget: mean bits per weight of the quantized linears");
    addOption("size-mb", &sizeMB_, "Budget: megabytes of the linears' codes and scales");
    addOption("hessian", &hessian_,
              "trace: tr(H) spread evenly over input channels (HAWQ-V2); "
              "diagonal: each input channel's own H entry");
    addOption("assign", &assign_,
              "pareto: the frontier point that fits the budget; in-order: upgrade "
              "linears in graph order, ignoring sensitivity; uniform: every linear "
              "the same width, the widest that fits (the baselines)");
    addOption("fp32", &allowFP32_, "Allow leaving a linear in FP32");
    addOption("group", &group_,
              "INT4 scales per group of this many input channels (e.g. 32, 64, 128; "
              "0: one per output channel). Group scales are 1..16 times a per-row "
              "scale, so the weights run on the INT8 kernels exactly. Each linear "
              "still may take INT4 per row, which costs no multipliers");
    addOption("sensitivity", &sensitivity_,
              "hessian: errors as the Hessian estimates them; measured: each linear's "
              "errors scaled to the loss the model measurably gains with it alone at "
              "INT4 (needs a loss probe: sqc quantize --sensitivity measured)");
    addOption("calib", &calibPath_, "Calibration statistics (sqc calibrate)");
    addOption("print-frontier", &printFrontier_, "Print the frontier as a remark");
  }

  PassResult run(Module &m, PassContext &ctx) override {
    if ((avgBits_ > 0) == (sizeMB_ > 0))
      return fail(ctx, "give exactly one budget: avg-bits=B or size-mb=M");
    if (hessian_ != "trace" && hessian_ != "diagonal")
      return fail(ctx, "hessian must be trace or diagonal, got '" + hessian_ + "'");
    if (sensitivity_ != "hessian" && sensitivity_ != "measured")
      return fail(ctx, "sensitivity must be hessian or measured, got '" + sensitivity_ + "'");
    if (sensitivity_ == "measured" && assign_ == "pareto" && !ctx.lossProbe)
      return fail(ctx, "sensitivity=measured needs a loss probe, which runs the model "
                       "(sqc quantize --sensitivity measured); sqc-opt has none");
    if (assign_ != "pareto" && assign_ != "in-order" && assign_ != "uniform")
      return fail(ctx, "assign must be pareto, in-order or uniform, got '" + assign_ + "'");
    if (group_ < 0 || group_ == 1)
      return fail(ctx, "group must be 0 (per row) or at least 2, got " + llvm::Twine(group_));
    if (!resolveCalibration(ctx, calibPath_, loaded_, stats_))
      return PassResult::Failed;
    if (!stats_)
      return fail(ctx, "needs calibration statistics (mixed-precision{calib=stats.json})");
    ConstEvaluator eval(ctx.weights);

    std::vector<Candidate> cands;
    std::vector<std::vector<BitChoice>> layers;
    std::vector<std::vector<Int4Plan>> plans; // per candidate, per choice
    uint64_t params = 0;
    for (auto &g : m.graphs())
      for (Op &op : g->ops()) {
        auto c = candidate(op);
        if (!c)
          continue;
        const ActivationStats *s = stats_->find(c->x->name());
        std::vector<double> h = s ? s->hessianDiagonal() : std::vector<double>();
        if (int64_t(h.size()) != c->K) {
          ctx.diag.remark(op.loc(), "mixed-precision: no calibration statistics for %" +
                                        c->x->name() + "; left at 8 bits");
          continue;
        }
        if (hessian_ == "trace") {
          double tr = 0;
          for (double v : h)
            tr += v;
          std::fill(h.begin(), h.end(), tr / double(c->K));
        }
        auto wt = eval.evaluate(c->w);
        if (!wt) {
          ctx.diag.error(op.loc(), "mixed-precision: " + llvm::toString(wt.takeError()));
          return PassResult::Failed;
        }
        const float *w = (*wt)->floats().data();
        // INT4 per row; with group=G also per group, which costs the
        // multipliers and is usually more accurate: the frontier decides
        // per linear. Every linear has the same list of choices, so
        // uniform and in-order assignments can walk them by index.
        std::vector<Int4Plan> plan(1);
        double rowError = quantizationError(w, c->N, c->K, 4, h, 0.4, plan[0].scales);
        std::vector<BitChoice> choices{{4, cost(*c, 4), rowError}};
        if (group_ > 0) {
          Int4Plan grouped = plan[0];
          double e = rowError;
          // One group per row would be per-row INT4 plus a multiplier.
          if (c->K % group_ == 0 && c->K / group_ >= 2) {
            grouped.group = group_;
            e = groupedInt4Error(w, c->N, c->K, group_, h, 0.4, grouped.scales,
                                 grouped.multipliers);
          } else {
            ctx.diag.remark(op.loc(), "mixed-precision: " + llvm::Twine(c->K) +
                                          " input channels do not make two or more groups "
                                          "of " + llvm::Twine(group_) +
                                          "; 4 bits per row instead");
          }
          choices.push_back({4, cost(*c, 4, grouped.group), e, grouped.group});
          plan.push_back(std::move(grouped));
        }
        double e8 = quantizationError(w, c->N, c->K, 8, h, c->scale8);
        choices.push_back({8, cost(*c, 8), e8});
        if (allowFP32_)
          choices.push_back({32, cost(*c, 32), 0.0});
        params += uint64_t(c->N * c->K);
        cands.push_back(std::move(*c));
        layers.push_back(std::move(choices));
        plans.push_back(std::move(plan));
      }
    if (cands.empty()) {
      ctx.diag.remark(Location::unknown(), "mixed-precision: no quantized linear to assign");
      return PassResult::Unchanged;
    }
    // In-order and uniform ignore errors: nothing to measure for them.
    if (sensitivity_ == "measured" && assign_ == "pareto" &&
        !weighByMeasuredLoss(m, ctx, cands, layers, plans))
      return PassResult::Failed;
    // Budgets past what any model holds (or infinite) mean "no limit".
    double want = avgBits_ > 0 ? avgBits_ * double(params) : sizeMB_ * 1e6;
    // Rounded, not truncated: a size read back from megabytes may come out
    // a hair under the bytes it was.
    uint64_t budget = want < 1.8e19 ? uint64_t(std::llround(want)) : UINT64_MAX;
    uint64_t smallest = 0;
    for (const auto &l : layers)
      smallest += l[0].cost;
    if (smallest > budget)
      ctx.diag.warning(Location::unknown(),
                       "mixed-precision: nothing fits the budget; using the smallest "
                       "assignment");
    std::vector<unsigned> pick;
    if (assign_ == "in-order") {
      pick = inOrder(layers, budget);
    } else if (assign_ == "uniform") {
      pick = uniform(layers, budget);
    } else {
      auto frontier = paretoFrontier(layers);
      // The most accurate point within the budget; the cheapest if none fits.
      const FrontierPoint *best = &frontier.front();
      for (const FrontierPoint &f : frontier)
        if (f.cost <= budget)
          best = &f;
      if (printFrontier_)
        report(ctx, frontier, layers, cands, *best);
      pick = best->choice;
    }
    summarize(ctx, layers, cands, pick);
    bool changed = false;
    for (size_t i = 0; i < cands.size(); ++i)
      changed |= apply(cands[i], layers[i][pick[i]].bits, // INT4 choices come first
                       plans[i][pick[i] < plans[i].size() ? pick[i] : 0]);
    return changed ? PassResult::Changed : PassResult::Unchanged;
  }

private:
  PassResult fail(PassContext &ctx, const llvm::Twine &msg) {
    ctx.diag.error(Location::unknown(), "mixed-precision: " + msg);
    return PassResult::Failed;
  }

  static std::optional<Candidate> candidate(Op &op) {
    if (op.kind() != OpKind::Linear)
      return std::nullopt;
    Op *xdq = op.operand(0)->definingOp(), *wdq = op.operand(1)->definingOp();
    if (!xdq || !wdq || xdq->kind() != OpKind::Dequantize ||
        wdq->kind() != OpKind::Dequantize)
      return std::nullopt;
    Op *xq = xdq->operand(0)->definingOp(), *wq = wdq->operand(0)->definingOp();
    if (!xq || !wq || wq->kind() != OpKind::Quantize || wq->numOperands() != 2 ||
        wq->result()->type().dtype() != DType::I8 || !isCompileTimeValue(wq->operand(0)) ||
        (xq->kind() != OpKind::Quantize && xq->kind() != OpKind::QuantizeDynamic))
      return std::nullopt;
    const TensorType &wt = wq->operand(0)->type();
    const Op *sc = wq->operand(1)->definingOp();
    if (wt.rank() != 2 || !wt.isStatic() || !sc || sc->kind() != OpKind::Constant)
      return std::nullopt;
    Candidate c{&op, xq->operand(0), wq->operand(0), wt.dim(0).size(), wt.dim(1).size(), {}};
    const DenseElements &d = sc->attr("value")->getDense();
    c.scale8 = d.values;
    if (c.scale8.size() != 1 && int64_t(c.scale8.size()) != c.N)
      return std::nullopt;
    return c;
  }

  /// Bits (avg-bits) or bytes (size-mb, with the f32 scales and the u8
  /// group multipliers) of `c` at `bits`.
  uint64_t cost(const Candidate &c, int bits, int64_t group = 0) const {
    uint64_t codeBits = uint64_t(c.N * c.K) * bits;
    if (avgBits_ > 0)
      return codeBits;
    return (codeBits + 7) / 8 + (bits < 32 ? uint64_t(c.N) * 4 : 0) +
           (group > 0 ? uint64_t(c.N * (c.K / group)) : 0);
  }

  /// Every linear at its cheapest choice, then upgraded one step at a time
  /// in graph order while the budget allows.
  static std::vector<unsigned> inOrder(const std::vector<std::vector<BitChoice>> &layers,
                                       uint64_t budget) {
    std::vector<unsigned> pick(layers.size(), 0);
    uint64_t total = 0;
    for (const auto &l : layers)
      total += l[0].cost;
    for (unsigned step = 1; step < layers.front().size(); ++step)
      for (size_t i = 0; i < layers.size(); ++i) {
        if (step >= layers[i].size() || pick[i] != step - 1)
          continue;
        uint64_t extra = layers[i][step].cost - layers[i][step - 1].cost;
        if (total + extra <= budget)
          total += extra, pick[i] = step;
      }
    return pick;
  }

  /// The same choice (4 bits per row or per group, 8 bits, FP32) for every
  /// linear: the widest whose total fits the budget, or the cheapest when
  /// nothing does.
  static std::vector<unsigned> uniform(const std::vector<std::vector<BitChoice>> &layers,
                                       uint64_t budget) {
    unsigned best = 0;
    for (unsigned step = 1; step < layers.front().size(); ++step) {
      uint64_t total = 0;
      for (const auto &l : layers)
        total += l[step].cost;
      if (total <= budget)
        best = step;
    }
    return std::vector<unsigned>(layers.size(), best);
  }

  /// Mean weight bits and megabytes (codes and scales) of an assignment.
  std::pair<double, double> measure(const std::vector<std::vector<BitChoice>> &layers,
                                    const std::vector<Candidate> &cands,
                                    const std::vector<unsigned> &pick) const {
    double bits = 0, params = 0, bytes = 0;
    for (size_t i = 0; i < cands.size(); ++i) {
      const BitChoice &c = layers[i][pick[i]];
      double n = double(cands[i].N * cands[i].K);
      bits += n * c.bits;
      params += n;
      bytes += std::ceil(n * c.bits / 8) + (c.bits < 32 ? 4.0 * cands[i].N : 0); // as cost()
      if (c.group > 0)
        bytes += double(cands[i].N * (cands[i].K / c.group)); // u8 multipliers
    }
    return {bits / params, bytes / 1e6};
  }

  /// How many linears an assignment leaves at 4 bits, 8 bits and FP32.
  static std::array<unsigned, 3> countByWidth(const std::vector<std::vector<BitChoice>> &layers,
                                              const std::vector<unsigned> &pick) {
    std::array<unsigned, 3> count{0, 0, 0};
    for (size_t l = 0; l < layers.size(); ++l)
      ++count[layers[l][pick[l]].bits == 4 ? 0 : layers[l][pick[l]].bits == 8 ? 1 : 2];
    return count;
  }

  void report(PassContext &ctx, const std::vector<FrontierPoint> &frontier,
              const std::vector<std::vector<BitChoice>> &layers,
              const std::vector<Candidate> &cands, const FrontierPoint &chosen) const {
    // At most about 24 rows, evenly spaced along the frontier, and the chosen one.
    std::string table = "mixed-precision: Pareto frontier (" +
                        std::to_string(frontier.size()) + " points)\n" +
                        "   avg-bits   size-MB   weighted-error  int4  int8  fp32\n";
    size_t stride = std::max<size_t>(1, frontier.size() / 24);
    for (size_t i = 0; i < frontier.size(); ++i) {
      const FrontierPoint &f = frontier[i];
      bool isChosen = &f == &chosen;
      if (i % stride != 0 && i + 1 != frontier.size() && !isChosen)
        continue;
      auto [bits, mb] = measure(layers, cands, f.choice);
      std::array<unsigned, 3> count = countByWidth(layers, f.choice);
      table += llvm::formatv(" {0} {1,8:F3} {2,9:F4} {3,16:E4} {4,5} {5,5} {6,5}\n",
                             isChosen ? "*" : " ", bits, mb, f.error, count[0], count[1],
                             count[2]);
    }
    ctx.diag.remark(Location::unknown(), table + "(* chosen)");
  }

  void summarize(PassContext &ctx, const std::vector<std::vector<BitChoice>> &layers,
                 const std::vector<Candidate> &cands, const std::vector<unsigned> &pick) const {
    auto [bits, mb] = measure(layers, cands, pick);
    double err = 0;
    std::string which;
    for (size_t i = 0; i < cands.size(); ++i) {
      err += layers[i][pick[i]].error;
      const BitChoice &c = layers[i][pick[i]];
      which += " " + std::to_string(c.bits) + (c.group ? "g" + std::to_string(c.group) : "");
    }
    ctx.statistics["mixed-precision.avg-bits"] = bits;
    ctx.statistics["mixed-precision.size-mb"] = mb;
    ctx.statistics["mixed-precision.weighted-error"] = err;
    std::array<unsigned, 3> count = countByWidth(layers, pick);
    ctx.statistics["mixed-precision.linears-int4"] = count[0];
    ctx.statistics["mixed-precision.linears-int8"] = count[1];
    ctx.statistics["mixed-precision.linears-fp32"] = count[2];
    ctx.diag.remark(Location::unknown(),
                    llvm::formatv("mixed-precision ({0}): {1:F3} bits per weight, {2:F4} MB, "
                                  "weighted error {3:E4}; bits by linear:{4}",
                                  assign_, bits, mb, err, which)
                        .str());
  }

  /// sensitivity=measured: probes the loss with each linear alone at INT4
  /// per row (the others as `quantize` left them) and scales the linear's
  /// errors so that this choice's error is the loss it added.
  bool weighByMeasuredLoss(Module &m, PassContext &ctx, const std::vector<Candidate> &cands,
                           std::vector<std::vector<BitChoice>> &layers,
                           const std::vector<std::vector<Int4Plan>> &plans) const {
    auto probeFailed = [&](llvm::Error e) {
      ctx.diag.error(Location::unknown(),
                     "mixed-precision: loss probe: " + llvm::toString(std::move(e)));
      return false;
    };
    // A NaN or infinite loss would poison every comparison of the frontier.
    auto notFinite = [&](double loss, llvm::StringRef what) {
      ctx.diag.error(Location::unknown(),
                     llvm::formatv("mixed-precision: loss probe measured {0} {1}; is the "
                                   "model's output finite?",
                                   loss, what)
                         .str());
      return false;
    };
    llvm::Expected<double> base = ctx.lossProbe(m);
    if (!base)
      return probeFailed(base.takeError());
    if (!std::isfinite(*base))
      return notFinite(*base, "with every linear at 8 bits");
    std::vector<double> rise(cands.size()), gain(cands.size());
    for (size_t i = 0; i < cands.size(); ++i) {
      Op *linear = cands[i].linear;
      Value *int8 = linear->operand(1);
      apply(cands[i], 4, plans[i][0]);
      llvm::Expected<double> loss = ctx.lossProbe(m);
      Op *int4 = linear->operand(1)->definingOp();
      linear->setOperand(1, int8);
      eraseUnusedChain(int4);
      if (!loss)
        return probeFailed(loss.takeError());
      if (!std::isfinite(*loss))
        return notFinite(*loss, "with " + linear->result()->name().str() + " at INT4");
      // A rise below the probe's resolution (or a fall) counts as none.
      rise[i] = std::max(0.0, *loss - *base);
      gain[i] = layers[i][0].error > 0 ? rise[i] / layers[i][0].error : 0.0;
    }
    // A linear whose INT4 added nothing measurable still keeps the
    // Hessian's ranking of its choices, at the smallest gain measured (all
    // at 1 when nothing was measurable): a gain of 0 would make every
    // choice of it free, and so the cheapest always.
    double floor = 0;
    for (double g : gain)
      if (g > 0 && (floor == 0 || g < floor))
        floor = g;
    std::string table;
    for (size_t i = 0; i < cands.size(); ++i) {
      double g = gain[i] > 0 ? gain[i] : floor > 0 ? floor : 1.0;
      for (BitChoice &c : layers[i])
        c.error *= g;
      table += llvm::formatv("  {0,-44} {1,12:E3} {2,12:E3}\n",
                             cands[i].linear->result()->name(), rise[i], g)
                   .str();
    }
    if (printFrontier_)
      ctx.diag.remark(Location::unknown(),
                      llvm::formatv("mixed-precision: measured loss {0:E4} with every linear "
                                    "at 8 bits; added by each alone at INT4 per row:\n"
                                    "  {1,-44} {2,12} {3,12}\n",
                                    *base, "linear", "loss added", "gain")
                              .str() +
                          table);
    return true;
  }

  /// Erases `op` when nothing uses its results, then the ops that made its
  /// operands, as far as they are now unused.
  static void eraseUnusedChain(Op *op) {
    llvm::SmallVector<Op *, 8> work{op};
    llvm::SmallPtrSet<Op *, 8> erased; // a maker may be reached twice
    while (!work.empty()) {
      Op *o = work.pop_back_val();
      if (!o || erased.count(o) || o->kind() == OpKind::Return ||
          llvm::any_of(llvm::seq(0u, o->numResults()),
                       [&](unsigned i) { return o->result(i)->hasUses(); }))
        continue;
      for (Value *v : o->operands())
        work.push_back(v->definingOp());
      o->erase();
      erased.insert(o);
    }
  }

  /// Rewrites `c` to `bits`; whether it changed.
  static bool apply(const Candidate &c, int bits, const Int4Plan &plan) {
    if (bits == 8)
      return false;
    Op *lin = c.linear;
    if (bits == 32) {
      lin->setOperand(0, c.x);
      lin->setOperand(1, c.w);
      return true;
    }
    OpBuilder b = OpBuilder::before(lin);
    if (plan.group > 0) {
      applyGrouped(b, c, plan);
      return true;
    }
    Value *scale = createF32Constant(b, plan.scales, {Dim(c.N), Dim(1)});
    Value *q = cantFail(b.value(OpKind::Quantize, {c.w, scale}, {},
                                {c.w->type().withDType(DType::I4)}));
    if (!c.w->name().empty())
      q->setName(c.w->name().str() + ".q4");
    lin->setOperand(1, cantFail(b.value(OpKind::Dequantize, {q, scale})));
    return true;
  }

  /// Grouped INT4 as the IR sees it: codes of w[N, G, K/G] on the group
  /// scales, reshaped to [N, K], expanded by the multipliers to INT8 codes on
  /// the row scales, dequantized per row.
  static void applyGrouped(OpBuilder &b, const Candidate &c, const Int4Plan &plan) {
    int64_t G = c.K / plan.group;
    std::vector<double> groupScales(c.N * G), mult(c.N * G);
    for (int64_t n = 0; n < c.N; ++n)
      for (int64_t g = 0; g < G; ++g) {
        mult[n * G + g] = plan.multipliers[n * G + g];
        groupScales[n * G + g] = plan.scales[n] * mult[n * G + g];
      }
    std::string name = c.w->name().empty() ? "" : c.w->name().str() + ".q4";
    Value *wg = cantFail(b.value(OpKind::Reshape, {c.w}, {},
                                 {TensorType(DType::F32, {Dim(c.N), Dim(G), Dim(plan.group)})}));
    Value *gs = createF32Constant(b, groupScales, {Dim(c.N), Dim(G), Dim(1)});
    Value *qg = cantFail(b.value(OpKind::Quantize, {wg, gs}, {}, {wg->type().withDType(DType::I4)}));
    Value *q = cantFail(b.value(OpKind::Reshape, {qg}, {},
                                {TensorType(DType::I4, {Dim(c.N), Dim(c.K)})}));
    q->setName(name);
    Value *m = createIntConstant(b, DType::U8, mult, {Dim(c.N), Dim(G)});
    Value *codes = cantFail(b.value(OpKind::ExpandGroups, {q, m}));
    if (!name.empty())
      codes->setName(name + ".i8");
    Value *scale = createF32Constant(b, plan.scales, {Dim(c.N), Dim(1)});
    c.linear->setOperand(1, cantFail(b.value(OpKind::Dequantize, {codes, scale})));
  }

  double avgBits_ = 0;
  int64_t group_ = 0;
  double sizeMB_ = 0;
  std::string hessian_ = "diagonal";
  std::string assign_ = "pareto";
  std::string sensitivity_ = "hessian";
  bool allowFP32_ = true;
  bool printFrontier_ = true;
  std::string calibPath_;
  const CalibrationStats *stats_ = nullptr;
  std::optional<CalibrationStats> loaded_;
};

} // namespace

std::unique_ptr<Pass> createMixedPrecisionPass() {
  return std::make_unique<MixedPrecisionPass>();
}

} // namespace sqc
