//===- bench/ModelBench.h - `sqc bench model` -------------------*- C++ -*-===//
//
// End to end on a whole model: for each variant (FP32, W8A8 O1, O3, ...)
// and thread count, the JIT compile time, prefill and decode tokens/s and
// resident memory, with the speed-ups over FP32 at the same thread count.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_BENCH_MODELBENCH_H
#define SQC_BENCH_MODELBENCH_H

#include "codegen/Jit.h"
#include "frontend/Model.h"

#include "llvm/Support/raw_ostream.h"

#include <functional>
#include <string>
#include <vector>

namespace sqc {

struct ModelBenchOptions {
  int64_t promptTokens = 128; // prefill length
  int64_t decodeTokens = 32;  // decode steps after it
  std::vector<unsigned> threads{1, 2};
  std::vector<std::string> variants{"fp32", "O1", "O3"};
  bool profile = false; // print where each variant's time went
  TargetSpec target = TargetSpec::host(); // what the JIT compiles for (--mcpu/--mattr)
};

/// Makes a variant's model, ready to compile (e.g. loads and quantizes it).
using VariantLoader = std::function<llvm::Expected<LoadedModel>(llvm::StringRef variant)>;

/// Measures every variant x thread count; the first variant is the baseline
/// of the ratios. Prompt tokens are fixed pseudo-random ids, and decoding
/// feeds the argmax back without stopping at end-of-text, so every variant
/// does the same amount of work.
int runModelBench(const ModelBenchOptions &o, const VariantLoader &load,
                  llvm::raw_ostream &os);

} // namespace sqc

#endif // SQC_BENCH_MODELBENCH_H
