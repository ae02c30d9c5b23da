//===- tests/unit/SmoothQuantTest.cpp - Smoothing keeps FP32 outputs ------===//
//
// SmoothQuant is exact in real arithmetic: on the real stories260K weights,
// logits before and after `smooth-quant` must agree to 1e-5 relative (float
// rounding is all that may differ), and the smoothed activations must have a
// flatter channel profile when outliers are present.
//
//===----------------------------------------------------------------------===//
#include "frontend/Model.h"
#include "ir/Printer.h"
#include "passes/PassManager.h"
#include "runtime/Calibration.h"
#include "runtime/Executor.h"

#include "TestUtil.h"

#include "llvm/Support/FileSystem.h"

#include <cmath>

#include <gtest/gtest.h>

using namespace sqc;

namespace {

const char *kModel = SQC_TEST_DIR "/../../shared/data/stories260K-hf";

Tensor logitsOf(LoadedModel &m, const std::vector<int32_t> &toks,
                CalibrationStats *stats = nullptr) {
  ValueObserver observe = [&](const Value &v, const Tensor &x) {
    if (!v.name().empty())
      stats->observe(v, x);
  };
  std::vector<Tensor> cache;
  auto out = runForward(m, toks, 0, cache, stats ? &observe : nullptr);
  EXPECT_TRUE(bool(out));
  return out ? std::move(*out) : Tensor();
}

TEST(SmoothQuantTest, KeepsRealModelOutputs) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  auto m = loadModel(kModel);
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  std::vector<int32_t> calib = m->tokenizer->encode(
      "Once upon a time, there was a little dog named Max. He liked to run in the "
      "park with his friend, a big red ball.", true);
  std::vector<int32_t> probe = m->tokenizer->encode(
      "Lily saw a bird in the tree. She wanted to help it fly home.", true);
  CalibrationStats stats;
  logitsOf(*m, calib, &stats);
  Tensor before = logitsOf(*m, probe);

  DiagnosticEngine diag;
  PassManager pm;
  pm.setPipeline(std::move(*parsePipeline("smooth-quant{alpha=0.5}", diag)));
  PassContext ctx{diag, m->weights.get(), &stats};
  ASSERT_TRUE(succeeded(pm.run(*m->module, ctx)));
  ASSERT_TRUE(pm.changed());
  Tensor after = logitsOf(*m, probe);
  EXPECT_LT(test::maxRelativeDiff(before, after), 1e-5);
  // It did change the weights: count the smoothing multiplies.
  int muls = 0;
  for (const Op &op : m->forward().ops())
    muls += op.kind() == OpKind::Mul && op.result()->name().contains(".smooth");
  // Per layer: attn_norm (gamma + q,k,v), attention (v rows + o),
  // ffn_norm (gamma + gate,up), gate/up (up rows + down); plus the final norm
  // (gamma + head).
  EXPECT_EQ(muls, 5 * (4 + 2 + 3 + 2) + 2);
}

/// rotate-qk is exact too: Q and K of every layer turn by the same orthogonal
/// matrix, and smoothing still finds every attention path afterwards.
TEST(SmoothQuantTest, RotatingScoresKeepsRealModelOutputs) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  auto m = loadModel(kModel);
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  std::vector<int32_t> probe = m->tokenizer->encode(
      "Lily saw a bird in the tree. She wanted to help it fly home.", true);
  Tensor before = logitsOf(*m, probe);
  CalibrationStats stats;
  DiagnosticEngine diag;
  PassManager pm;
  pm.setPipeline(std::move(*parsePipeline("rotate-qk", diag)));
  PassContext ctx{diag, m->weights.get(), &stats};
  ASSERT_TRUE(succeeded(pm.run(*m->module, ctx)));
  Tensor after = logitsOf(*m, probe, &stats);
  EXPECT_LT(test::maxRelativeDiff(before, after), 1e-5);
  int rotations = 0;
  for (const Op &op : m->forward().ops())
    rotations += op.kind() == OpKind::Linear && op.result()->name().ends_with(".rot");
  EXPECT_EQ(rotations, 5 * 2); // Q and K of five layers

  pm.setPipeline(std::move(*parsePipeline("smooth-quant{alpha=0.5}", diag)));
  ASSERT_TRUE(succeeded(pm.run(*m->module, ctx)));
  int muls = 0;
  for (const Op &op : m->forward().ops())
    muls += op.kind() == OpKind::Mul && op.result()->name().contains(".smooth");
  EXPECT_EQ(muls, 5 * (4 + 2 + 3 + 2) + 2); // as without the rotation
}

/// Integer arithmetic (fuse-qdq) computes what fake quantization describes:
/// the same logits up to float rounding of the rescale.
TEST(SmoothQuantTest, FusedIntegerGraphMatchesFakeQuantization) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  std::vector<int32_t> probe;
  auto run = [&](llvm::StringRef pipeline, std::string &text) {
    auto m = loadModel(kModel);
    EXPECT_TRUE(bool(m));
    if (probe.empty())
      probe = m->tokenizer->encode("The cat sat on the mat and looked at the sun.", true);
    DiagnosticEngine diag;
    PassManager pm;
    pm.setPipeline(std::move(*parsePipeline(pipeline, diag)));
    PassContext ctx{diag, m->weights.get()};
    EXPECT_TRUE(succeeded(pm.run(*m->module, ctx)));
    text = toString(*m->module);
    return logitsOf(*m, probe);
  };
  std::string fake, fused;
  Tensor a = run("quantize{bmm=true,keep-head=false}", fake);
  Tensor b = run("quantize{bmm=true,keep-head=false},fuse-qdq,dce", fused);
  EXPECT_EQ(fake.find("int_linear"), std::string::npos);
  EXPECT_NE(fused.find("int_linear"), std::string::npos);
  EXPECT_NE(fused.find("int_matmul"), std::string::npos);
  EXPECT_EQ(fused.find(" linear "), std::string::npos) << "every linear is integer";
  EXPECT_LT(test::maxRelativeDiff(a, b), 1e-4);
}

} // namespace
