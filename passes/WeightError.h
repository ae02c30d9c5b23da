//===- passes/WeightError.h - Rounding error of symmetric weight codes -*- C++ -*-===//
//
// The clipping search behind weight scales: `quantize{weight-clip=mse}`
// (plain squared error, 8 bits) and mixed precision (Hessian-weighted, 4 and
// 8 bits) pick scales and measure errors with the same code.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_PASSES_WEIGHTERROR_H
#define SQC_PASSES_WEIGHTERROR_H

#include <cstdint>
#include <vector>

namespace sqc {

/// Symmetric per-row quantization of w[N,K] to `bits` (codes saturating at
/// -2^(bits-1) and 2^(bits-1) - 1), the scale of each row chosen among
/// clippings of its max|w| (100%, then down by `clipStep` to `minClip`) to
/// least sum_k h[k] (w - q s)^2; returns that weighted error summed over
/// rows and the scales in `scales` (1 for an all-zero row). `h` holds K
/// weights (a Hessian diagonal, or ones for the plain squared error).
double quantizationError(const float *w, int64_t N, int64_t K, int bits,
                         const std::vector<double> &h, double minClip,
                         std::vector<double> &scales, double clipStep = 0.02);

/// The same error for given per-row scales (one, or N).
double quantizationError(const float *w, int64_t N, int64_t K, int bits,
                         const std::vector<double> &h, const std::vector<double> &scales);

} // namespace sqc

#endif // SQC_PASSES_WEIGHTERROR_H
