//===- tests/unit/CompiledGraphTest.cpp - JIT execution vs interpreter ----===//
//
// Whole graphs on real weights (stories260K): the logits of the JIT path
// (linears on compiled kernels, the rest interpreted) against the reference
// interpreter, for the FP32 model and its W8A8 integer graph, prefill and
// token-by-token decode. Integer GEMMs are exact; what may differ is float
// rounding (f32 vs the interpreter's double accumulation, and the order of
// the two dequantizing multiplies), stated as tolerances below.
//
//===----------------------------------------------------------------------===//
#include "ModelTestUtil.h"

#include "llvm/Support/FileSystem.h"

#include "TestUtil.h"

#include <cmath>

#include <gtest/gtest.h>

using namespace sqc;

namespace {

const char *kModel = test::kStoriesModel;

/// Logits of a prefill of `toks`, then of decoding two more tokens one by one.
std::vector<Tensor> run(LoadedModel &m, const std::vector<int32_t> &toks) {
  std::vector<Tensor> out, cache;
  auto prefill = runForward(m, toks, 0, cache);
  EXPECT_TRUE(bool(prefill)) << (prefill ? "" : llvm::toString(prefill.takeError()));
  if (!prefill)
    return out;
  out.push_back(std::move(*prefill));
  for (int32_t t : {5, 17}) {
    auto step = runForward(m, {t}, int64_t(toks.size() + out.size() - 1), cache);
    EXPECT_TRUE(bool(step));
    if (step)
      out.push_back(std::move(*step));
  }
  return out;
}

void compareEngines(const char *pipeline, double tolerance, unsigned wantInt8Linears) {
  auto m = loadModel(kModel);
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  std::vector<int32_t> toks =
      m->tokenizer->encode("Once upon a time, a little fox found a shiny stone.", true);
  if (*pipeline) {
    CalibrationStats stats = test::calibrateOn(*m, toks);
    ASSERT_TRUE(test::runPipelineOn(*m, pipeline, &stats));
  }
  std::vector<Tensor> interp = run(*m, toks);
  ASSERT_FALSE(bool(compileModel(*m)));
  std::string what = m->compiled->describe();
  EXPECT_NE(what.find(std::to_string(wantInt8Linears) + " int8"), std::string::npos) << what;
  std::vector<Tensor> jit = run(*m, toks);
  ASSERT_EQ(interp.size(), jit.size());
  for (size_t i = 0; i < jit.size(); ++i)
    EXPECT_LT(test::maxRelativeDiff(interp[i], jit[i]), tolerance) << "run " << i << ": " << what;
}

TEST(CompiledGraphTest, Fp32LogitsMatchInterpreter) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  compareEngines("", 1e-5, 0);
}

TEST(CompiledGraphTest, W8A8LogitsMatchInterpreter) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  // 5 layers x 7 linears; the LM head stays FP32.
  compareEngines("quantize{bmm=true},fuse-qdq,cse,dce", 1e-3, 35);
}

TEST(CompiledGraphTest, PerTensorScalesFuseToo) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  compareEngines("quantize{acts=per-tensor-dynamic},fuse-qdq,cse,dce", 1e-3, 35);
}

TEST(CompiledGraphTest, MixedInt4Int8WeightsMatchInterpreter) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  // 6 bits on average, FP32 not allowed: some linears 4-bit, the rest
  // 8-bit, all on the integer kernels.
  compareEngines("quantize{bmm=true},mixed-precision{avg-bits=6,fp32=false},fuse-qdq,cse,dce",
                 1e-3, 35);
}

TEST(CompiledGraphTest, GroupedInt4WeightsMatchInterpreter) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  // Every linear 4-bit with scales per 32 input channels (where 32 divides
  // them), expanded to INT8 codes for the kernels.
  compareEngines("quantize{bmm=true},mixed-precision{avg-bits=4,group=32},fuse-qdq,cse,dce",
                 1e-3, 35);
}

} // namespace
