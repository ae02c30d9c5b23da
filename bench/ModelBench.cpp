//===- bench/ModelBench.cpp - `sqc bench model` ---------------------------===//
#include "bench/ModelBench.h"

#include "codegen/CompiledGraph.h"
#include "frontend/Tokenizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <unistd.h>

namespace sqc {

namespace {

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// Resident set size in MB (Linux), or 0 where /proc is not there.
double residentMB() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  if (!(statm >> pages >> resident))
    return 0;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / 1e6;
}

struct Measurement {
  double compileSeconds = 0, prefillPerSecond = 0, decodePerSecond = 0, residentMB = 0;
};

llvm::Expected<Measurement> measure(LoadedModel &m, unsigned threads,
                                    const ModelBenchOptions &o) {
  Measurement r;
  JitOptions jit;
  jit.threads = threads;
  jit.profile = o.profile;
  jit.target = o.target;
  auto t0 = Clock::now();
  if (llvm::Error e = compileModel(m, jit))
    return e;
  r.compileSeconds = secondsSince(t0);
  int64_t V = m.tokenizer ? m.tokenizer->vocabSize() : 256;
  std::mt19937 rng(7);
  std::vector<int32_t> prompt(o.promptTokens);
  for (int32_t &t : prompt)
    t = int32_t(rng() % uint32_t(V));
  // Prefill: one warm-up run, then the median of five.
  std::vector<double> times;
  std::vector<Tensor> cache;
  llvm::Expected<Tensor> logits = Tensor();
  for (int rep = 0; rep < 6; ++rep) {
    cache.clear();
    t0 = Clock::now();
    logits = runForward(m, prompt, 0, cache);
    if (!logits)
      return logits.takeError();
    if (rep > 0)
      times.push_back(secondsSince(t0));
    else if (o.profile)
      // The warm-up's first touches of memory (page faults in every new
      // buffer: 2.8 ms a silu call, against 0.1 ms after) are not steady
      // state; the profile covers the timed runs.
      m.compiled->resetProfile();
  }
  std::sort(times.begin(), times.end());
  r.prefillPerSecond = o.promptTokens / times[times.size() / 2];
  if (o.profile) {
    llvm::errs() << "prefill, " << threads << " thread(s), 5 runs:\n"
                 << m.compiled->profileReport() << "\n";
    m.compiled->resetProfile();
  }
  // Decode: the median step, so that a burst of load elsewhere on the
  // machine does not decide the number (a step takes milliseconds).
  times.clear();
  for (int64_t i = 0; i < o.decodeTokens; ++i) {
    const float *last = logits->floats().data() + (logits->shape()[0] - 1) * logits->shape()[1];
    int32_t next = int32_t(std::max_element(last, last + logits->shape()[1]) - last);
    t0 = Clock::now();
    logits = runForward(m, {next}, o.promptTokens + i, cache);
    if (!logits)
      return logits.takeError();
    times.push_back(secondsSince(t0));
  }
  std::sort(times.begin(), times.end());
  r.decodePerSecond = times.empty() ? 0 : 1 / times[times.size() / 2];
  r.residentMB = residentMB();
  if (o.profile)
    llvm::errs() << "decode, " << threads << " thread(s), " << o.decodeTokens << " steps:\n"
                 << m.compiled->profileReport() << "\n";
  m.compiled.reset();
  return r;
}

} // namespace

int runModelBench(const ModelBenchOptions &o, const VariantLoader &load,
                  llvm::raw_ostream &os) {
  os << fmt::format("prefill: {} tokens (median of 5 runs after a warm-up); decode: {} steps after it (median step); ratios against {} at the same "
                    "thread count\n\n",
                    o.promptTokens, o.decodeTokens, o.variants.front());
  os << fmt::format("{:<8} {:>7} {:>9} {:>14} {:>13} {:>9} {:>9} {:>8}\n", "variant",
                    "threads", "compile s", "prefill tok/s", "decode tok/s", "prefill x",
                    "decode x", "RSS MB");
  std::vector<Measurement> base(o.threads.size());
  for (const std::string &variant : o.variants) {
    auto m = load(variant);
    if (!m) {
      llvm::errs() << "error: " << variant << ": " << llvm::toString(m.takeError()) << "\n";
      return 1;
    }
    for (size_t t = 0; t < o.threads.size(); ++t) {
      auto r = measure(*m, o.threads[t], o);
      if (!r) {
        llvm::errs() << "error: " << variant << ": " << llvm::toString(r.takeError()) << "\n";
        return 1;
      }
      if (&variant == &o.variants.front())
        base[t] = *r;
      os << fmt::format("{:<8} {:>7} {:>9.2f} {:>14.1f} {:>13.1f} {:>9.2f} {:>9.2f} {:>8.0f}\n",
                        variant, o.threads[t], r->compileSeconds, r->prefillPerSecond,
                        r->decodePerSecond, r->prefillPerSecond / base[t].prefillPerSecond,
                        r->decodePerSecond / base[t].decodePerSecond, r->residentMB);
      os.flush();
    }
  }
  os << "\nRSS: the process's resident memory after the variant ran (models are loaded\n"
        "one at a time; earlier variants' freed memory may stay resident).\n";
  return 0;
}

} // namespace sqc
