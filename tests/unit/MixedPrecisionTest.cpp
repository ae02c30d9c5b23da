//===- tests/unit/MixedPrecisionTest.cpp - The bit-width search -----------===//
//
// The Pareto frontier against brute force over every assignment of small
// random problems, the weighted quantization error against what it should
// be on hand-made weights, and sensitivity=measured against a loss probe
// whose answers are known.
//
//===----------------------------------------------------------------------===//
#include "passes/MixedPrecision.h"

#include "TestUtil.h"
#include "ir/Printer.h"
#include "passes/PassManager.h"
#include "runtime/Calibration.h"

#include <array>
#include <cmath>
#include <random>

#include <gtest/gtest.h>

using namespace sqc;

namespace {

TEST(MixedPrecisionTest, FrontierEqualsBruteForce) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    size_t L = 1 + rng() % 6;
    std::vector<std::vector<BitChoice>> layers(L);
    for (auto &l : layers) {
      uint64_t n = 1 + rng() % 50;
      double e4 = std::uniform_real_distribution<double>(0.1, 10)(rng);
      l = {{4, 4 * n, e4}, {8, 8 * n, e4 / (2 + rng() % 30)}, {32, 32 * n, 0.0}};
    }
    std::vector<FrontierPoint> frontier = paretoFrontier(layers);
    // Brute force: every assignment, then the ones nothing beats.
    std::vector<std::pair<uint64_t, double>> all;
    size_t total = 1;
    for (size_t i = 0; i < L; ++i)
      total *= 3;
    for (size_t code = 0; code < total; ++code) {
      uint64_t cost = 0;
      double err = 0;
      for (size_t i = 0, c = code; i < L; ++i, c /= 3)
        cost += layers[i][c % 3].cost, err += layers[i][c % 3].error;
      all.push_back({cost, err});
    }
    std::vector<std::pair<uint64_t, double>> best;
    for (auto p : all) {
      bool dominated = false;
      for (auto q : all)
        dominated |= (q.first <= p.first && q.second < p.second) ||
                     (q.first < p.first && q.second <= p.second);
      if (!dominated && std::find(best.begin(), best.end(), p) == best.end())
        best.push_back(p);
    }
    std::sort(best.begin(), best.end());
    ASSERT_EQ(frontier.size(), best.size()) << "trial " << trial;
    for (size_t i = 0; i < best.size(); ++i) {
      EXPECT_EQ(frontier[i].cost, best[i].first);
      EXPECT_NEAR(frontier[i].error, best[i].second, 1e-9);
      // The recorded choices add up to the point.
      uint64_t cost = 0;
      for (size_t l = 0; l < L; ++l)
        cost += layers[l][frontier[i].choice[l]].cost;
      EXPECT_EQ(cost, frontier[i].cost);
    }
  }
}

TEST(MixedPrecisionTest, ThinnedFrontierStaysOrdered) {
  std::vector<std::vector<BitChoice>> layers;
  for (int i = 0; i < 40; ++i)
    layers.push_back({{4, uint64_t(400 + i), 1.0 + i}, {8, uint64_t(800 + 2 * i), 0.1}});
  std::vector<FrontierPoint> f = paretoFrontier(layers, 16);
  ASSERT_GE(f.size(), 2u);
  EXPECT_LE(f.size(), 40u);
  for (size_t i = 1; i < f.size(); ++i) {
    EXPECT_GT(f[i].cost, f[i - 1].cost);
    EXPECT_LT(f[i].error, f[i - 1].error);
  }
  EXPECT_EQ(f.front().choice, std::vector<unsigned>(40, 0));
  EXPECT_EQ(f.back().choice, std::vector<unsigned>(40, 1));
}

TEST(MixedPrecisionTest, WeightedErrorOfHandMadeWeights) {
  // Codes land exactly on the 4-bit grid of scale 1/7: no error.
  std::vector<float> exact = {1.0f, -1.0f / 7, 3.0f / 7, 0.0f};
  std::vector<double> h = {1, 1, 1, 1}, scales;
  EXPECT_NEAR(quantizationError(exact.data(), 1, 4, 4, h, 1.0, scales), 0.0, 1e-12);
  EXPECT_NEAR(scales[0], 1.0 / 7, 1e-12);
  // One weight halfway between codes: its error, weighted by its channel.
  std::vector<float> w = {1.0f, 0.5f / 7, 0.0f, 0.0f};
  std::vector<double> hw = {1, 10, 1, 1};
  double e = quantizationError(w.data(), 1, 4, 4, hw, std::vector<double>{1.0 / 7});
  EXPECT_NEAR(e, 10 * (0.5 / 7) * (0.5 / 7), 1e-6); // w is a float
  // Clipping: a clipped scale may do better, never worse, than max|w| / 7.
  std::vector<float> tail = {1.0f, 0.3f, -0.21f, 0.12f, 0.05f, -0.33f, 0.27f, 0.18f};
  std::vector<double> h8(8, 1.0);
  double clipped = quantizationError(tail.data(), 1, 8, 4, h8, 0.4, scales);
  double full = quantizationError(tail.data(), 1, 8, 4, h8, std::vector<double>{1.0 / 7});
  EXPECT_LE(clipped, full);
  // More bits, less error, for the same clipping range.
  EXPECT_LT(quantizationError(tail.data(), 1, 8, 8, h8, 1.0, scales), full);
}

TEST(MixedPrecisionTest, GroupedInt4CodesFitInt8AndHelp) {
  // Rows whose halves differ in range tenfold: one scale per row wastes the
  // small half's codes, one per group of 8 does not.
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0, 1);
  const int64_t N = 6, K = 16;
  std::vector<float> w(N * K);
  for (int64_t i = 0; i < N * K; ++i)
    w[i] = normal(rng) * ((i % K) < 8 ? 1.0f : 0.1f);
  std::vector<double> h(K, 1.0), rowScales, perRow;
  std::vector<int> mult;
  double grouped = groupedInt4Error(w.data(), N, K, 8, h, 0.4, rowScales, mult);
  double rows = quantizationError(w.data(), N, K, 4, h, 0.4, perRow);
  EXPECT_LT(grouped, rows / 2); // the small halves stop rounding to zero
  ASSERT_EQ(mult.size(), size_t(N * 2));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < 2; ++g) {
      int m = mult[n * 2 + g];
      EXPECT_GE(m, 1);
      EXPECT_LE(m, 16);
      // Codes in [-8, 7] times m stay INT8.
      EXPECT_GE(-8 * m, -128);
      EXPECT_LE(7 * m, 127);
    }
  // The error is what quantizing each group on scale row * m leaves.
  double recomputed = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < 2; ++g)
      recomputed += quantizationError(w.data() + n * K + g * 8, 1, 8, 4,
                                      std::vector<double>(8, 1.0),
                                      std::vector<double>{rowScales[n] * mult[n * 2 + g]});
  EXPECT_NEAR(grouped, recomputed, 1e-12 * (1 + grouped));
}

/// tests/lit/passes/mixed-precision.sqir's graph: three linears share one
/// weight, and the Hessian of %x2 (its statistics) is by far the largest.
const char *kThreeLinears = R"(
graph @three(%x1: f32[?s,4], %x2: f32[?s,4], %x3: f32[?s,4]) -> (f32[?s,2], f32[?s,2], f32[?s,2]) {
  %w = constant {value = dense<[0.9, -0.31, 0.45, 0.13, -0.77, 0.2, 0.05, 0.6]>} : f32[2,4]
  %y1 = linear %x1, %w : f32[?s,2]
  %y2 = linear %x2, %w : f32[?s,2]
  %y3 = linear %x3, %w : f32[?s,2]
  return %y1, %y2, %y3
}
)";

/// Whether each linear of kThreeLinears reads 4-bit weights.
std::array<bool, 3> int4Weights(const Module &m) {
  std::array<bool, 3> out{};
  unsigned i = 0;
  for (const Op &op : m.graphs().front()->ops()) {
    if (op.kind() != OpKind::Linear)
      continue;
    const Op *dq = op.operand(1)->definingOp();
    out.at(i++) = dq && dq->kind() == OpKind::Dequantize &&
                  dq->operand(0)->type().dtype() == DType::I4;
  }
  return out;
}

struct Assigned {
  bool ok = false;            // whether the passes succeeded
  std::array<bool, 3> int4{}; // per linear, as int4Weights
  std::string text;           // the module printed
  std::string errors;         // diagnostics
};

/// Runs quantize and mixed-precision{options} on kThreeLinears with `probe`
/// (and no dce, so that what probing leaves behind would show).
Assigned assignThree(llvm::StringRef options,
                     std::function<llvm::Expected<double>(Module &)> probe) {
  Assigned a;
  auto m = test::parseAndVerify(kThreeLinears, a.errors);
  EXPECT_TRUE(m) << a.errors;
  auto stats =
      CalibrationStats::load(SQC_TEST_DIR "/lit/passes/Inputs/mixed-precision-stats.json");
  EXPECT_TRUE(bool(stats)) << llvm::toString(stats.takeError());
  if (!m || !stats)
    return a;
  llvm::raw_string_ostream os(a.errors);
  DiagnosticEngine diag(os);
  auto nodes = parsePipeline(
      ("quantize{keep-head=false},mixed-precision{" + options + "}").str(), diag);
  EXPECT_TRUE(bool(nodes)) << a.errors;
  PassManager pm;
  pm.setPipeline(std::move(*nodes));
  PassContext ctx{diag, nullptr, &*stats};
  ctx.lossProbe = std::move(probe);
  a.ok = succeeded(pm.run(*m, ctx));
  a.int4 = int4Weights(*m);
  llvm::raw_string_ostream out(a.text);
  printModule(*m, out);
  return a;
}

TEST(MixedPrecisionTest, MeasuredLossOverridesTheHessian) {
  // The loss as the probe sees it: %y1 at 4 bits costs far more than %y2,
  // the reverse of what the Hessians say.
  const double cost[3] = {1.0, 1e-3, 1e-4};
  std::vector<std::array<bool, 3>> probed;
  auto probe = [&](Module &m) -> llvm::Expected<double> {
    std::array<bool, 3> int4 = int4Weights(m);
    probed.push_back(int4);
    double loss = 0.5;
    for (int i = 0; i < 3; ++i)
      loss += int4[i] ? cost[i] : 0.0;
    return loss;
  };
  // Room for one linear at 8 bits: the Hessian gives it to %y2.
  std::array<bool, 3> y2At8{true, false, true}, y1At8{false, true, true};
  Assigned hessian = assignThree("avg-bits=5.5", nullptr);
  Assigned measured = assignThree("avg-bits=5.5,sensitivity=measured", probe);
  EXPECT_TRUE(hessian.ok && measured.ok) << hessian.errors << measured.errors;
  EXPECT_EQ(hessian.int4, y2At8);
  EXPECT_EQ(measured.int4, y1At8);
  // The probe saw every linear at 8 bits, then each alone at 4.
  std::vector<std::array<bool, 3>> expected{
      {false, false, false}, {true, false, false}, {false, true, false}, {false, false, true}};
  EXPECT_EQ(probed, expected);

  // Probing leaves nothing behind: with room for all at 8 bits, the module
  // is the Hessian's.
  probed.clear();
  EXPECT_EQ(assignThree("avg-bits=8,sensitivity=measured", probe).text,
            assignThree("avg-bits=8", nullptr).text);
  EXPECT_EQ(probed.size(), 4u);
}

TEST(MixedPrecisionTest, NothingMeasurableKeepsTheHessianOrder) {
  // No linear adds measurable loss: the Hessian's choice, not all INT4.
  auto flat = [](Module &) -> llvm::Expected<double> { return 0.25; };
  Assigned a = assignThree("avg-bits=5.5,sensitivity=measured", flat);
  EXPECT_TRUE(a.ok) << a.errors;
  EXPECT_EQ(a.int4, (std::array<bool, 3>{true, false, true}));
}

TEST(MixedPrecisionTest, NonFiniteLossFailsThePass) {
  int calls = 0;
  auto probe = [&](Module &) -> llvm::Expected<double> {
    return ++calls == 2 ? std::nan("") : 0.0;
  };
  Assigned a = assignThree("avg-bits=5.5,sensitivity=measured", probe);
  EXPECT_FALSE(a.ok);
  EXPECT_NE(a.errors.find("is the model's output finite?"), std::string::npos) << a.errors;
}

TEST(MixedPrecisionTest, ProbeErrorsFailThePass) {
  int calls = 0;
  auto probe = [&](Module &) -> llvm::Expected<double> {
    if (++calls == 3)
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "out of tokens");
    return 0.0;
  };
  Assigned a = assignThree("avg-bits=5.5,sensitivity=measured", probe);
  EXPECT_FALSE(a.ok);
  EXPECT_NE(a.errors.find("mixed-precision: loss probe: out of tokens"), std::string::npos)
      << a.errors;
  EXPECT_EQ(calls, 3);
}

} // namespace
