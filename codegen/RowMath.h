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

/// max |x[i]| (0 for n = 0).
float rowAbsMax(const float *x, int64_t n);
/// out[i] = clamp(roundEven(x[i] / scale), lo, hi) (+ shift for the u8 form).
void rowCodes(const float *x, int64_t n, float scale, int32_t lo, int32_t hi, int32_t *out);
void rowCodes(const float *x, int64_t n, float scale, int32_t lo, int32_t hi, int16_t *out);
void rowCodes(const float *x, int64_t n, float scale, int32_t lo, int32_t hi, int32_t shift,
              uint8_t *out);
/// out[i] = exp(x[i] - shift); returns the sum of out (in double).
double rowExpShifted(const float *x, int64_t n, float shift, float *out);
/// out[i] = x[i] / (1 + exp(-x[i])).
void rowSilu(const float *x, int64_t n, float *out);

} // namespace sqc

#endif // SQC_CODEGEN_ROWMATH_H
