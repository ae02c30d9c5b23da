//===- runtime/Calibration.cpp - Activation statistics --------------------===//
#include "runtime/Calibration.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace sqc {

void AbsHistogram::add(double v) {
  if (!(v >= 0) || std::isinf(v))
    return; // NaN or inf: not a magnitude a scale can represent
  if (range_ == 0)
    range_ = v > 0 ? v * 2 : 1e-30;
  while (v >= range_) {
    for (int i = 0; i < kBins / 2; ++i)
      bins_[i] = bins_[2 * i] + bins_[2 * i + 1];
    std::fill(bins_.begin() + kBins / 2, bins_.end(), 0);
    range_ *= 2;
  }
  ++bins_[std::min(kBins - 1, int(v / range_ * kBins))];
  ++count_;
}

double AbsHistogram::percentile(double fraction) const {
  uint64_t want = uint64_t(std::ceil(fraction * double(count_))), seen = 0;
  for (int i = 0; i < kBins; ++i) {
    seen += bins_[i];
    if (seen >= want && seen > 0)
      return range_ * double(i + 1) / kBins;
  }
  return range_;
}

void ActivationStats::observe(const Tensor &t, unsigned keepRows) {
  int64_t C = t.rank() ? t.shape().back() : 1;
  // A last dimension that varies (attention over a context) grows the vector;
  // channel i keeps the maximum of every tensor that had one.
  if (int64_t(channelAbsMax.size()) < C)
    channelAbsMax.resize(C, 0.0);
  if (int64_t(channelSumSq.size()) < C) {
    channelSumSq.resize(C, 0.0);
    channelMin.resize(C, INFINITY);
    channelMax.resize(C, -INFINITY);
  }
  for (int64_t i = 0; i < t.numElements(); ++i) {
    double x = t.get(i), a = std::fabs(x);
    double &c = channelAbsMax[C ? i % C : 0];
    c = std::max(c, a);
    int64_t j = C ? i % C : 0;
    channelSumSq[j] += x * x;
    if (!std::isnan(x)) {
      channelMin[j] = std::min(channelMin[j], x);
      channelMax[j] = std::max(channelMax[j], x);
    }
    absMax = std::max(absMax, a);
    histogram.add(a);
  }
  ++observations;
  rowsCounted += C ? t.numElements() / C : 0;
  if (keepRows == 0 || C == 0)
    return;
  // Reservoir sampling with a fixed-seed generator: the same text gives the
  // same sample.
  for (int64_t r = 0; r < t.numElements() / C; ++r, ++rowsSeen) {
    uint64_t slot = rowsSeen < keepRows
                        ? rowsSeen
                        : (rowsSeen * 6364136223846793005ull + 1442695040888963407ull) %
                              (rowsSeen + 1);
    if (slot >= keepRows)
      continue;
    std::vector<float> row(C);
    for (int64_t j = 0; j < C; ++j)
      row[j] = float(t.get(r * C + j));
    if (slot < rows.size())
      rows[slot] = std::move(row);
    else
      rows.push_back(std::move(row));
  }
}

std::vector<double> ActivationStats::hessianDiagonal() const {
  std::vector<double> h;
  if (rowsCounted == 0)
    return h;
  for (double s : channelSumSq)
    h.push_back(2.0 * s / double(rowsCounted));
  return h;
}

std::vector<const Value *> CalibrationStats::observedValues(const Graph &g) {
  std::vector<const Value *> values;
  auto add = [&](const Value *v) {
    if (!v->name().empty() && llvm::find(values, v) == values.end())
      values.push_back(v);
  };
  for (const Op &op : g.ops()) {
    if (op.kind() == OpKind::Linear) {
      // A linear input quantized already (repq): what the quantizer reads.
      const Value *x = op.operand(0);
      const Op *dq = x->definingOp();
      const Op *q = dq && dq->kind() == OpKind::Dequantize ? dq->operand(0)->definingOp()
                                                            : nullptr;
      if (q && (q->kind() == OpKind::Quantize || q->kind() == OpKind::QuantizeDynamic))
        x = q->operand(0);
      add(x);
    }
    if (op.kind() == OpKind::MatMul) {
      add(op.operand(0));
      add(op.operand(1));
    }
  }
  return values;
}

ValueObserver CalibrationStats::observerFor(const Graph &g) {
  llvm::DenseSet<const Value *> wanted;
  for (const Value *v : observedValues(g))
    wanted.insert(v);
  return [this, wanted = std::move(wanted)](const Value &v, const Tensor &t) {
    if (wanted.contains(&v))
      observe(v, t);
  };
}

const ActivationStats *CalibrationStats::find(llvm::StringRef name) const {
  auto it = stats_.find(name);
  return it == stats_.end() ? nullptr : &it->second;
}

double CalibrationStats::percentileValue(llvm::StringRef name) const {
  auto it = loadedPercentile_.find(name);
  if (it != loadedPercentile_.end())
    return it->second;
  // Statistics collected in this process: the 99.99th percentile (the
  // default of `sqc calibrate`) from the histogram.
  const ActivationStats *s = find(name);
  if (!s)
    return 0;
  return s->histogram.count() ? std::min(s->absMax, s->histogram.percentile(0.9999))
                              : s->absMax;
}

llvm::Error CalibrationStats::save(llvm::StringRef path, double percentile,
                                   const std::string &description) const {
  nlohmann::ordered_json j;
  j["model"] = description;
  j["percentile"] = percentile;
  nlohmann::ordered_json acts = nlohmann::ordered_json::object();
  std::vector<std::string> names;
  for (const auto &e : stats_)
    names.push_back(e.first().str());
  std::sort(names.begin(), names.end());
  for (const std::string &n : names) {
    const ActivationStats &s = stats_.find(n)->second;
    acts[n] = {{"absmax", s.absMax},
               {"percentile", s.histogram.percentile(percentile / 100.0)},
               {"observations", s.observations},
               {"channel_absmax", s.channelAbsMax},
               {"channel_sumsq", s.channelSumSq},
               {"rows_counted", s.rowsCounted}};
    if (s.rowsCounted) {
      // A channel never seen (a last dimension that grew later) holds
      // +-inf, which JSON cannot: 0, which every range holds anyway.
      auto finite = [](std::vector<double> v) {
        for (double &x : v)
          x = std::isfinite(x) ? x : 0.0;
        return v;
      };
      acts[n]["channel_min"] = finite(s.channelMin);
      acts[n]["channel_max"] = finite(s.channelMax);
    }
    if (!s.rows.empty())
      acts[n]["rows"] = s.rows;
  }
  j["activations"] = acts;
  return llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
    os << j.dump(1) << "\n";
    return llvm::Error::success();
  });
}

llvm::Expected<CalibrationStats> CalibrationStats::load(llvm::StringRef path) {
  auto fail = [&](const llvm::Twine &msg) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), path + ": " + msg);
  };
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf)
    return fail(buf.getError().message());
  nlohmann::json j = nlohmann::json::parse((*buf)->getBuffer().begin(),
                                           (*buf)->getBuffer().end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("activations") ||
      !j["activations"].is_object())
    return fail("not a calibration file (expected {\"activations\": {...}})");
  CalibrationStats stats;
  for (auto &[name, e] : j["activations"].items()) {
    if (!e.is_object() || !e.contains("absmax") || !e["absmax"].is_number() ||
        !e.contains("channel_absmax") || !e["channel_absmax"].is_array())
      return fail("activation '" + name + "' needs absmax and channel_absmax");
    ActivationStats &s = stats.stats_[name];
    s.absMax = e["absmax"].get<double>();
    for (const auto &c : e["channel_absmax"]) {
      if (!c.is_number() || c.get<double>() < 0)
        return fail("activation '" + name + "': channel_absmax holds a non-number");
      s.channelAbsMax.push_back(c.get<double>());
    }
    if (e.contains("channel_sumsq")) {
      const auto &ss = e["channel_sumsq"];
      if (!ss.is_array() || ss.size() != s.channelAbsMax.size() ||
          !e.contains("rows_counted") || !e["rows_counted"].is_number_unsigned())
        return fail("activation '" + name +
                    "': channel_sumsq needs one entry per channel and rows_counted");
      for (const auto &c : ss) {
        if (!c.is_number() || c.get<double>() < 0)
          return fail("activation '" + name + "': channel_sumsq holds a non-number");
        s.channelSumSq.push_back(c.get<double>());
      }
      s.rowsCounted = e["rows_counted"].get<uint64_t>();
    }
    if (e.contains("channel_min") != e.contains("channel_max"))
      return fail("activation '" + name + "': channel_min and channel_max come together");
    for (auto [key, out] : {std::pair{"channel_min", &s.channelMin},
                            std::pair{"channel_max", &s.channelMax}}) {
      if (!e.contains(key))
        continue;
      if (!e[key].is_array() || e[key].size() != s.channelAbsMax.size())
        return fail("activation '" + name + "': " + key + " needs one entry per channel");
      for (const auto &c : e[key]) {
        if (!c.is_number())
          return fail("activation '" + name + "': " + key + " holds a non-number");
        out->push_back(c.get<double>());
      }
    }
    if (e.contains("rows") && e["rows"].is_array())
      for (const auto &row : e["rows"]) {
        if (!row.is_array() || row.size() != s.channelAbsMax.size())
          return fail("activation '" + name + "': a sample row has the wrong length");
        std::vector<float> r;
        for (const auto &x : row) {
          if (!x.is_number())
            return fail("activation '" + name + "': a sample row holds a non-number");
          r.push_back(x.get<float>());
        }
        s.rows.push_back(std::move(r));
      }
    if (e.contains("percentile") && e["percentile"].is_number())
      stats.loadedPercentile_[name] = e["percentile"].get<double>();
  }
  return stats;
}

} // namespace sqc
