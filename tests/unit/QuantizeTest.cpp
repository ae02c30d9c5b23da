//===- tests/unit/QuantizeTest.cpp - Weight scales of the quantize pass ---===//
//
// weight-clip=mse picks, per output channel, the clipped scale with the
// least squared rounding error: never worse than max|w| / 127 (which is in
// its search), and better on some rows of heavy-tailed (Laplace) weights.
//
//===----------------------------------------------------------------------===//
#include "passes/PassManager.h"
#include "runtime/Interpreter.h"

#include "TestUtil.h"

#include <random>

using namespace sqc;

namespace {

/// The weight scales quantize{weight-clip=CLIP} gives a linear with weight
/// `w` [N, K].
std::vector<double> weightScales(const std::vector<float> &w, int64_t N, int64_t K,
                                 llvm::StringRef clip) {
  std::string text = "graph @f(%x: f32[?s," + std::to_string(K) + "]) -> (f32[?s," +
                     std::to_string(N) + "]) {\n  %w = constant {value = dense<[";
  for (size_t i = 0; i < w.size(); ++i)
    text += (i ? ", " : "") + std::to_string(w[i]);
  text += "]>} : f32[" + std::to_string(N) + "," + std::to_string(K) + "]\n" +
          "  %y = linear %x, %w : f32[?s," + std::to_string(N) + "]\n  return %y\n}\n";
  std::string errors;
  auto m = test::parseAndVerify(text, errors);
  EXPECT_TRUE(m) << errors;
  if (!m)
    return {};
  llvm::raw_string_ostream os(errors);
  DiagnosticEngine diag(os);
  PassManager pm;
  pm.setPipeline(std::move(*parsePipeline(
      ("quantize{keep-head=false,weight-clip=" + clip + "}").str(), diag)));
  PassContext ctx{diag, nullptr};
  EXPECT_TRUE(succeeded(pm.run(*m, ctx))) << errors;
  for (const Op &op : m->graphs().front()->ops())
    if (op.kind() == OpKind::Quantize && op.operand(0)->type().rank() == 2 &&
        op.operand(1)->definingOp()->kind() == OpKind::Constant) {
      Tensor s = constantValue(*op.operand(1)->definingOp());
      std::vector<double> out;
      for (int64_t i = 0; i < s.numElements(); ++i)
        out.push_back(s.get(i));
      return out;
    }
  ADD_FAILURE() << "no weight quantizer";
  return {};
}

double roundingError(const float *row, int64_t K, double scale) {
  double err = 0;
  for (int64_t k = 0; k < K; ++k) {
    double q = std::clamp(std::nearbyint(row[k] / scale), -128.0, 127.0);
    err += (row[k] - q * scale) * (row[k] - q * scale);
  }
  return err;
}

TEST(QuantizeTest, MseWeightClipBeatsTheMaximum) {
  const int64_t N = 16, K = 256;
  std::mt19937 rng(5);
  std::exponential_distribution<float> laplace(20);
  std::vector<float> w(N * K);
  for (float &v : w)
    v = (rng() & 1 ? 1 : -1) * laplace(rng);
  std::vector<double> mx = weightScales(w, N, K, "max"), mse = weightScales(w, N, K, "mse");
  ASSERT_EQ(mx.size(), size_t(N));
  ASSERT_EQ(mse.size(), size_t(N));
  double errMax = 0, errMse = 0;
  int clipped = 0;
  for (int64_t n = 0; n < N; ++n) {
    float rowMax = 0;
    for (int64_t k = 0; k < K; ++k)
      rowMax = std::max(rowMax, std::fabs(w[n * K + k]));
    EXPECT_NEAR(mx[n], rowMax / 127.0, 1e-7);
    EXPECT_LE(mse[n], mx[n]);
    EXPECT_GE(mse[n], 0.7 * mx[n] - 1e-9);
    double a = roundingError(w.data() + n * K, K, mx[n]);
    double b = roundingError(w.data() + n * K, K, mse[n]);
    EXPECT_LE(b, a * (1 + 1e-6)) << "row " << n;
    clipped += mse[n] < mx[n];
    errMax += a;
    errMse += b;
  }
  EXPECT_GT(clipped, 0);
  EXPECT_LT(errMse, errMax);
}

TEST(QuantizeTest, RejectsAnUnknownWeightClip) {
  std::string errors;
  auto m = test::parseAndVerify("graph @f(%x: f32[2]) -> (f32[2]) {\n  return %x\n}\n", errors);
  ASSERT_TRUE(m) << errors;
  llvm::raw_string_ostream os(errors);
  DiagnosticEngine diag(os);
  PassManager pm;
  pm.setPipeline(std::move(*parsePipeline("quantize{weight-clip=median}", diag)));
  PassContext ctx{diag, nullptr};
  EXPECT_TRUE(failed(pm.run(*m, ctx)));
  EXPECT_NE(errors.find("weight-clip must be max or mse, got 'median'"), std::string::npos)
      << errors;
}

} // namespace
