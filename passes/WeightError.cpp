//===- passes/WeightError.cpp - Rounding error of symmetric weight codes ---===//
#include "passes/WeightError.h"

#include <algorithm>
#include <cmath>

namespace sqc {

double quantizationError(const float *w, int64_t N, int64_t K, int bits,
                         const std::vector<double> &h, const std::vector<double> &scales) {
  double lo = -std::ldexp(1.0, bits - 1), hi = std::ldexp(1.0, bits - 1) - 1, total = 0;
  for (int64_t n = 0; n < N; ++n) {
    double s = scales[scales.size() == 1 ? 0 : n];
    for (int64_t k = 0; k < K; ++k) {
      double x = w[n * K + k], d = x - std::clamp(std::nearbyint(x / s), lo, hi) * s;
      total += h[k] * d * d;
    }
  }
  return total;
}

double quantizationError(const float *w, int64_t N, int64_t K, int bits,
                         const std::vector<double> &h, double minClip,
                         std::vector<double> &scales, double clipStep) {
  double qmax = std::ldexp(1.0, bits - 1) - 1, total = 0;
  scales.assign(N, 1.0);
  for (int64_t n = 0; n < N; ++n) {
    const float *row = w + n * K;
    double mx = 0;
    for (int64_t k = 0; k < K; ++k)
      mx = std::max(mx, std::fabs(double(row[k])));
    if (mx == 0)
      continue;
    double best = INFINITY;
    for (int i = 0;; ++i) {
      double clip = 1.0 - clipStep * i;
      if (clip < minClip - 1e-9)
        break;
      std::vector<double> s{mx * clip / qmax};
      double e = quantizationError(row, 1, K, bits, h, s);
      if (e < best)
        best = e, scales[n] = s[0];
    }
    total += best;
  }
  return total;
}

} // namespace sqc
