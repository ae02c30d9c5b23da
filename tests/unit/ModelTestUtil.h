//===- tests/unit/ModelTestUtil.h - Helpers for tests on real models -*- C++ -*-===//
#ifndef SQC_TESTS_UNIT_MODELTESTUTIL_H
#define SQC_TESTS_UNIT_MODELTESTUTIL_H

#include "frontend/Model.h"
#include "passes/PassManager.h"
#include "runtime/Calibration.h"

#include <gtest/gtest.h>

namespace sqc::test {

/// stories260K in the Hugging Face layout (../shared/data); tests skip
/// without it.
inline const char *kStoriesModel = SQC_TEST_DIR "/../../shared/data/stories260K-hf";

/// Statistics of every linear and matmul input of `m` on `toks`.
inline CalibrationStats calibrateOn(LoadedModel &m, const std::vector<int32_t> &toks) {
  CalibrationStats stats;
  ValueObserver observe = stats.observerFor(m.forward());
  std::vector<Tensor> cache;
  EXPECT_TRUE(bool(runForward(m, toks, 0, cache, &observe)));
  return stats;
}

/// Runs `pipeline` on `m` with its weights and `stats`; false (after a test
/// failure naming the diagnostics) when it fails.
inline bool runPipelineOn(LoadedModel &m, llvm::StringRef pipeline,
                          const CalibrationStats *stats) {
  std::string errors;
  llvm::raw_string_ostream os(errors);
  DiagnosticEngine diag(os);
  auto nodes = parsePipeline(pipeline, diag);
  EXPECT_TRUE(bool(nodes)) << errors;
  if (!nodes)
    return false;
  PassManager pm;
  pm.setPipeline(std::move(*nodes));
  PassContext ctx{diag, m.weights.get(), stats};
  bool ok = succeeded(pm.run(*m.module, ctx));
  EXPECT_TRUE(ok) << errors;
  return ok;
}

} // namespace sqc::test

#endif // SQC_TESTS_UNIT_MODELTESTUTIL_H
