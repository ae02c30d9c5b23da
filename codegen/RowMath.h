//===- codegen/RowMath.h - Vectorized loops over one row --------*- C++ -*-===//
//
// The inner loops of the host kernels and the row quantizer: absolute
// maximum, quantization codes, exp and silu. Each is compiled once per ISA
// (AVX-512, AVX2, baseline x86-64) and picked at load time by the CPU's
// features, so they run on this CPU's widest vectors without the JIT.
//
// Quantization codes are exactly the interpreter's: x / scale in double,
// rounded to nearest even, saturated. exp is a polynomial (Cody-Waite range
// reduction, degree-6 minimax), within 2 ulp of libm's expf, and exactly 0
// below the smallest normal result (softmax's masked -inf entries).
//
//===----------------------------------------------------------------------===//
#ifndef SQC_CODEGEN_ROWMATH_H
#define SQC_CODEGEN_ROWMATH_H

#include <cstdint>

namespace sqc {

/// The interpreter's quantization code, as a double: roundEven(x / scale)
/// + zp clamped to [lo, hi], x / scale in double. Adding and subtracting
/// 1.5 * 2^52 rounds to an integer, ties to even, in the default rounding
/// mode (nearbyint without its library call, so loops vectorize); values
/// too large for it still clamp to the right end, and NaN gives code 0, as
/// in the interpreter (a select, which vectorizes).
inline double quantizationCode(float x, double scale, double zp, double lo, double hi) {
  constexpr double kRound = 6755399441055744.0;
  double q = (double(x) / scale + kRound) - kRound + zp;
  q = q == q ? q : 0.0;
  q = q > lo ? q : lo;
  return q < hi ? q : hi;
}

/// quantize_dynamic's scale for a maximum |x| of `amax` over `levels` steps
/// (127, or 255 unsigned), as the interpreter's; 1 for all zeros.
inline float dynamicScale(float amax, double levels) {
  return amax > 0 ? float(double(amax) / levels) : 1.0f;
}

/// max |x[i]| (0 for n = 0).
float rowAbsMax(const float *x, int64_t n);
/// out[i] = clamp(roundEven(x[i] / scale), lo, hi) (+ shift for the u8 form).
void rowCodes(const float *x, int64_t n, float scale, int32_t lo, int32_t hi, int32_t *out);
void rowCodes(const float *x, int64_t n, float scale, int32_t lo, int32_t hi, int16_t *out);
void rowCodes(const float *x, int64_t n, float scale, int32_t lo, int32_t hi, int8_t *out);
void rowCodes(const float *x, int64_t n, float scale, int32_t lo, int32_t hi, int32_t shift,
              uint8_t *out);
/// acc[i] = max(acc[i], |x[i]|): column maxima, one row at a time.
void rowAbsMaxInto(const float *x, int64_t n, float *acc);
/// out[i] = clamp(roundEven(x[i] / scale[i]), lo, hi): per-column scales.
void rowCodesPerElement(const float *x, int64_t n, const float *scale, int32_t lo, int32_t hi,
                        int32_t *out);
void rowCodesPerElement(const float *x, int64_t n, const float *scale, int32_t lo, int32_t hi,
                        int8_t *out);
/// sum a[i] * b[i], exact (callers keep n * max|a| * max|b| below 2^31).
int32_t dotI32(const int32_t *a, const int32_t *b, int64_t n);
int32_t dotI32(const int32_t *a, const int8_t *b, int64_t n);
/// y[i] += a * x[i], exact under the same bound.
void axpyI32(int32_t a, const int32_t *x, int64_t n, int32_t *y);
void axpyI32(int32_t a, const int8_t *x, int64_t n, int32_t *y);
/// sum a[i] * b[i] and y[i] += a * x[i] in float (16 partial sums).
float dotF32(const float *a, const float *b, int64_t n);
void axpyF32(float a, const float *x, int64_t n, float *y);
/// sum x[i] and sum (x[i] - mean)^2, in double (8 partial sums): a norm's
/// mean and variance.
double rowSum(const float *x, int64_t n);
double rowSquaredDeviations(const float *x, int64_t n, double mean);
/// One row of LayerNorm (`layerNorm`, with bias `b` or null) or RMSNorm:
/// o = (v - mean) / sqrt(var + eps) * g (+ b), mean and var in double.
void normRow(const float *v, int64_t n, const float *g, const float *b, bool layerNorm,
             double eps, float *o);
/// out[i] = exp(x[i] - shift); returns the sum of out (in double).
double rowExpShifted(const float *x, int64_t n, float shift, float *out);
/// out[i] = x[i] / (1 + exp(-x[i])).
void rowSilu(const float *x, int64_t n, float *out);

} // namespace sqc

#endif // SQC_CODEGEN_ROWMATH_H
