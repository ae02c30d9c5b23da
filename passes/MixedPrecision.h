//===- passes/MixedPrecision.h - Bit widths on a Pareto frontier -*- C++ -*-===//
//
// The search behind the mixed-precision pass, exposed for tests: every
// layer offers a few choices (a bit width with its size and its
// sensitivity-weighted error), and the frontier lists the assignments for
// which no other is both smaller and more accurate.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_PASSES_MIXEDPRECISION_H
#define SQC_PASSES_MIXEDPRECISION_H

#include "passes/WeightError.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sqc {

struct BitChoice {
  int bits;      // 4, 8 or 32 (left in FP32)
  uint64_t cost; // what the budget counts: weight bits, or bytes
  double error;  // sensitivity-weighted quantization error
  int64_t group = 0; // 4 bits: scales per group of this many inputs (0: per row)
};

struct FrontierPoint {
  uint64_t cost = 0;
  double error = 0;
  std::vector<unsigned> choice; // per layer, an index into its choices
};

/// The Pareto frontier of total cost vs summed error, cheapest first (errors
/// strictly falling). Exact while every partial frontier (after each layer)
/// has at most `maxPoints` points; beyond that, points closer in cost than
/// 1/maxPoints of the range are thinned, keeping both ends.
std::vector<FrontierPoint> paretoFrontier(const std::vector<std::vector<BitChoice>> &layers,
                                          size_t maxPoints = 4096);

/// Grouped INT4: row n's weights in groups of `group` consecutive ones, group
/// g on scale rowScales[n] * multipliers[n * K / group + g] with multipliers
/// in 1..16, so that code times multiplier is an INT8 code on the row's
/// scale (codes in [-128, 112]) and runs on the INT8 kernels exactly. Each
/// group's clipping is searched as above, its multiplier is the best of
/// 1..16 for it; returns the weighted error summed over rows.
double groupedInt4Error(const float *w, int64_t N, int64_t K, int64_t group,
                        const std::vector<double> &h, double minClip,
                        std::vector<double> &rowScales, std::vector<int> &multipliers);

} // namespace sqc

#endif // SQC_PASSES_MIXEDPRECISION_H
