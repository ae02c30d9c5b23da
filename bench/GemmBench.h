//===- bench/GemmBench.h - `sqc bench gemm` ---------------------*- C++ -*-===//
#ifndef SQC_BENCH_GEMMBENCH_H
#define SQC_BENCH_GEMMBENCH_H

#include "codegen/Jit.h"

#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace sqc {

struct GemmBenchOptions {
  std::vector<int64_t> ms{1, 16, 128, 512};
  std::vector<std::pair<int64_t, int64_t>> kns{{768, 768}, {768, 3072}, {3072, 768}, {2048, 8192}};
  std::vector<unsigned> threads{1, 2};
  double minSeconds = 0.2; // per measurement
  TargetSpec target;
};

/// Parses `BENCH_M=1,128` and `BENCH_KN=768x3072,2048x8192` (and
/// `BENCH_THREADS=1,2`) from the environment into `o`; returns an error
/// message for a malformed value, empty on success.
std::string applyBenchEnvironment(GemmBenchOptions &o);

/// Parses "1,2" into `out`; an error message naming `what`, empty on success.
std::string parseThreadCounts(llvm::StringRef what, llvm::StringRef text,
                              std::vector<unsigned> &out);

/// Runs every (M, K, N, threads) with sqc's int8 kernels (every variant the
/// target runs), sqc's fp32 kernel, and oneDNN's u8s8s32 and f32 GEMMs when
/// sqc was built with oneDNN; prints one table row per measurement.
int runGemmBench(const GemmBenchOptions &o, llvm::raw_ostream &os);

} // namespace sqc

#endif // SQC_BENCH_GEMMBENCH_H
