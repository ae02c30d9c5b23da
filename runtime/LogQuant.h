//===- runtime/LogQuant.h - Logarithmic quantization of probabilities -*- C++ -*-===//
//
// Softmax outputs span many orders of magnitude, most of them tiny: a
// logarithmic quantizer spends its codes on ratios rather than steps.
// RepQ-ViT calibrates with base sqrt(2) (code q stands for 2^(-q/2)) and runs
// base 2: 2^(-q/2) = 2^(-ceil(q/2)) * (sqrt(2) if q is odd), so a product
// with it is a shift, plus (sqrt(2) - 1) times the shifted sum of the odd
// codes. These are the definitions the interpreter and the JIT share.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_RUNTIME_LOGQUANT_H
#define SQC_RUNTIME_LOGQUANT_H

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace sqc {

/// Shifts beyond this count as zero: 2^-40 is far below what a probability
/// quantized to 8 bits elsewhere could hold.
constexpr int kLogQuantMaxShift = 40;
/// The code of zero (and of anything too small for the others).
constexpr int kLogQuantZeroCode = 255;

/// clamp(round(-log_base(x)), 0, 255); x <= 0 (or NaN) gives 255.
inline int32_t logQuantCode(double x, bool sqrt2) {
  if (!(x > 0))
    return kLogQuantZeroCode;
  double l = -std::log2(x) * (sqrt2 ? 2.0 : 1.0);
  return int32_t(std::clamp(std::nearbyint(l), 0.0, double(kLogQuantZeroCode)));
}

/// The power-of-two shift of a code: the code (base 2) or ceil(code / 2)
/// (base sqrt 2); beyond kLogQuantMaxShift, or the zero code, -1 (zero).
inline int logQuantShift(int32_t code, bool sqrt2) {
  if (code >= kLogQuantZeroCode)
    return -1;
  int s = sqrt2 ? (code + 1) / 2 : code;
  return s <= kLogQuantMaxShift ? s : -1;
}

/// Whether a code carries the extra factor sqrt(2) (odd codes, base sqrt 2).
inline bool logQuantOdd(int32_t code, bool sqrt2) { return sqrt2 && (code & 1); }

/// The value a code stands for.
inline double logQuantValue(int32_t code, bool sqrt2) {
  int s = logQuantShift(code, sqrt2);
  if (s < 0)
    return 0.0;
  return std::ldexp(logQuantOdd(code, sqrt2) ? std::sqrt(2.0) : 1.0, -s);
}

/// sum_k b[k] * value(a[k]) the integer way: b[k] << (40 - shift) summed in
/// i64 (exact), the odd codes' sum again times sqrt(2) - 1, then * 2^-40.
/// `b` is read at b[k * strideB].
inline double logQuantDot(const int32_t *a, const int32_t *b, int64_t K, int64_t strideB,
                          bool sqrt2) {
  int64_t all = 0, odd = 0;
  for (int64_t k = 0; k < K; ++k) {
    int s = logQuantShift(a[k], sqrt2);
    if (s < 0)
      continue;
    int64_t term = int64_t(b[k * strideB]) * (int64_t(1) << (kLogQuantMaxShift - s));
    all += term;
    if (logQuantOdd(a[k], sqrt2))
      odd += term;
  }
  return std::ldexp(double(all) + (std::sqrt(2.0) - 1.0) * double(odd), -kLogQuantMaxShift);
}

} // namespace sqc

#endif // SQC_RUNTIME_LOGQUANT_H
