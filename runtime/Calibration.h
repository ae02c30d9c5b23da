//===- runtime/Calibration.h - Activation statistics for quantization -*- C++ -*-===//
//
// Calibration runs the FP32 graph on real text and records, for every
// activation that feeds a linear or a matmul, the per-channel absolute
// maximum (channels are the last dimension), the per-tensor absolute maximum
// and a percentile of |x| from a fixed-size histogram. Memory does not grow
// with the number of samples. Statistics are keyed by value name and saved as
// JSON, which passes read back (`smooth-quant{calib=stats.json}`).
//
//===----------------------------------------------------------------------===//
#ifndef SQC_RUNTIME_CALIBRATION_H
#define SQC_RUNTIME_CALIBRATION_H

#include "ir/IR.h"
#include "runtime/Executor.h"
#include "runtime/Tensor.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace sqc {

/// Histogram of |x| over [0, range), 2048 bins; when a larger value arrives
/// the range doubles and pairs of bins merge, so the memory stays fixed.
class AbsHistogram {
public:
  void add(double absValue);
  /// The smallest value below which `fraction` of the samples lie (upper
  /// edge of the bin that reaches it).
  double percentile(double fraction) const;
  uint64_t count() const { return count_; }

private:
  static constexpr int kBins = 2048;
  std::vector<uint64_t> bins_ = std::vector<uint64_t>(kBins, 0);
  double range_ = 0;
  uint64_t count_ = 0;
};

struct ActivationStats {
  std::vector<double> channelAbsMax;
  /// Per channel, the sum of x^2 over every row seen, and the rows counted:
  /// the diagonal of the layer-wise reconstruction Hessian H = 2 X^T X / rows
  /// that mixed precision weighs weight errors by.
  std::vector<double> channelSumSq;
  /// Per channel, the smallest and largest value (asymmetric quantizers:
  /// RepQ-ViT's per-channel scales and zero points).
  std::vector<double> channelMin, channelMax;
  uint64_t rowsCounted = 0;
  double absMax = 0;
  AbsHistogram histogram;
  uint64_t observations = 0; // tensors seen
  /// A uniform sample of rows (vectors along the last dimension), at most
  /// `keepRows` of them, for passes that measure quantization error on real
  /// activations (smooth-quant{alpha=auto}).
  std::vector<std::vector<float>> rows;
  uint64_t rowsSeen = 0;
  void observe(const Tensor &t, unsigned keepRows);
  /// 2 * mean(x_j^2) for channel j (empty when nothing was counted).
  std::vector<double> hessianDiagonal() const;
};

class CalibrationStats {
public:
  /// The values of `g` to observe: operands of linear (the input) and both
  /// operands of matmul, that have names.
  static std::vector<const Value *> observedValues(const Graph &g);

  void observe(const Value &v, const Tensor &t) {
    stats_[v.name()].observe(t, keepRows_);
  }
  /// An observer for runs of `g` that records its observedValues() here.
  ValueObserver observerFor(const Graph &g);
  /// Keep up to `n` sample rows per activation (0: none).
  void setKeepRows(unsigned n) { keepRows_ = n; }
  const ActivationStats *find(llvm::StringRef name) const;
  const llvm::StringMap<ActivationStats> &all() const { return stats_; }

  /// JSON: {"percentile": p, "activations": {name: {"absmax", "percentile",
  /// "channel_absmax": [...],
  /// "channel_sumsq": [...], "rows_counted": n, "channel_min": [...],
  /// "channel_max": [...]}}}.
  llvm::Error save(llvm::StringRef path, double percentile,
                   const std::string &description) const;
  static llvm::Expected<CalibrationStats> load(llvm::StringRef path);
  /// The percentile value stored by load(); for statistics collected here,
  /// the 99.99th percentile of the histogram.
  double percentileValue(llvm::StringRef name) const;

private:
  llvm::StringMap<ActivationStats> stats_;
  llvm::StringMap<double> loadedPercentile_;
  unsigned keepRows_ = 0;
};

} // namespace sqc

#endif // SQC_RUNTIME_CALIBRATION_H
