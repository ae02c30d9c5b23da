//===- tests/unit/RepQTest.cpp - Reparameterization keeps the codes -------===//
//
// On real weights (stories260K) and calibration text, RepQ's per-tensor
// quantizer after reparameterization gives the per-channel quantizer's codes
// (up to float rounding at code boundaries), so the logits of the two agree
// far more closely than either agrees with FP32, and a plain per-tensor
// quantizer of the same activations is further off.
//
//===----------------------------------------------------------------------===//
#include "ModelTestUtil.h"
#include "TestUtil.h"

#include "llvm/Support/FileSystem.h"

using namespace sqc;

namespace {

Tensor logitsWith(const char *mode, const CalibrationStats &stats,
                  const std::vector<int32_t> &toks) {
  auto m = loadModel(test::kStoriesModel);
  EXPECT_TRUE(bool(m));
  if (!m)
    return Tensor();
  if (*mode && !test::runPipelineOn(*m, std::string("repq{mode=") + mode + "}", &stats))
    return Tensor();
  std::vector<Tensor> cache;
  auto l = runForward(*m, toks, 0, cache);
  EXPECT_TRUE(bool(l));
  return l ? std::move(*l) : Tensor();
}

TEST(RepQTest, ReparameterizedMatchesPerChannel) {
  if (!llvm::sys::fs::exists(test::kStoriesModel))
    GTEST_SKIP() << "../shared/data is not present";
  auto m = loadModel(test::kStoriesModel);
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  // Calibrated on the text it runs: no value falls outside its channel's
  // range, so what differs is resolution alone.
  std::vector<int32_t> toks = m->tokenizer->encode(
      "Once upon a time, there was a little girl named Lily. She loved to play outside "
      "in the park with her friends. One day, she saw a big red ball under a tree.",
      true);
  CalibrationStats stats = test::calibrateOn(*m, toks);
  Tensor fp32 = logitsWith("", stats, toks);
  Tensor perChannel = logitsWith("per-channel", stats, toks);
  Tensor reparam = logitsWith("reparameterize", stats, toks);
  Tensor perTensor = logitsWith("per-tensor", stats, toks);
  double quantError = test::maxRelativeDiff(fp32, perChannel);
  double reparamGap = test::maxRelativeDiff(perChannel, reparam);
  EXPECT_GT(quantError, 1e-3); // the quantizers did something
  EXPECT_LT(reparamGap, quantError / 10) << "per-channel vs reparameterized";
  EXPECT_GT(test::maxRelativeDiff(fp32, perTensor), quantError);
}

} // namespace
