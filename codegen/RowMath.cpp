//===- codegen/RowMath.cpp - Vectorized loops over one row ----------------===//
#include "codegen/RowMath.h"

#include <cmath>
#include <cstring>

// One clone per ISA, chosen at load time from the CPU's features (not its
// model, so AMD and Intel CPUs get the same clones).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SQC_PER_ISA __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SQC_PER_ISA
#endif

namespace sqc {

namespace {

inline uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// e^x in float: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two for
/// exactness), e^r by a degree-6 polynomial, 2^n through the exponent bits.
inline float expPoly(float x) {
  float c = x < 88.0f ? x : 88.0f;
  c = c > -87.0f ? c : -87.0f;
  float n = (c * 1.44269504f + 12582912.0f) - 12582912.0f; // 1.5 * 2^23: round
  float r = c - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  float e = p * floatOf(uint32_t(int32_t(n) + 127) << 23);
  return x < -87.0f ? 0.0f : e;
}

} // namespace

SQC_PER_ISA float rowAbsMax(const float *x, int64_t n) {
  // |x| compares like its bit pattern: an integer max, which vectorizes.
  uint32_t m = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t a = bitsOf(x[i]) & 0x7fffffffu;
    m = a > m ? a : m;
  }
  return floatOf(m);
}

SQC_PER_ISA void rowCodes(const float *x, int64_t n, float scale, int32_t lo, int32_t hi,
                          int32_t *out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = int32_t(quantizationCode(x[i], scale, 0, lo, hi));
}

SQC_PER_ISA void rowCodes(const float *x, int64_t n, float scale, int32_t lo, int32_t hi,
                          int16_t *out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = int16_t(quantizationCode(x[i], scale, 0, lo, hi));
}

SQC_PER_ISA void rowCodes(const float *x, int64_t n, float scale, int32_t lo, int32_t hi,
                          int8_t *out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = int8_t(quantizationCode(x[i], scale, 0, lo, hi));
}

SQC_PER_ISA void rowCodes(const float *x, int64_t n, float scale, int32_t lo, int32_t hi,
                          int32_t shift, uint8_t *out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = uint8_t(int32_t(quantizationCode(x[i], scale, 0, lo, hi)) + shift);
}

SQC_PER_ISA void rowAbsMaxInto(const float *x, int64_t n, float *acc) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t a = bitsOf(x[i]) & 0x7fffffffu, m = bitsOf(acc[i]);
    acc[i] = floatOf(a > m ? a : m);
  }
}

SQC_PER_ISA void rowCodesPerElement(const float *x, int64_t n, const float *scale, int32_t lo,
                                    int32_t hi, int32_t *out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = int32_t(quantizationCode(x[i], scale[i], 0, lo, hi));
}

SQC_PER_ISA void rowCodesPerElement(const float *x, int64_t n, const float *scale, int32_t lo,
                                    int32_t hi, int8_t *out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = int8_t(quantizationCode(x[i], scale[i], 0, lo, hi));
}

SQC_PER_ISA int32_t dotI32(const int32_t *a, const int8_t *b, int64_t n) {
  int32_t s = 0;
  for (int64_t i = 0; i < n; ++i)
    s += a[i] * int32_t(b[i]);
  return s;
}

SQC_PER_ISA void axpyI32(int32_t a, const int8_t *x, int64_t n, int32_t *y) {
  for (int64_t i = 0; i < n; ++i)
    y[i] += a * int32_t(x[i]);
}

SQC_PER_ISA int32_t dotI32(const int32_t *a, const int32_t *b, int64_t n) {
  int32_t s = 0;
  for (int64_t i = 0; i < n; ++i)
    s += a[i] * b[i];
  return s;
}

SQC_PER_ISA void axpyI32(int32_t a, const int32_t *x, int64_t n, int32_t *y) {
  for (int64_t i = 0; i < n; ++i)
    y[i] += a * x[i];
}

namespace {
SQC_PER_ISA void normScale(const float *v, int64_t n, float m, float inv, const float *g,
                           const float *b, float *o) {
  for (int64_t j = 0; j < n; ++j)
    o[j] = (v[j] - m) * inv * g[j] + (b ? b[j] : 0.0f);
}
} // namespace

SQC_PER_ISA double rowSum(const float *x, int64_t n) {
  double acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j)
      acc[j] += x[i + j];
  for (; i < n; ++i)
    acc[0] += x[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

SQC_PER_ISA double rowSquaredDeviations(const float *x, int64_t n, double mean) {
  double acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      double d = x[i + j] - mean;
      acc[j] += d * d;
    }
  for (; i < n; ++i)
    acc[0] += (x[i] - mean) * (x[i] - mean);
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void normRow(const float *v, int64_t n, const float *g, const float *b, bool layerNorm,
             double eps, float *o) {
  double mean = layerNorm ? rowSum(v, n) / n : 0.0;
  double var = rowSquaredDeviations(v, n, mean);
  float inv = float(1.0 / std::sqrt(var / n + eps)), m = float(mean);
  normScale(v, n, m, inv, g, b, o);
}

SQC_PER_ISA float dotF32(const float *a, const float *b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j)
      acc[j] += a[i + j] * b[i + j];
  float s = 0;
  for (; i < n; ++i)
    s += a[i] * b[i];
  for (int j = 0; j < 16; ++j)
    s += acc[j];
  return s;
}

SQC_PER_ISA void axpyF32(float a, const float *x, int64_t n, float *y) {
  for (int64_t i = 0; i < n; ++i)
    y[i] += a * x[i];
}

SQC_PER_ISA double rowExpShifted(const float *x, int64_t n, float shift, float *out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = expPoly(x[i] - shift);
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += out[i];
    s1 += out[i + 1];
    s2 += out[i + 2];
    s3 += out[i + 3];
  }
  for (; i < n; ++i)
    s0 += out[i];
  return (s0 + s1) + (s2 + s3);
}

SQC_PER_ISA void rowSilu(const float *x, int64_t n, float *out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = x[i] / (1.0f + expPoly(-x[i]));
}

} // namespace sqc
