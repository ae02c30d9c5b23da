//===- bench/GemmBench.cpp - `sqc bench gemm` -----------------------------===//
//
// GOP/s of the GEMM of a linear layer, C[M, N] = A[M, K] W[N, K]^T, for the
// shapes of transformer layers. Every measurement repeats the call until
// `minSeconds` have passed and reports the median of five such runs. Weights
// are packed and activations quantized once, outside the timing (as in a
// compiled model, where packing happens at compile time); sqc's int8 time
// includes its fused epilogue (dequantize to f32), oneDNN's u8s8s32 writes
// raw int32. The ratio column compares each kernel with sqc's fp32 kernel
// on the same shape and thread count.
//
//===----------------------------------------------------------------------===//
#include "bench/GemmBench.h"

#include "codegen/GemmEngine.h"

#include "llvm/ADT/StringExtras.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>

#ifdef SQC_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif

namespace sqc {

namespace {

bool parseList(llvm::StringRef text, const std::function<bool(llvm::StringRef)> &item) {
  llvm::SmallVector<llvm::StringRef, 8> parts;
  text.split(parts, ',', -1, false);
  return !parts.empty() && llvm::all_of(parts, [&](llvm::StringRef p) { return item(p.trim()); });
}

/// Seconds per call: the median of five runs of at least `minSeconds` each.
double timeCall(const std::function<void()> &fn, double minSeconds) {
  using Clock = std::chrono::steady_clock;
  fn(); // warm caches and threads
  std::vector<double> runs;
  for (int r = 0; r < 5; ++r) {
    int64_t calls = 0;
    auto start = Clock::now();
    double elapsed = 0;
    do {
      fn();
      ++calls;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < minSeconds / 5);
    runs.push_back(elapsed / double(calls));
  }
  std::sort(runs.begin(), runs.end());
  return runs[2];
}

} // namespace

std::string parseThreadCounts(llvm::StringRef what, llvm::StringRef text,
                              std::vector<unsigned> &out) {
  std::vector<unsigned> ts;
  if (!parseList(text, [&](llvm::StringRef s) {
        unsigned v;
        return !s.getAsInteger(10, v) && v > 0 && (ts.push_back(v), true);
      }))
    return what.str() + ": expected positive integers joined by commas, e.g. 1,2; got '" +
           text.str() + "'";
  out = ts;
  return "";
}

std::string applyBenchEnvironment(GemmBenchOptions &o) {
  if (const char *m = std::getenv("BENCH_M")) {
    std::vector<int64_t> ms;
    if (!parseList(m, [&](llvm::StringRef s) {
          int64_t v;
          return !s.getAsInteger(10, v) && v > 0 && (ms.push_back(v), true);
        }))
      return "BENCH_M: expected positive integers joined by commas, e.g. 1,128; got '" +
             std::string(m) + "'";
    o.ms = ms;
  }
  if (const char *kn = std::getenv("BENCH_KN")) {
    std::vector<std::pair<int64_t, int64_t>> kns;
    if (!parseList(kn, [&](llvm::StringRef s) {
          auto [k, n] = s.split('x');
          int64_t kv, nv;
          return !k.getAsInteger(10, kv) && !n.getAsInteger(10, nv) && kv > 0 && nv > 0 &&
                 (kns.push_back({kv, nv}), true);
        }))
      return "BENCH_KN: expected KxN pairs joined by commas, e.g. 768x3072; got '" +
             std::string(kn) + "'";
    o.kns = kns;
  }
  if (const char *t = std::getenv("BENCH_THREADS"))
    return parseThreadCounts("BENCH_THREADS", t, o.threads);
  return "";
}

int runGemmBench(const GemmBenchOptions &o, llvm::raw_ostream &os) {
  // The host must run the target's code: --mcpu may name a richer CPU.
  if (auto lacking = featuresTheHostLacks(o.target); !lacking.empty()) {
    os << "sqc: error: this CPU lacks " << llvm::join(lacking, ", ")
       << " of the target; `sqc-run --emit=asm` prints its kernels without running\n";
    return 1;
  }
  // sqc's int8 variants the target runs (best first) and its fp32 kernel.
  std::vector<std::unique_ptr<GemmEngine>> engines;
  for (GemmIsa isa : {GemmIsa::AVX512VNNI, GemmIsa::AVXVNNI, GemmIsa::AVX2, GemmIsa::Generic}) {
    if (!targetRuns(o.target, isa))
      continue;
    auto e = GemmEngine::create(o.target, isa);
    if (!e) {
      os << "sqc: error: compiling the " << gemmIsaName(isa)
         << " kernels: " << llvm::toString(e.takeError()) << "\n";
      return 1;
    }
    engines.push_back(std::move(*e));
  }
  const GemmEngine &best = *engines.front();
  os << "target " << o.target.cpu << "; sqc kernels: ";
  for (size_t i = 0; i < engines.size(); ++i)
    os << (i ? ", " : "") << gemmIsaName(engines[i]->isa());
#ifdef SQC_HAVE_ONEDNN
  os << "; oneDNN " << dnnl_version()->major << "." << dnnl_version()->minor << "."
     << dnnl_version()->patch;
  // oneDNN picks the host's best ISA by itself; cap it at what the target
  // has, so `--mcpu znver3` compares with oneDNN's AVX2 path (vpmaddubsw,
  // which saturates) on this machine too. Only possible before its first
  // kernel, hence once per process.
  {
    static const char *capped = [&]() -> const char * {
      if (targetRuns(o.target, GemmIsa::AVX512VNNI))
        return nullptr;
      if (targetRuns(o.target, GemmIsa::AVXVNNI))
        return dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2_vnni) == dnnl_success ? "avx2_vnni" : "";
      if (targetRuns(o.target, GemmIsa::AVX2))
        return dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2) == dnnl_success ? "avx2" : "";
      return dnnl_set_max_cpu_isa(dnnl_cpu_isa_sse41) == dnnl_success ? "sse41" : "";
    }();
    if (capped)
      os << (*capped ? " (ISA capped at " + std::string(capped) + ", as the target)"
                     : std::string(" (could not cap its ISA: it ran before)"));
  }
#else
  os << "; oneDNN: not built in (install libdnnl-dev and rebuild)";
#endif
  os << "\n\n"
     << fmt::format("{:>6} {:>6} {:>6} {:>3}  {:<18} {:>10} {:>9} {:>9}\n", "M", "K", "N",
                    "thr", "kernel", "time(us)", "GOP/s", "vs fp32");
  std::mt19937 rng(1);
  for (auto [K, N] : o.kns)
    for (int64_t M : o.ms)
      for (unsigned threads : o.threads) {
        ThreadPool pool(threads);
        std::vector<float> a(M * K), w(N * K), c(M * N), ws(N, 1.0f / 127);
        std::uniform_real_distribution<float> u(-1, 1);
        for (float &x : a)
          x = u(rng);
        // Weights as trained ones look: normal, quantized per row to its
        // largest magnitude (which the sign-pair packer's pairing sees).
        std::normal_distribution<float> normal(0, 0.02f);
        for (float &x : w)
          x = normal(rng);
        std::vector<int8_t> wq(N * K);
        for (int64_t n = 0; n < N; ++n) {
          float mx = 0;
          for (int64_t k = 0; k < K; ++k)
            mx = std::max(mx, std::fabs(w[n * K + k]));
          for (int64_t k = 0; k < K; ++k)
            wq[n * K + k] = int8_t(std::nearbyint(w[n * K + k] / mx * 127));
        }
        double ops = 2.0 * double(M) * double(N) * double(K);
        std::vector<std::pair<std::string, double>> rows;
        {
          PackedWeights pw = best.packF32(w.data(), N, K);
          rows.push_back({"fp32-" + gemmIsaName(best.isa()).str(), timeCall([&] {
                            best.f32Gemm(a.data(), K, M, pw, nullptr, nullptr, c.data(), N,
                                         &pool);
                          }, o.minSeconds)});
        }
        for (const auto &e : engines) {
          QuantizedRows rowsA;
          e->quantizeRows(a.data(), M, K, rowsA);
          // AVX2's linears run sign pairs (int8sp); attention's operands
          // and zero-point rows the pmaddwd kernel (int8).
          std::vector<std::pair<std::string, PackedWeights>> packed;
          packed.push_back({"int8-", e->packInt8(wq.data(), N, K)});
          if (auto sp = e->packInt8SignPairs(wq.data(), N, K))
            packed.push_back({"int8sp-", std::move(*sp)});
          for (const auto &[name, pw] : packed)
            rows.push_back({name + gemmIsaName(e->isa()).str(), timeCall([&] {
                              e->int8Gemm(rowsA, pw, ws.data(), nullptr, nullptr, c.data(), N,
                                          &pool);
                            }, o.minSeconds)});
        }
        {
          // 4-bit weights on the best variant: per row, and in groups of 32
          // inputs with a multiplier each (when K allows), both unpacked in
          // registers.
          std::vector<int8_t> q4(N * K);
          for (int64_t i = 0; i < N * K; ++i)
            q4[i] = int8_t(std::nearbyint(wq[i] / 127.0f * 7));
          std::vector<uint8_t> mult(N * (K / 32));
          for (size_t i = 0; i < mult.size(); ++i)
            mult[i] = uint8_t(1 + i % 16);
          QuantizedRows rowsA;
          best.quantizeRows(a.data(), M, K, rowsA);
          std::vector<std::pair<std::string, PackedWeights>> packed;
          packed.push_back({"int4-", best.packInt4(q4.data(), N, K)});
          if (auto g = best.packInt4Grouped(q4.data(), mult.data(), N, K, K / 32))
            packed.push_back({"int4g32-", std::move(*g)});
          for (const auto &[name, pw] : packed)
            rows.push_back({name + gemmIsaName(best.isa()).str(), timeCall([&] {
                              best.int8Gemm(rowsA, pw, ws.data(), nullptr, nullptr, c.data(),
                                            N, &pool);
                            }, o.minSeconds)});
        }
#ifdef SQC_HAVE_ONEDNN
        omp_set_num_threads(int(threads));
        {
          std::vector<uint8_t> au(M * K);
          for (int64_t i = 0; i < M * K; ++i)
            au[i] = uint8_t(std::nearbyint(a[i] * 127) + 128);
          std::vector<int32_t> ci(M * N), co(1, 0);
          rows.push_back({"onednn-u8s8s32", timeCall([&] {
                            dnnl_gemm_u8s8s32('N', 'T', 'F', M, N, K, 1.0f, au.data(), K, 0,
                                              wq.data(), K, 0, 0.0f, ci.data(), N, co.data());
                          }, o.minSeconds)});
          rows.push_back({"onednn-f32", timeCall([&] {
                            dnnl_sgemm('N', 'T', M, N, K, 1.0f, a.data(), K, w.data(), K,
                                       0.0f, c.data(), N);
                          }, o.minSeconds)});
        }
#endif
        double fp32 = rows.front().second;
        for (auto &[name, secs] : rows)
          os << fmt::format("{:>6} {:>6} {:>6} {:>3}  {:<18} {:>10.1f} {:>9.1f} {:>8.2f}x\n", M,
                            K, N, threads, name, secs * 1e6, ops / secs / 1e9, fp32 / secs);
        os.flush();
      }
  return 0;
}

} // namespace sqc
