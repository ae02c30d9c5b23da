//===- tools/sqc/sqc.cpp - sqc, the user's front door ---------------------===//
//
//   sqc eval MODEL --text FILE [--window 256] [--max-tokens N]
//   sqc generate MODEL [--prompt TEXT] [-n N] [--temperature T] [--seed S]
//   sqc calibrate MODEL --text FILE [--samples N --seq-len L] -o stats.json
//   sqc quantize MODEL --calib-text FILE [--alpha A] [--level O1|O2|O3] -o OUTDIR
//   sqc import MODEL -o OUT.sqir
//
// MODEL is a Hugging Face folder (config.json + safetensors), a llama2.c
// checkpoint or a module written by `sqc import`; --tokenizer FILE names the
// tokenizer where the model brings none.
//
//===----------------------------------------------------------------------===//
#include "bench/GemmBench.h"
#include "bench/ModelBench.h"
#include "frontend/Model.h"
#include "ir/Printer.h"
#include "passes/PassManager.h"
#include "ir/Verifier.h"
#include "runtime/Calibration.h"
#include "runtime/Executor.h"
#include "tools/ToolSupport.h"
#include "tools/sqc/InjectOutliers.h"
#include "tools/sqc/RandomModel.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <regex>
#include <tuple>

using namespace sqc;
namespace cl = llvm::cl;

namespace {

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int error(const llvm::Twine &msg) {
  llvm::WithColor::error(llvm::errs(), "sqc") << msg << "\n";
  return 1;
}

/// The perplexity protocol of ../shared/data/README.md: paragraphs split on
/// blank lines, each [BOS] + encode(paragraph), concatenated and truncated.
std::vector<int32_t> tokenizeText(Tokenizer &tok, std::string text,
                                  int64_t maxTokens) {
  text = std::regex_replace(text, std::regex("\r\n"), "\n");
  std::vector<int32_t> toks;
  static const std::regex blank("\n[ \t]*\n");
  for (std::sregex_token_iterator it(text.begin(), text.end(), blank, -1), end;
       it != end; ++it) {
    std::string para = *it;
    size_t a = para.find_first_not_of('\n'), b = para.find_last_not_of('\n');
    para = a == std::string::npos ? "" : para.substr(a, b - a + 1);
    if (para.find_first_not_of(" \t\n\r\f\v") == std::string::npos)
      continue;
    std::vector<int32_t> t = tok.encode(para, /*bos=*/true);
    toks.insert(toks.end(), t.begin(), t.end());
    if (maxTokens > 0 && int64_t(toks.size()) >= maxTokens)
      break;
  }
  if (maxTokens > 0 && int64_t(toks.size()) > maxTokens)
    toks.resize(maxTokens);
  return toks;
}

/// log sum_j exp(z[j]) over V logits, in double, shifted by the maximum.
double logSumExp(const float *z, int64_t V) {
  double mx = -INFINITY, sum = 0;
  for (int64_t j = 0; j < V; ++j)
    mx = std::max(mx, double(z[j]));
  for (int64_t j = 0; j < V; ++j)
    sum += std::exp(double(z[j]) - mx);
  return mx + std::log(sum);
}

/// Mean over positions of KL(softmax(p) || softmax(q)) for f32 logits [n, V].
double meanKL(const Tensor &p, const Tensor &q) {
  if (p.rank() != 2 || p.shape() != q.shape() || p.dtype() != DType::F32 ||
      q.dtype() != DType::F32)
    return NAN;
  int64_t n = p.shape()[0], V = p.shape()[1];
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float *zp = p.floats().data() + i * V, *zq = q.floats().data() + i * V;
    double lseP = logSumExp(zp, V), lseQ = logSumExp(zq, V);
    for (int64_t j = 0; j < V; ++j) {
      double lp = double(zp[j]) - lseP, lq = double(zq[j]) - lseQ;
      total += std::exp(lp) * (lp - lq);
    }
  }
  return n ? total / n : NAN;
}

struct Perplexity {
  double nll = 0;
  int64_t scored = 0;
  double seconds = 0;
  double ppl() const { return std::exp(nll / scored); }
};

/// Perplexity over non-overlapping windows, each from an empty context.
llvm::Expected<Perplexity> perplexity(LoadedModel &m, llvm::ArrayRef<int32_t> toks,
                                      int64_t window, llvm::StringRef label) {
  Perplexity r;
  auto t0 = Clock::now();
  int64_t windows = (int64_t(toks.size()) - 1 + window - 1) / window;
  for (int64_t w = 0, s = 0; s + 1 < int64_t(toks.size()); ++w, s += window) {
    int64_t len = std::min<int64_t>(window, toks.size() - 1 - s);
    std::vector<Tensor> cache;
    auto logits = runForward(m, toks.slice(s, len), 0, cache);
    if (!logits)
      return logits.takeError();
    int64_t V = logits->shape()[1];
    const float *z = logits->floats().data();
    for (int64_t i = 0; i < len; ++i, z += V)
      r.nll -= double(z[toks[s + i + 1]]) - logSumExp(z, V);
    r.scored += len;
    if ((w + 1) % 20 == 0 || w + 1 == windows)
      llvm::errs() << llvm::format("\r  %s window %lld/%lld  tokens %lld  PPL %.4f  "
                                   "%.0f tok/s", label.str().c_str(), (long long)(w + 1),
                                   (long long)windows, (long long)r.scored, r.ppl(),
                                   r.scored / secondsSince(t0));
  }
  llvm::errs() << "\n";
  r.seconds = secondsSince(t0);
  return r;
}

/// Which engine runs the model: JIT kernels (default) or the reference
/// interpreter.
struct EngineChoice {
  bool jit = true;
  JitOptions options;
};

/// Compiles `m` for the JIT unless the interpreter was chosen; says what it
/// did on stderr. False after reporting an error.
bool prepareEngine(LoadedModel &m, const EngineChoice &e, bool quiet = false) {
  if (!e.jit)
    return true;
  auto t0 = Clock::now();
  if (llvm::Error err = compileModel(m, e.options))
    return error("JIT compilation failed: " + llvm::toString(std::move(err))), false;
  if (!quiet)
    llvm::errs() << "jit: " << m.compiled->describe() << " (compiled in "
                 << llvm::format("%.2f", secondsSince(t0)) << " s)\n";
  return true;
}

/// The tokens of `textPath` to score (tokenizeText); at least two.
llvm::Expected<std::vector<int32_t>> scoredTokens(Tokenizer &tok, llvm::StringRef textPath,
                                                  int64_t maxTokens) {
  auto buf = llvm::MemoryBuffer::getFile(textPath, /*IsText=*/true);
  if (!buf)
    return llvm::createStringError(buf.getError(),
                                   textPath + ": " + buf.getError().message());
  std::vector<int32_t> toks = tokenizeText(tok, (*buf)->getBuffer().str(), maxTokens);
  if (toks.size() < 2)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   textPath + ": fewer than two tokens to score");
  return toks;
}

int runEval(LoadedModel &m, llvm::StringRef textPath, int64_t window,
            int64_t maxTokens) {
  auto toks = scoredTokens(*m.tokenizer, textPath, maxTokens);
  if (!toks)
    return error(llvm::toString(toks.takeError()));
  if (window < 1)
    return error("--window must be at least 1");
  auto r = perplexity(m, *toks, window, "");
  if (!r)
    return error(llvm::toString(r.takeError()));
  llvm::outs() << "model:    " << m.description << "\n"
               << "text:     " << textPath << "\n"
               << llvm::format("tokens:   %lld (scored %lld, window %lld)\n",
                               (long long)toks->size(), (long long)r->scored,
                               (long long)window)
               << llvm::format("NLL:      %.6f\n", r->nll / r->scored)
               << llvm::format("PPL:      %.4f\n", r->ppl())
               << llvm::format("time:     %.2f s (%.0f tokens/s)\n", r->seconds,
                               r->scored / r->seconds);
  return 0;
}

/// The first `samples` windows of `seqLen` tokens of the text: what
/// calibration (and the loss probe of --sensitivity measured) runs on.
llvm::Expected<std::vector<int32_t>> calibrationTokens(LoadedModel &m, llvm::StringRef textPath,
                                                       int64_t samples, int64_t seqLen) {
  auto buf = llvm::MemoryBuffer::getFile(textPath, /*IsText=*/true);
  if (!buf)
    return llvm::createStringError(buf.getError(), textPath + ": " +
                                                       buf.getError().message());
  if (samples < 1 || seqLen < 1)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "--samples and --seq-len must be at least 1");
  std::vector<int32_t> toks =
      tokenizeText(*m.tokenizer, (*buf)->getBuffer().str(), samples * seqLen);
  if (toks.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   textPath + ": no tokens");
  return toks;
}

/// Runs the model on `samples` windows of `seqLen` tokens of the text and
/// records statistics of every activation that feeds a linear or matmul.
llvm::Expected<CalibrationStats> calibrate(LoadedModel &m, llvm::StringRef textPath,
                                           int64_t samples, int64_t seqLen,
                                           const JitOptions &jit, unsigned keepRows = 0,
                                           bool quiet = false) {
  auto toks = calibrationTokens(m, textPath, samples, seqLen);
  if (!toks)
    return toks.takeError();
  CalibrationStats stats;
  stats.setKeepRows(keepRows);
  ValueObserver observe = stats.observerFor(m.forward());
  // Through the JIT (a model under quantization is not compiled yet); the
  // compiled graph is dropped after, as the passes will change the graph.
  bool ownCompile = !m.compiled;
  if (ownCompile)
    if (llvm::Error e = compileModel(m, jit))
      return e;
  auto t0 = Clock::now();
  int64_t windows = (int64_t(toks->size()) + seqLen - 1) / seqLen;
  for (int64_t w = 0; w < windows; ++w) {
    int64_t s = w * seqLen, len = std::min<int64_t>(seqLen, toks->size() - s);
    std::vector<Tensor> cache;
    auto r = runForward(m, llvm::ArrayRef<int32_t>(*toks).slice(s, len), 0, cache, &observe);
    if (!r) {
      if (ownCompile)
        m.compiled.reset();
      return r.takeError();
    }
    if (!quiet)
      llvm::errs() << llvm::format("\r  calibration sample %lld/%lld  %.1f s",
                                   (long long)(w + 1), (long long)windows,
                                   secondsSince(t0));
  }
  if (!quiet)
    llvm::errs() << "\n";
  if (ownCompile)
    m.compiled.reset();
  return stats;
}

int runCalibrate(LoadedModel &m, llvm::StringRef textPath, int64_t samples,
                 int64_t seqLen, double percentile, unsigned keepRows,
                 const JitOptions &jit, llvm::StringRef output) {
  if (!(percentile > 0 && percentile <= 100))
    return error("--percentile must be in (0, 100]");
  auto stats = calibrate(m, textPath, samples, seqLen, jit, keepRows);
  if (!stats)
    return error(llvm::toString(stats.takeError()));
  if (llvm::Error e = stats->save(output, percentile, m.description))
    return error(output + ": " + llvm::toString(std::move(e)));
  llvm::outs() << "calibrated " << stats->all().size() << " activations -> "
               << output << "\n";
  return 0;
}

struct QuantizeOptions {
  std::string calibText;
  int64_t samples, seqLen;
  std::string alpha, level, weightScales, smoothPaths;
  bool smooth;
  bool clip;
  double minOutlierRatio;
  bool rotateQK;
  std::string weightClip;
  // Mixed precision (one budget, or none for uniform INT8 weights).
  double avgBits = 0, sizeMB = 0;
  std::string hessian = "diagonal", assign = "pareto";
  std::string sensitivity = "hessian"; // or measured: a loss probe weighs linears
  int64_t probeSamples = 8;            // calibration windows the probe runs
  int64_t group = 0; // INT4 scales per group of input channels (0: per row)
  bool mixed() const { return avgBits > 0 || sizeMB > 0; }
  // smoothquant, or repq (norm outputs: RepQ-ViT reparameterized), or its
  // references repq-per-channel and repq-per-tensor.
  std::string method = "smoothquant";
  // The attention probabilities' quantizer: uniform, fixed, log2 or log-sqrt2.
  std::string softmax = "uniform";
  int64_t softmaxBlock = 32; // uniform: probabilities per u8 scale (0: a row)
  // O1's keys in Q K^T: per-channel or per-token.
  std::string keys = "per-channel";
  // Calibration and the loss probe run through the JIT, on this target.
  JitOptions jit = JitOptions();
  bool repq() const { return llvm::StringRef(method).starts_with("repq"); }
  /// W8A8, A8 (FP32 weights) or mixed-precision weights.
  std::string precisionName() const {
    return mixed() ? "mixed-precision weights" : weightScales == "fp32" ? "A8" : "W8A8";
  }
};

/// Runs a pipeline string on the model with its weights and `stats`; adds
/// what the passes report to `statistics` when given.
bool runPipeline(LoadedModel &m, llvm::StringRef pipeline, const CalibrationStats *stats,
                 bool quiet = false, std::map<std::string, double> *statistics = nullptr,
                 std::function<llvm::Expected<double>(Module &)> lossProbe = nullptr) {
  // Quiet: only errors (the remarks of a comparison run are noise).
  std::string remarks;
  llvm::raw_string_ostream remarkStream(remarks);
  DiagnosticEngine diag(quiet ? static_cast<llvm::raw_ostream &>(remarkStream) : llvm::errs());
  auto nodes = parsePipeline(pipeline, diag);
  if (!nodes)
    return false;
  PassManager pm;
  pm.setPipeline(std::move(*nodes));
  PassContext ctx{diag, m.weights.get(), stats};
  ctx.lossProbe = std::move(lossProbe);
  bool ok = succeeded(pm.run(*m.module, ctx)) && succeeded(verify(*m.module, diag));
  if (statistics)
    statistics->insert(ctx.statistics.begin(), ctx.statistics.end());
  if (!ok && quiet)
    llvm::errs() << remarks;
  return ok;
}

/// The loss probe of --sensitivity measured: the mean KL divergence of the
/// model's next-token distributions from those it had when the probe was
/// made (FP32), over the calibration windows. Each call compiles the module
/// as it stands, which must be `m`'s. Answers are remembered for the
/// process by reference and module text: the variants of `--bit-budgets`
/// probe the same modules, budget after budget.
class DivergenceProbe {
public:
  static llvm::Expected<DivergenceProbe> make(LoadedModel &m, std::vector<int32_t> toks,
                                              int64_t seqLen, const JitOptions &jit) {
    DivergenceProbe p(m, std::move(toks), seqLen, jit);
    std::vector<llvm::XXH128_hash_t> hashes;
    if (llvm::Error e = p.forEachWindow([&](Tensor logits) {
          hashes.push_back(llvm::xxh3_128bits(llvm::ArrayRef<uint8_t>(
              reinterpret_cast<const uint8_t *>(logits.floats().data()),
              logits.floats().size() * sizeof(float))));
          p.reference_.push_back(std::move(logits));
        }))
      return e;
    p.referenceHash_ = llvm::xxh3_128bits(llvm::ArrayRef<uint8_t>(
        reinterpret_cast<const uint8_t *>(hashes.data()), hashes.size() * sizeof(hashes[0])));
    return p;
  }

  llvm::Expected<double> operator()(Module &mod) {
    assert(&mod == m_->module.get() && "the probe runs the model it was made for");
    std::string text;
    llvm::raw_string_ostream os(text);
    printModule(mod, os);
    llvm::XXH128_hash_t moduleHash = llvm::xxh3_128bits(llvm::arrayRefFromStringRef(text));
    auto key = std::make_tuple(referenceHash_.high64, referenceHash_.low64, moduleHash.high64,
                               moduleHash.low64);
    static std::map<decltype(key), double> known;
    if (auto it = known.find(key); it != known.end())
      return it->second;
    auto kl = divergence();
    if (kl)
      known[key] = *kl;
    return kl;
  }

private:
  DivergenceProbe(LoadedModel &m, std::vector<int32_t> toks, int64_t seqLen,
                  const JitOptions &jit)
      : m_(&m), toks_(std::move(toks)), seqLen_(seqLen), jit_(jit) {}

  /// meanKL over every window, weighted by its positions.
  llvm::Expected<double> divergence() {
    double kl = 0;
    int64_t rows = 0;
    size_t w = 0;
    if (llvm::Error e = forEachWindow([&](Tensor logits) {
          int64_t n = logits.shape()[0];
          kl += meanKL(reference_[w++], logits) * double(n);
          rows += n;
        }))
      return e;
    return kl / double(std::max<int64_t>(rows, 1));
  }

  /// Compiles the model, calls `window` with each window's logits in order,
  /// and drops the compiled graph (the passes go on changing the module).
  llvm::Error forEachWindow(const std::function<void(Tensor)> &window) {
    if (llvm::Error e = compileModel(*m_, jit_))
      return e;
    for (int64_t s = 0; s < int64_t(toks_.size()); s += seqLen_) {
      std::vector<Tensor> cache;
      int64_t len = std::min<int64_t>(seqLen_, toks_.size() - s);
      auto logits = runForward(*m_, llvm::ArrayRef<int32_t>(toks_).slice(s, len), 0, cache);
      if (!logits) {
        m_->compiled.reset();
        return logits.takeError();
      }
      window(std::move(*logits));
    }
    m_->compiled.reset();
    return llvm::Error::success();
  }

  LoadedModel *m_;
  std::vector<int32_t> toks_;
  int64_t seqLen_;
  JitOptions jit_;
  std::vector<Tensor> reference_; // logits per window, [tokens, vocab]
  llvm::XXH128_hash_t referenceHash_{};
};

/// Calibrates, smooths (unless naive) and quantizes `m` in place; the
/// graph then runs INT8 arithmetic. Reports errors itself; what the
/// quantizing passes chose goes to `statistics` when given.
bool quantizeModel(LoadedModel &m, const QuantizeOptions &o, bool quiet = false,
                   std::map<std::string, double> *statistics = nullptr) {
  std::string acts = o.level == "O1"   ? "per-token"
                     : o.level == "O2" ? "per-tensor-dynamic"
                     : o.level == "O3" ? "per-tensor-static"
                                       : "";
  if (acts.empty())
    return error("--level must be O1, O2 or O3, got '" + o.level + "'"), false;

  if (o.method != "smoothquant" && o.method != "repq" && o.method != "repq-per-channel" &&
      o.method != "repq-per-tensor")
    return error("--method must be smoothquant, repq, repq-per-channel or repq-per-tensor, "
                 "got '" + o.method + "'"),
           false;
  auto say = [&](const llvm::Twine &msg) {
    if (!quiet)
      llvm::errs() << msg << "\n";
  };
  // The reference of --sensitivity measured is the model as it comes.
  std::optional<DivergenceProbe> probe;
  if (o.mixed() && o.sensitivity == "measured" && o.assign == "pareto") {
    say("measuring the FP32 model's next-token distributions on " + o.calibText);
    auto toks =
        calibrationTokens(m, o.calibText, std::min(o.samples, o.probeSamples), o.seqLen);
    if (!toks)
      return error(llvm::toString(toks.takeError())), false;
    auto made = DivergenceProbe::make(m, std::move(*toks), o.seqLen, o.jit);
    if (!made)
      return error(llvm::toString(made.takeError())), false;
    probe.emplace(std::move(*made));
  }
  // Before calibrating: the rotated Q and K are what gets quantized.
  if (o.rotateQK && !runPipeline(m, "rotate-qk", nullptr, quiet))
    return error("rotating attention scores failed"), false;
  say("calibrating on " + o.calibText);
  // alpha=auto measures quantization error on sample activation rows.
  auto stats =
      calibrate(m, o.calibText, o.samples, o.seqLen, o.jit, o.alpha == "auto" ? 128 : 0, quiet);
  if (!stats)
    return error(llvm::toString(stats.takeError())), false;
  // RepQ takes the norm outputs; SmoothQuant, unless --no-smooth, the
  // paths RepQ cannot (up -> down, v -> o) or, without RepQ, all of them.
  std::string paths = o.smoothPaths;
  if (o.repq()) {
    llvm::SmallVector<llvm::StringRef, 3> parts;
    llvm::StringRef(o.smoothPaths).split(parts, '+');
    paths.clear();
    for (llvm::StringRef p : parts)
      if (p != "norms")
        paths += (paths.empty() ? "" : "+") + p.str();
  }
  if (o.smooth && !paths.empty()) {
    say("smoothing (alpha " + o.alpha + ", " + paths + ")");
    std::string autoActs = acts == "per-token" ? "per-token" : "per-tensor";
    if (!runPipeline(m, "smooth-quant{alpha=" + o.alpha + ",paths=" + paths +
                            ",auto-acts=" + autoActs + ",min-outlier-ratio=" +
                            formatFloat(o.minOutlierRatio) + "}",
                     &*stats, quiet))
      return error("smoothing failed"), false;
    if (acts == "per-tensor-static" || o.mixed()) {
      // Static scales and the Hessians of mixed precision must describe the
      // smoothed activations.
      say("recalibrating the smoothed model");
      stats = calibrate(m, o.calibText, o.samples, o.seqLen, o.jit, 0, quiet);
      if (!stats)
        return error(llvm::toString(stats.takeError())), false;
    }
  }
  if (o.repq()) {
    // Smoothing the gated and attention paths leaves norm outputs as they
    // were: the statistics still describe them.
    std::string mode = o.method == "repq" ? "reparameterize" : o.method.substr(5);
    say("RepQ: norm outputs, " + mode);
    if (!runPipeline(m, "repq{mode=" + mode + "}", &*stats, quiet))
      return error("repq failed"), false;
    if (o.mixed()) {
      // Mixed precision weighs errors by what the linears now read.
      say("recalibrating the reparameterized model");
      stats = calibrate(m, o.calibText, o.samples, o.seqLen, o.jit, 0, quiet);
      if (!stats)
        return error(llvm::toString(stats.takeError())), false;
    }
  }
  std::string pipeline = "quantize{weights=" + o.weightScales + ",weight-clip=" +
                         o.weightClip + ",acts=" + acts +
                         ",bmm=true,softmax=" + o.softmax +
                         ",softmax-block=" + std::to_string(o.softmaxBlock) + ",keys=" + o.keys +
                         (o.clip ? ",percentile=true" : "") +
                         "}";
  if (o.mixed())
    pipeline += ",mixed-precision{" +
                (o.avgBits > 0 ? "avg-bits=" + formatFloat(o.avgBits)
                               : "size-mb=" + formatFloat(o.sizeMB)) +
                ",hessian=" + o.hessian + ",sensitivity=" + o.sensitivity +
                ",assign=" + o.assign +
                ",group=" + std::to_string(o.group) +
                ",print-frontier=" + (quiet ? "false" : "true") + "}";
  pipeline += ",fuse-qdq,cse,dce";
  say("quantizing: " + pipeline);
  std::function<llvm::Expected<double>(Module &)> lossProbe;
  int probeRuns = 0;
  auto probeStart = Clock::now();
  if (probe)
    lossProbe = [&](Module &mod) {
      auto loss = (*probe)(mod);
      ++probeRuns;
      if (!quiet)
        llvm::errs() << llvm::format("\r  loss probe run %d  %.1f s", probeRuns,
                                     secondsSince(probeStart));
      return loss;
    };
  bool quantized = runPipeline(m, pipeline, &*stats, quiet, statistics, lossProbe);
  if (probeRuns && !quiet)
    llvm::errs() << "\n";
  if (!quantized)
    return error("quantization failed"), false;
  return true;
}

int runQuantize(LoadedModel &m, const QuantizeOptions &o, llvm::StringRef outDir) {
  auto t0 = Clock::now();
  if (!quantizeModel(m, o))
    return 1;
  if (llvm::Error e = materializeWeights(m))
    return error(llvm::toString(std::move(e)));
  if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
    return error(outDir + ": " + ec.message());
  // The tokenizer travels with the model.
  if (const Attribute *t = m.module->attr("tokenizer")) {
    llvm::StringRef src = t->getString();
    llvm::SmallString<256> dst(outDir);
    llvm::sys::path::append(dst, llvm::sys::path::filename(src));
    if (std::error_code ec = llvm::sys::fs::copy_file(src, dst))
      return error(dst + ": " + ec.message());
    if (llvm::sys::path::filename(src) == "vocab.json") {
      llvm::SmallString<256> ms = llvm::sys::path::parent_path(src), md(outDir);
      llvm::sys::path::append(ms, "merges.txt");
      llvm::sys::path::append(md, "merges.txt");
      if (std::error_code ec = llvm::sys::fs::copy_file(ms, md))
        return error(md + ": " + ec.message());
    }
    m.module->setAttr("tokenizer", llvm::sys::path::filename(src).str());
  }
  // What was done, for whoever reads the module later.
  std::string how = o.repq()    ? o.method
                    : o.smooth ? "smoothquant alpha=" + o.alpha
                               : std::string("naive");
  how += std::string(" ") + o.precisionName() + " " + o.level +
         ", weight scales " + o.weightScales + ", softmax " + o.softmax;
  if (o.softmax == "uniform" && o.softmaxBlock > 0)
    how += " in blocks of " + std::to_string(o.softmaxBlock);
  if (o.mixed() && o.group > 0)
    how += ", INT4 groups of " + std::to_string(o.group);
  if (o.mixed())
    how += o.avgBits > 0 ? ", " + formatFloat(o.avgBits) + " bits per weight"
                         : ", " + formatFloat(o.sizeMB) + " MB of linears";
  m.module->setAttr("quantization", how);
  llvm::SmallString<256> sqir(outDir);
  llvm::sys::path::append(sqir, "model.sqir");
  if (llvm::Error e = writeModel(m, sqir))
    return error(sqir + ": " + llvm::toString(std::move(e)));
  uint64_t bytes = 0;
  llvm::SmallString<256> st(outDir);
  llvm::sys::path::append(st, "model.safetensors");
  llvm::sys::fs::file_size(st, bytes);
  llvm::outs() << llvm::format("wrote %s (weights %.2f MB) in %.1f s\n", sqir.c_str(),
                               bytes / 1e6, secondsSince(t0));
  return 0;
}

/// Outputs of every named linear and matmul on `toks`, for SQNR.
llvm::StringMap<Tensor> layerOutputs(LoadedModel &m, llvm::ArrayRef<int32_t> toks) {
  llvm::StringMap<Tensor> out;
  llvm::DenseSet<const Value *> wanted;
  for (const Op &op : m.forward().ops())
    if (op.kind() == OpKind::Linear || op.kind() == OpKind::MatMul)
      wanted.insert(op.result());
  // After fuse-qdq the named result is the rescale that replaced the op (a
  // dequantize alone when the scales all come before it: keys per channel).
  for (const Op &op : m.forward().ops())
    if ((op.kind() == OpKind::Mul || op.kind() == OpKind::Add ||
         op.kind() == OpKind::Dequantize) &&
        op.result()->hasUses() && !op.result()->name().empty()) {
      const Op *d = op.operand(0)->definingOp();
      while (d && (d->kind() == OpKind::Mul || d->kind() == OpKind::Dequantize))
        d = d->operand(0)->definingOp();
      if (d && llvm::is_contained({OpKind::IntLinear, OpKind::IntMatMul, OpKind::BlockIntMatMul,
                                   OpKind::Log2MatMul},
                                  d->kind()))
        wanted.insert(op.result());
    }
  ValueObserver observe = [&](const Value &v, const Tensor &t) {
    if (wanted.contains(&v) && !v.name().empty())
      out[v.name()] = t;
  };
  std::vector<Tensor> cache;
  if (auto r = runForward(m, toks, 0, cache, &observe); !r) {
    // The report then shows '-' for this variant; say why.
    llvm::WithColor::warning(llvm::errs(), "sqc")
        << "per-layer report: " << llvm::toString(r.takeError()) << "\n";
    return {};
  }
  return out;
}

double sqnr(const Tensor &ref, const Tensor &q) {
  double signal = 0, noise = 0;
  for (int64_t i = 0; i < ref.numElements() && i < q.numElements(); ++i) {
    signal += ref.get(i) * ref.get(i);
    noise += (ref.get(i) - q.get(i)) * (ref.get(i) - q.get(i));
  }
  return noise > 0 ? 10 * std::log10(signal / noise) : INFINITY;
}

/// A fresh copy of the model, quantized with `o` (what the passes chose in
/// `statistics`); nullopt after reporting why not.
std::optional<LoadedModel> quantizedCopy(llvm::StringRef modelPath, llvm::StringRef tokPath,
                                         const QuantizeOptions &o,
                                         std::map<std::string, double> *statistics) {
  auto m = loadModel(modelPath, tokPath);
  if (!m)
    return error(llvm::toString(m.takeError())), std::nullopt;
  if (!quantizeModel(*m, o, /*quiet=*/true, statistics))
    return std::nullopt;
  return std::move(*m);
}

/// The same, ready on `engine`.
std::optional<LoadedModel> quantizedVariant(llvm::StringRef modelPath, llvm::StringRef tokPath,
                                            const QuantizeOptions &o,
                                            const EngineChoice &engine,
                                            std::map<std::string, double> *statistics = nullptr) {
  auto m = quantizedCopy(modelPath, tokPath, o, statistics);
  if (!m || !prepareEngine(*m, engine, /*quiet=*/true))
    return std::nullopt;
  return m;
}

/// A quantized variant in a comparison table.
struct Variant {
  std::string name, shortName; // shortName heads the SQNR columns
  QuantizeOptions options;
};

/// FP32 vs each variant, in one table; with `report`, the SQNR (dB) of every
/// linear and matmul output against FP32.
int runCompare(llvm::StringRef modelPath, llvm::StringRef tokPath, llvm::StringRef textPath,
               int64_t window, int64_t maxTokens, const QuantizeOptions &base,
               const std::vector<Variant> &variants, bool report, const EngineChoice &engine) {
  if (base.calibText.empty())
    return error("--compare needs --calib-text FILE");
  auto fp32 = loadModel(modelPath, tokPath);
  if (!fp32)
    return error(llvm::toString(fp32.takeError()));
  auto scored = scoredTokens(*fp32->tokenizer, textPath, maxTokens);
  if (!scored)
    return error(llvm::toString(scored.takeError()));
  const std::vector<int32_t> &toks = *scored;
  llvm::ArrayRef<int32_t> probe = llvm::ArrayRef<int32_t>(toks).take_front(
      std::min<size_t>(toks.size(), size_t(window)));
  struct Row {
    std::string name;
    double ppl;
    llvm::StringMap<Tensor> layers;
    Tensor probeLogits;
  };
  // Next-token distributions on the first window, to measure how far each
  // variant moves them from FP32 (KL divergence): meaningful even for models
  // whose perplexity says little (random weights).
  auto probeLogits = [&](LoadedModel &m) {
    std::vector<Tensor> cache;
    auto l = runForward(m, probe, 0, cache);
    return l ? std::move(*l) : Tensor();
  };
  std::vector<Row> rows;
  if (!prepareEngine(*fp32, engine))
    return 1;
  auto ref = perplexity(*fp32, toks, window, "FP32");
  if (!ref)
    return error(llvm::toString(ref.takeError()));
  rows.push_back({"FP32", ref->ppl(),
                  report ? layerOutputs(*fp32, probe) : llvm::StringMap<Tensor>(),
                  probeLogits(*fp32)});
  std::vector<std::string> order; // layer names in graph order
  if (report)
    for (const Op &op : fp32->forward().ops())
      if ((op.kind() == OpKind::Linear || op.kind() == OpKind::MatMul) &&
          rows[0].layers.count(op.result()->name()))
        order.push_back(op.result()->name().str());
  for (const Variant &v : variants) {
    auto m = quantizedVariant(modelPath, tokPath, v.options, engine);
    if (!m)
      return 1;
    auto r = perplexity(*m, toks, window, v.name);
    if (!r)
      return error(llvm::toString(r.takeError()));
    rows.push_back({v.name, r->ppl(),
                    report ? layerOutputs(*m, probe) : llvm::StringMap<Tensor>(),
                    probeLogits(*m)});
  }
  llvm::outs() << "model: " << fp32->description << "\ntext:  " << textPath << " ("
               << toks.size() << " tokens, window " << window << ")\n\n";
  llvm::outs() << llvm::format("%-30s %12s %10s %14s\n", static_cast<const char *>("variant"),
                               static_cast<const char *>("PPL"),
                               static_cast<const char *>("change"),
                               static_cast<const char *>("KL vs FP32"));
  for (const Row &r : rows)
    llvm::outs() << llvm::format("%-30s %12.4f %9.2f%% %14.6f\n", r.name.c_str(), r.ppl,
                                 (r.ppl / rows[0].ppl - 1) * 100,
                                 meanKL(rows[0].probeLogits, r.probeLogits));
  llvm::outs() << "(KL: mean over the first window's positions, nats)\n";
  if (report) {
    llvm::outs() << "\nSQNR (dB) of each layer's output against FP32, first window.\n"
                    "SmoothQuant divides the outputs it folds 1/s into (v, up and the\n"
                    "attention heads) on purpose: compare those through the layers that\n"
                    "read them (o, down).\n";
    llvm::outs() << llvm::format("%-22s", static_cast<const char *>("layer"));
    for (const Variant &v : variants)
      llvm::outs() << llvm::format(" %9s", v.shortName.c_str());
    llvm::outs() << "\n";
    for (const std::string &layer : order) {
      llvm::outs() << llvm::format("%-22s", layer.c_str());
      for (size_t i = 1; i < rows.size(); ++i) {
        auto it = rows[i].layers.find(layer);
        if (it == rows[i].layers.end())
          llvm::outs() << llvm::format(" %9s", static_cast<const char *>("-"));
        else
          llvm::outs() << llvm::format(" %9.1f", sqnr(rows[0].layers[layer], it->second));
      }
      llvm::outs() << "\n";
    }
  }
  return 0;
}

/// Perplexity of mixed-precision weights at each bit budget, the Pareto
/// assignment next to the in-order one of the same budget (which ignores
/// sensitivity), with FP32 and uniform INT8 for reference; then each
/// uniform width (INT4 per row or per group, INT8) against the Pareto
/// assignment given the same size in bytes.
int runBitBudgets(llvm::StringRef modelPath, llvm::StringRef tokPath, llvm::StringRef textPath,
                  int64_t window, int64_t maxTokens, const QuantizeOptions &base,
                  llvm::StringRef budgetList, const EngineChoice &engine) {
  if (base.calibText.empty())
    return error("--bit-budgets needs --calib-text FILE");
  std::vector<double> budgets;
  for (llvm::StringRef item : llvm::split(budgetList, ',')) {
    double b = 0;
    if (item.trim().getAsDouble(b) || !(b >= 4 && b <= 32))
      return error("--bit-budgets: '" + item + "' is not a number of bits in [4, 32]");
    budgets.push_back(b);
  }
  auto fp32 = loadModel(modelPath, tokPath);
  if (!fp32)
    return error(llvm::toString(fp32.takeError()));
  auto scored = scoredTokens(*fp32->tokenizer, textPath, maxTokens);
  if (!scored)
    return error(llvm::toString(scored.takeError()));
  const std::vector<int32_t> &toks = *scored;
  if (!prepareEngine(*fp32, engine))
    return 1;
  auto ref = perplexity(*fp32, toks, window, "FP32");
  if (!ref)
    return error(llvm::toString(ref.takeError()));
  // Perplexity, NAN after an error it reported.
  auto pplOf = [&](std::optional<LoadedModel> &m, const std::string &name) -> double {
    if (!m)
      return NAN;
    auto r = perplexity(*m, toks, window, name);
    if (!r)
      return error(llvm::toString(r.takeError())), NAN;
    return r->ppl();
  };
  // One quantized variant's perplexity (and what mixed precision chose).
  auto measure = [&](const QuantizeOptions &o, const std::string &name,
                     std::map<std::string, double> *chosen = nullptr) -> double {
    auto m = quantizedVariant(modelPath, tokPath, o, engine, chosen);
    return pplOf(m, name);
  };
  QuantizeOptions uniform = base;
  uniform.avgBits = uniform.sizeMB = 0;
  double int8 = measure(uniform, "uniform INT8");
  if (std::isnan(int8))
    return 1;
  struct Row {
    double bits, pareto, inOrder;
  };
  std::vector<Row> rows;
  for (double b : budgets) {
    QuantizeOptions o = base;
    o.avgBits = b;
    o.sizeMB = 0;
    o.assign = "pareto";
    double p = measure(o, llvm::formatv("{0} bits, Pareto", b).str());
    o.assign = "in-order";
    double i = measure(o, llvm::formatv("{0} bits, in order", b).str());
    if (std::isnan(p) || std::isnan(i))
      return 1;
    rows.push_back({b, p, i});
  }
  llvm::outs() << "model: " << fp32->description << "\ntext:  " << textPath << " ("
               << toks.size() << " tokens, window " << window << "); activations "
               << base.level << ", Hessian " << base.hessian
               << (base.sensitivity == "measured" ? ", linears weighed by measured loss" : "")
               << "\n\n";
  llvm::outs() << llvm::formatv("{0,-10} {1,12} {2,9} {3,12} {4,9}\n", "avg bits",
                                "Pareto PPL", "change", "in-order PPL", "change");
  auto pct = [&](double p) { return (p / ref->ppl() - 1) * 100; };
  for (const Row &r : rows)
    llvm::outs() << llvm::formatv("{0,-10:F2} {1,12:F4} {2,8:F2}% {3,12:F4} {4,8:F2}%\n",
                                  r.bits, r.pareto, pct(r.pareto), r.inOrder, pct(r.inOrder));
  llvm::outs() << llvm::formatv("\nFP32 {0:F4}; uniform INT8 weights {1:F4} ({2:F2}%)\n",
                                ref->ppl(), int8, pct(int8));
  llvm::outs() << "(in order: linears upgraded in graph order until the budget is spent, "
                  "the same size without sensitivity)\n";

  // Uniform widths against the Pareto assignment of the same size, which
  // may take the uniform's own INT4 grouping (or per-row INT4) per linear.
  // INT4 per row is every frontier's cheapest point: nothing to compare.
  struct Uniform {
    std::string name;
    int64_t group;
    double bits;
  };
  std::vector<Uniform> uniforms{{"INT4 groups of 32", 32, 4},
                                {"INT4 groups of 64", 64, 4},
                                {"INT4 groups of 128", 128, 4},
                                {"INT8", base.group, 8}};
  llvm::outs() << "\nUniform weights vs the Pareto assignment of the same size (MB of codes "
                  "and scales):\n"
               << llvm::formatv("{0,-20} {1,9} {2,9} {3,9} {4,9} {5,9} {6,9}  {7}\n", "uniform",
                                "size MB", "PPL", "change", "Pareto MB", "PPL", "change",
                                "linears 4/8/32");
  QuantizeOptions u = base;
  u.sizeMB = 0, u.assign = "uniform", u.avgBits = 4, u.group = 0;
  std::map<std::string, double> perRow;
  if (!quantizedCopy(modelPath, tokPath, u, &perRow)) // only its size
    return 1;
  std::vector<double> seen{perRow["mixed-precision.size-mb"]}; // sizes compared
  for (const Uniform &w : uniforms) {
    std::map<std::string, double> uni, mix;
    u.group = w.group, u.avgBits = w.bits;
    auto m = quantizedCopy(modelPath, tokPath, u, &uni);
    if (!m)
      return 1;
    double mb = uni["mixed-precision.size-mb"];
    // Groups wider than every linear's input fall back to rows: a size seen.
    if (llvm::any_of(seen, [&](double s) { return std::fabs(s - mb) < 1e-9; }))
      continue;
    seen.push_back(mb);
    if (!prepareEngine(*m, engine, /*quiet=*/true))
      return 1;
    double up = pplOf(m, "uniform " + w.name);
    if (std::isnan(up))
      return 1;
    QuantizeOptions o = base;
    o.avgBits = 0, o.sizeMB = mb, o.assign = "pareto", o.group = w.group;
    double mp = measure(o, llvm::formatv("Pareto at {0:F4} MB", mb).str(), &mix);
    if (std::isnan(mp))
      return 1;
    llvm::outs() << llvm::formatv(
        "{0,-20} {1,9:F4} {2,9:F4} {3,8:F2}% {4,9:F4} {5,9:F4} {6,8:F2}%  {7}/{8}/{9}\n",
        w.name, mb, up, pct(up), mix["mixed-precision.size-mb"], mp, pct(mp),
        int(mix["mixed-precision.linears-int4"]), int(mix["mixed-precision.linears-int8"]),
        int(mix["mixed-precision.linears-fp32"]));
  }
  return 0;
}

int runGenerate(LoadedModel &m, llvm::StringRef prompt, int64_t steps,
                double temperature, uint64_t seed) {
  Tokenizer &tok = *m.tokenizer;
  std::vector<int32_t> toks = tok.encode(prompt, /*bos=*/true);
  std::vector<Tensor> cache;
  std::mt19937_64 rng(seed);
  auto t0 = Clock::now();
  auto logits = runForward(m, toks, 0, cache);
  if (!logits)
    return error(llvm::toString(logits.takeError()));
  double prefillSecs = secondsSince(t0);
  for (size_t i = 1; i < toks.size(); ++i)
    llvm::outs() << tok.decode(toks[i - 1], toks[i]);
  llvm::outs().flush();
  int64_t V = logits->shape()[1];
  const float *last = logits->floats().data() + (logits->shape()[0] - 1) * V;
  auto t1 = Clock::now();
  int64_t generated = 0;
  for (; generated < steps; ++generated) {
    int32_t next = 0;
    if (temperature <= 0) {
      next = int32_t(std::max_element(last, last + V) - last);
    } else {
      double mx = *std::max_element(last, last + V), sum = 0;
      std::vector<double> p(V);
      for (int64_t j = 0; j < V; ++j)
        sum += p[j] = std::exp((last[j] - mx) / temperature);
      double r = std::uniform_real_distribution<double>(0, sum)(rng);
      while (next < V - 1 && (r -= p[next]) > 0)
        ++next;
    }
    if (next == tok.bosId() || next == tok.eosId())
      break;
    llvm::outs() << tok.decode(toks.back(), next);
    llvm::outs().flush();
    toks.push_back(next);
    if (int64_t(toks.size()) >= m.maxSeq)
      break;
    logits = runForward(m, {next}, toks.size() - 1, cache);
    if (!logits)
      return error(llvm::toString(logits.takeError()));
    last = logits->floats().data();
  }
  double decodeSecs = secondsSince(t1);
  llvm::outs() << "\n";
  llvm::errs() << llvm::format("prefill: %zu tokens, %.1f tokens/s\n"
                               "decode:  %lld tokens, %.1f tokens/s\n",
                               toks.size() - generated, (toks.size() - generated) / prefillSecs,
                               (long long)generated,
                               generated ? generated / decodeSecs : 0.0);
  return 0;
}

/// `sqc bench model`: FP32 and W8A8 variants of one model, through the JIT.
int runBenchModel(llvm::StringRef modelPath, const QuantizeOptions &base,
                  llvm::StringRef variants, llvm::StringRef threads, int64_t prompt,
                  int64_t decode, bool profile, const TargetSpec &target) {
  if (modelPath.empty())
    return error("bench model needs a MODEL (e.g. one written by `sqc random-model`)");
  ModelBenchOptions o;
  o.promptTokens = prompt;
  o.decodeTokens = decode;
  o.profile = profile;
  o.target = target;
  if (prompt < 1 || decode < 0)
    return error("--prompt-tokens must be at least 1 and --decode-tokens at least 0");
  if (!threads.empty())
    if (std::string bad = parseThreadCounts("--threads", threads, o.threads); !bad.empty())
      return error(bad);
  o.variants.clear();
  llvm::SmallVector<llvm::StringRef, 4> names;
  variants.split(names, ',', -1, false);
  std::map<std::string, QuantizeOptions> quantized; // by variant name
  for (llvm::StringRef v : names) {
    // LEVEL/BITS[gGROUP]: mixed-precision weights at that average, e.g.
    // O1/5.5, or O1/4.25g32 with INT4 scales per group of 32 inputs.
    auto [level, mix] = v.split('/');
    auto [bits, group] = mix.split('g');
    QuantizeOptions q = base;
    q.level = level.str();
    if ((level != "fp32" && level != "O1" && level != "O2" && level != "O3") ||
        (level == "fp32" && !mix.empty()) ||
        (!mix.empty() && (bits.getAsDouble(q.avgBits) || !(q.avgBits >= 4 && q.avgBits <= 32))) ||
        (mix.contains('g') && (group.getAsInteger(10, q.group) || q.group < 2)))
      return error("--variants: unknown variant '" + v +
                   "' (fp32, O1, O2, O3, or LEVEL/BITS such as O1/5.5, or LEVEL/BITSgGROUP "
                   "such as O1/4.25g32)");
    if (v != "fp32" && base.calibText.empty())
      return error("quantized variants need --calib-text FILE");
    o.variants.push_back(v.str());
    quantized.emplace(v.str(), q);
  }
  if (o.variants.empty())
    return error("--variants names no variant");
  auto load = [&](llvm::StringRef variant) -> llvm::Expected<LoadedModel> {
    auto m = loadModel(modelPath, "");
    if (!m || variant == "fp32")
      return m;
    if (!quantizeModel(*m, quantized.at(variant.str()), /*quiet=*/true))
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "quantization failed");
    // As `sqc quantize` writes it: int8 weights computed once, not per run.
    if (llvm::Error e = materializeWeights(*m))
      return e;
    return m;
  };
  return runModelBench(o, load, llvm::outs());
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  claimOptionNames({"o", "seed"});

  cl::SubCommand evalCmd("eval", "Perplexity of a model on a text file");
  cl::SubCommand genCmd("generate", "Generate text from a prompt");
  cl::SubCommand calibCmd("calibrate", "Record activation statistics on text, for quantization");
  cl::SubCommand quantCmd("quantize", "Calibrate, smooth (SmoothQuant) or reparameterize (RepQ), "
                                     "quantize (W8A8, or mixed 4/8-bit weights) and write a model "
                                     "folder");
  cl::SubCommand injectCmd("inject-outliers",
                            "Copy a LLaMA folder with LLM-like activation outliers "
                            "(same FP32 function), for testing SmoothQuant");
  cl::SubCommand randomCmd("random-model",
                            "Write a LLaMA folder with random weights and a byte-level "
                            "tokenizer (a model for demos and benchmarks)");
  cl::SubCommand importCmd("import", "Write a model as a .sqir module (weights referenced, not copied)");
  cl::SubCommand benchCmd("bench", "Benchmarks: `gemm` (kernel GOP/s, int8 vs fp32 vs oneDNN), "
                                   "`model MODEL` (prefill/decode tokens/s, FP32 vs W8A8)");
  cl::OptionCategory cat("sqc options");
  cl::opt<std::string> model(cl::Positional, cl::desc("<model folder or llama2.c .bin>"),
                             cl::Required, cl::sub(evalCmd), cl::sub(genCmd),
                             cl::sub(importCmd), cl::sub(calibCmd), cl::sub(quantCmd),
                             cl::sub(injectCmd), cl::cat(cat));
  cl::opt<std::string> tokenizer("tokenizer",
                                 cl::desc("Tokenizer file (llama2.c tokenizer.bin)"),
                                 cl::value_desc("file"), cl::sub(evalCmd),
                                 cl::sub(genCmd), cl::sub(importCmd),
                                 cl::sub(calibCmd), cl::sub(quantCmd), cl::cat(cat));
  cl::opt<std::string> text("text", cl::desc("Text file (perplexity, calibration)"),
                            cl::value_desc("file"), cl::Required, cl::sub(evalCmd),
                            cl::sub(calibCmd), cl::cat(cat));
  cl::opt<int64_t> samples("samples", cl::desc("Calibration samples (windows of --seq-len tokens)"),
                           cl::init(64), cl::sub(calibCmd), cl::sub(quantCmd),
                           cl::sub(evalCmd), cl::sub(benchCmd), cl::cat(cat));
  cl::opt<int64_t> seqLen("seq-len", cl::desc("Tokens per calibration sample"),
                          cl::init(256), cl::sub(calibCmd), cl::sub(quantCmd),
                          cl::sub(benchCmd), cl::cat(cat));
  cl::opt<std::string> calibText("calib-text", cl::desc("Text to calibrate on"),
                                 cl::value_desc("file"), cl::sub(quantCmd),
                                 cl::sub(evalCmd), cl::sub(benchCmd), cl::cat(cat));
  cl::opt<bool> compare("compare",
                        cl::desc("Also quantize naive and with SmoothQuant at O1, O2, "
                                 "O3 (needs --calib-text) and print one table"),
                        cl::sub(evalCmd), cl::cat(cat));
  cl::opt<double> avgBits("avg-bits",
                          cl::desc("Mixed precision: 4-bit, 8-bit or FP32 weights per linear, "
                                   "this many bits per weight on average (e.g. 5.5)"),
                          cl::init(0), cl::sub(quantCmd), cl::cat(cat));
  cl::opt<double> sizeMB("size-mb",
                         cl::desc("Mixed precision with a size budget: megabytes of the "
                                  "linears' codes and scales"),
                         cl::init(0), cl::sub(quantCmd), cl::cat(cat));
  cl::opt<std::string> hessian("hessian",
                               cl::desc("Mixed precision sensitivity: diagonal (each input "
                                        "channel's Hessian entry, default) or trace "
                                        "(HAWQ-V2's average eigenvalue)"),
                               cl::init("diagonal"), cl::sub(quantCmd), cl::sub(evalCmd),
                               cl::cat(cat));
  cl::opt<std::string> sensitivity(
      "sensitivity",
      cl::desc("Mixed precision: hessian (errors as the Hessian estimates them, default) or "
               "measured (each linear's errors scaled to the KL divergence from FP32 it adds "
               "alone at INT4, measured on the calibration text: one run per linear)"),
      cl::init("hessian"), cl::sub(quantCmd), cl::sub(evalCmd), cl::cat(cat));
  cl::opt<int64_t> probeSamples(
      "probe-samples",
      cl::desc("With --sensitivity measured: calibration samples each probe run scores "
               "(default 8, at most --samples)"),
      cl::init(8), cl::sub(quantCmd), cl::sub(evalCmd), cl::cat(cat));
  cl::opt<int64_t> int4Group("group",
                             cl::desc("Mixed precision: INT4 scales per group of this many "
                                      "input channels (32, 64, 128; 0: per output channel)"),
                             cl::init(0), cl::sub(quantCmd), cl::sub(evalCmd), cl::cat(cat));
  cl::opt<std::string> bitBudgets(
      "bit-budgets",
      cl::desc("Perplexity of mixed-precision weights at each budget, e.g. 4,5,5.5,6,8 "
               "(needs --calib-text), Pareto vs in-order assignment; then uniform INT4 "
               "(per group) and INT8 vs the Pareto assignment of the same size"),
      cl::init(""), cl::sub(evalCmd), cl::cat(cat));
  cl::opt<std::string> method(
      "method",
      cl::desc("smoothquant (default); repq: RepQ-ViT reparameterized per-tensor quantizers "
               "for norm outputs, SmoothQuant on the other paths unless --no-smooth; "
               "repq-per-channel / repq-per-tensor: its references"),
      cl::init("smoothquant"), cl::sub(quantCmd), cl::sub(benchCmd), cl::cat(cat));
  cl::opt<std::string> softmaxQuant(
      "softmax",
      cl::desc("Attention probabilities: uniform (u8 steps of the maximum of each block of "
               "--softmax-block along a row, default), fixed (u8 steps of 1/255), log-sqrt2 or "
               "log2 (logarithmic codes; P x V runs as shifts and adds)"),
      cl::init("uniform"), cl::sub(quantCmd), cl::sub(evalCmd), cl::sub(benchCmd),
      cl::cat(cat));
  cl::opt<int64_t> softmaxBlock(
      "softmax-block",
      cl::desc("With --softmax uniform, probabilities per u8 scale along the context "
               "(default 32; 0: the whole row)"),
      cl::init(32), cl::sub(quantCmd), cl::sub(evalCmd), cl::sub(benchCmd), cl::cat(cat));
  cl::opt<std::string> keys(
      "keys",
      cl::desc("O1 keys in Q K^T: per-channel (default; a scale per channel over the "
               "context, folded into the queries) or per-token"),
      cl::init("per-channel"), cl::sub(quantCmd), cl::sub(evalCmd), cl::sub(benchCmd),
      cl::cat(cat));
  cl::opt<std::string> methods(
      "methods",
      cl::desc("With --compare: these methods at --level instead of naive/SmoothQuant at "
               "O1-O3, e.g. naive,smoothquant,repq-per-tensor,repq-per-channel,repq"),
      cl::init(""), cl::sub(evalCmd), cl::cat(cat));
  cl::opt<bool> report("report",
                       cl::desc("With --compare: per-layer SQNR against FP32"),
                       cl::sub(evalCmd), cl::cat(cat));
  cl::opt<std::string> alpha("alpha", cl::desc("SmoothQuant migration strength in [0, 1], or auto"),
                             cl::init("0.5"), cl::sub(quantCmd), cl::sub(evalCmd),
                             cl::sub(benchCmd), cl::cat(cat));
  cl::opt<std::string> level("level",
                             cl::desc("O1: per-token dynamic, O2: per-tensor dynamic, "
                                      "O3: per-tensor static activation scales"),
                             cl::init("O1"), cl::sub(quantCmd), cl::sub(evalCmd), cl::cat(cat));
  cl::opt<std::string> weightScales("weight-scales",
                                    cl::desc("per-channel (default) or per-tensor; fp32 keeps "
                                             "the weights in FP32 and quantizes only the "
                                             "activations (A8: their error apart from the "
                                             "weights')"),
                                    cl::init("per-channel"), cl::sub(quantCmd),
                                    cl::sub(evalCmd), cl::cat(cat));
  cl::opt<std::string> smoothPaths("smooth-paths",
                                   cl::desc("Where smoothing folds scales, joined by +: norms+gated+attention"),
                                   cl::init("norms+gated+attention"), cl::sub(quantCmd),
                                   cl::cat(cat));
  cl::opt<bool> noSmooth("no-smooth", cl::desc("Naive W8A8 at the same level (baseline)"),
                         cl::sub(quantCmd), cl::cat(cat));
  cl::opt<double> minOutlierRatio(
      "min-outlier-ratio",
      cl::desc("Smooth only activations whose largest channel max is at least "
               "this many times the median (0: smooth everything)"),
      cl::init(8.0), cl::sub(quantCmd), cl::sub(evalCmd), cl::sub(benchCmd), cl::cat(cat));
  cl::opt<bool> rotateQK(
      "rotate-qk",
      cl::desc("Rotate Q and K by a Hadamard matrix before their INT8 matmul (exact; "
               "evens out the few large channels of each head, which --keys per-channel "
               "also handles; helps on some text, hurts on other: measure)"),
      cl::init(false), cl::sub(quantCmd), cl::sub(evalCmd), cl::cat(cat));
  cl::opt<std::string> weightClip(
      "weight-clip",
      cl::desc("Weight scales: max (max|w| / 127) or mse (the clipping of each channel's "
               "max with the least squared rounding error)"),
      cl::init("mse"), cl::sub(quantCmd), cl::sub(evalCmd), cl::sub(benchCmd), cl::cat(cat));
  cl::opt<bool> clip("clip",
                     cl::desc("O3: static scales from the 99.99th percentile of |x| "
                              "instead of the maximum (default; --clip=false for the max)"),
                     cl::init(true), cl::sub(quantCmd), cl::cat(cat));
  cl::opt<double> percentile("percentile", cl::desc("Percentile of |x| to record per tensor"),
                             cl::init(99.99), cl::sub(calibCmd), cl::cat(cat));
  cl::opt<unsigned> keepRows("keep-rows",
                             cl::desc("Sample activation rows to keep per tensor "
                                      "(for smooth-quant{alpha=auto})"),
                             cl::init(0), cl::sub(calibCmd), cl::cat(cat));
  cl::opt<int64_t> window("window", cl::desc("Tokens per window; each starts from an empty context"),
                          cl::init(256), cl::sub(evalCmd), cl::cat(cat));
  cl::opt<int64_t> maxTokens("max-tokens", cl::desc("Use only the first N tokens of the text (0: all)"),
                             cl::init(0), cl::sub(evalCmd), cl::cat(cat));
  cl::opt<std::string> prompt("prompt", cl::desc("Prompt text (default: none, start from BOS)"),
                              cl::init(""), cl::sub(genCmd), cl::cat(cat));
  cl::opt<int64_t> steps("n", cl::desc("Tokens to generate"), cl::init(64),
                         cl::sub(genCmd), cl::cat(cat));
  cl::opt<double> temperature("temperature", cl::desc("0 for greedy decoding"),
                              cl::init(0.0), cl::sub(genCmd), cl::cat(cat));
  cl::opt<uint64_t> seed("seed", cl::desc("Sampling seed"), cl::init(42),
                         cl::sub(genCmd), cl::cat(cat));
  cl::opt<std::string> output("o", cl::desc("Output file"), cl::value_desc("file"),
                              cl::Required, cl::sub(importCmd), cl::sub(calibCmd),
                              cl::sub(quantCmd), cl::sub(injectCmd), cl::sub(randomCmd),
                              cl::cat(cat));
  cl::opt<int64_t> rmDim("dim", cl::desc("Hidden size"), cl::init(128), cl::sub(randomCmd), cl::cat(cat));
  cl::opt<int64_t> rmHidden("ffn", cl::desc("MLP size"), cl::init(344), cl::sub(randomCmd), cl::cat(cat));
  cl::opt<int64_t> rmLayers("layers", cl::desc("Layers"), cl::init(4), cl::sub(randomCmd), cl::cat(cat));
  cl::opt<int64_t> rmHeads("heads", cl::desc("Query heads"), cl::init(4), cl::sub(randomCmd), cl::cat(cat));
  cl::opt<int64_t> rmKvHeads("kv-heads", cl::desc("KV heads"), cl::init(2), cl::sub(randomCmd), cl::cat(cat));
  cl::opt<uint64_t> rmSeed("seed", cl::desc("Random seed"), cl::init(1), cl::sub(randomCmd), cl::cat(cat));
  cl::opt<double> gain("gain", cl::desc("Outlier gain (a power of two keeps FP32 bit-identical)"),
                       cl::init(64.0), cl::sub(injectCmd), cl::cat(cat));
  cl::opt<std::string> benchWhat(cl::Positional, cl::desc("<gemm | model>"), cl::Required,
                                 cl::sub(benchCmd), cl::cat(cat));
  cl::opt<std::string> benchModel(cl::Positional, cl::desc("[MODEL]"), cl::init(""),
                                  cl::sub(benchCmd), cl::cat(cat));
  cl::opt<std::string> benchVariants(
      "variants", cl::desc("bench model: variants, the first is the baseline (fp32, O1, O2, O3; "
                           "O1/5.5: mixed-precision weights, 5.5 bits on average; O1/4.25g32: "
                           "the same with INT4 scales per group of 32 inputs)"),
      cl::init("fp32,O1,O3"), cl::sub(benchCmd), cl::cat(cat));
  cl::opt<int64_t> benchPrompt("prompt-tokens", cl::desc("bench model: prefill length"),
                               cl::init(128), cl::sub(benchCmd), cl::cat(cat));
  cl::opt<int64_t> benchDecode("decode-tokens", cl::desc("bench model: decode steps"),
                               cl::init(32), cl::sub(benchCmd), cl::cat(cat));
  cl::opt<bool> benchProfile("profile",
                             cl::desc("bench model: time per kind of step, on stderr"),
                             cl::sub(benchCmd), cl::cat(cat));
  cl::opt<std::string> benchThreads(
      "threads", cl::desc("Thread counts to measure, e.g. 1,2 (default 1,2; also BENCH_THREADS)"),
      cl::init(""), cl::sub(benchCmd), cl::cat(cat));
  cl::opt<double> benchSeconds("min-time", cl::desc("Seconds per measurement (median of 5 parts)"),
                               cl::init(0.2), cl::sub(benchCmd), cl::cat(cat));
  cl::opt<std::string> mcpu("mcpu", cl::desc("Target CPU of the JIT's kernels (default: the host)"),
                            cl::init(""), cl::sub(benchCmd), cl::sub(evalCmd), cl::sub(genCmd),
                            cl::sub(quantCmd), cl::sub(calibCmd), cl::cat(cat));
  cl::opt<std::string> mattr("mattr", cl::desc("Target features to add or remove, e.g. -avx512f"),
                             cl::init(""), cl::sub(benchCmd), cl::sub(evalCmd), cl::sub(genCmd),
                             cl::sub(quantCmd), cl::sub(calibCmd), cl::cat(cat));
  cl::opt<std::string> engineName(
      "engine", cl::desc("jit: linears on JIT-compiled kernels for this CPU, or --mcpu's "
                         "(default); "
                         "interp: the reference interpreter"),
      cl::init("jit"), cl::sub(evalCmd), cl::sub(genCmd), cl::cat(cat));
  cl::opt<unsigned> runThreads("j", cl::desc("Threads for the JIT's kernels (0: all cores)"),
                               cl::init(0), cl::sub(evalCmd), cl::sub(genCmd), cl::sub(quantCmd),
                               cl::sub(calibCmd), cl::cat(cat));
  cl::HideUnrelatedOptions(cat);
  cl::ParseCommandLineOptions(
      argc, argv,
      "sqc: quantize, run and measure transformer models on the CPU.\n\n"
      "  sqc eval MODEL --text FILE [--window 256] [--max-tokens N]\n"
      "  sqc eval MODEL --text FILE --compare --calib-text FILE [--report]\n"
      "  sqc generate MODEL [--prompt TEXT] [-n N] [--temperature T] [--seed S]\n"
      "  sqc calibrate MODEL --text FILE [--samples N --seq-len L] -o stats.json\n"
      "  sqc quantize MODEL --calib-text FILE [--alpha A] [--level O1|O2|O3] [--no-smooth] -o OUTDIR\n"
      "  sqc quantize MODEL --calib-text FILE --avg-bits 5.5 [--group 32] -o OUTDIR   (4/8-bit/FP32 weights)\n"
      "  sqc quantize MODEL --calib-text FILE --method repq [--softmax log-sqrt2] -o OUTDIR\n"
      "  sqc eval MODEL --text FILE --calib-text FILE --compare --methods smoothquant,repq\n"
      "  sqc eval MODEL --text FILE --calib-text FILE --bit-budgets 4,5,6,8\n"
      "  sqc import MODEL -o OUT.sqir\n"
      "  sqc inject-outliers HF_LLAMA_DIR [--gain 64] -o OUTDIR\n"
      "  sqc random-model [--dim 128 --layers 4 ...] -o OUTDIR\n"
      "  sqc bench gemm [--threads 1,2]   (shapes: BENCH_M=1,128 BENCH_KN=768x3072)\n"
      "  sqc bench model MODEL --calib-text FILE [--variants fp32,O1,O3] [--threads 1,2]\n\n"
      "MODEL is a Hugging Face folder (config.json + *.safetensors), a "
      "llama2.c checkpoint or a .sqir module written by `sqc import`.\n");

  QuantizeOptions qopts{calibText, samples, seqLen, alpha, level, weightScales,
                        smoothPaths, !noSmooth, clip, minOutlierRatio, rotateQK, weightClip,
                        avgBits, sizeMB, hessian};
  qopts.method = method;
  qopts.softmax = softmaxQuant;
  qopts.softmaxBlock = softmaxBlock;
  qopts.keys = keys;
  qopts.group = int4Group;
  qopts.sensitivity = sensitivity;
  qopts.probeSamples = probeSamples;
  if (llvm::Error e = checkTargetOptions(mcpu, mattr))
    return error(llvm::toString(std::move(e)));
  qopts.jit.target = TargetSpec::parse(mcpu, mattr);
  qopts.jit.threads = runThreads;
  if (probeSamples < 1)
    return error("--probe-samples must be at least 1");
  if (sensitivity != "hessian" && sensitivity != "measured")
    return error("--sensitivity must be hessian or measured, got '" + sensitivity + "'");
  if (avgBits > 0 && sizeMB > 0)
    return error("give --avg-bits or --size-mb, not both");
  if (avgBits != 0 && !(avgBits >= 4 && avgBits <= 32))
    return error("--avg-bits must be in [4, 32] (4-bit, 8-bit and FP32 weights)");
  if (sizeMB != 0 && !(sizeMB > 0 && std::isfinite(sizeMB)))
    return error("--size-mb must be a positive number of megabytes");
  if (!qopts.mixed() && int4Group != 0)
    return error("--group applies to mixed precision: give --avg-bits or --size-mb");
  if (int4Group < 0 || int4Group == 1)
    return error("--group must be 0 (per output channel) or at least 2");
  // Checked here too (the passes would only say so after calibrating).
  if (!llvm::is_contained({"uniform", "fixed", "log2", "log-sqrt2"}, qopts.softmax))
    return error("--softmax must be uniform, fixed, log2 or log-sqrt2, got '" + qopts.softmax +
                 "'");
  if (qopts.softmaxBlock < 0)
    return error("--softmax-block must be >= 0, got " + std::to_string(qopts.softmaxBlock));
  if (qopts.keys != "per-channel" && qopts.keys != "per-token")
    return error("--keys must be per-channel or per-token, got '" + qopts.keys + "'");
  if (!llvm::is_contained({"per-channel", "per-tensor", "fp32"}, qopts.weightScales))
    return error("--weight-scales must be per-channel, per-tensor or fp32, got '" +
                 qopts.weightScales + "'");
  if (qopts.weightScales == "fp32" && (qopts.mixed() || !bitBudgets.empty()))
    return error("--weight-scales fp32 keeps every weight in FP32: it cannot be combined "
                 "with --avg-bits, --size-mb or --bit-budgets");
  if (benchCmd && benchWhat == "model")
    return runBenchModel(benchModel, qopts, benchVariants, benchThreads, benchPrompt,
                         benchDecode, benchProfile, qopts.jit.target);
  if (benchCmd) {
    if (benchWhat != "gemm")
      return error("unknown benchmark '" + benchWhat + "' (available: gemm, model)");
    GemmBenchOptions o;
    if (std::string bad = applyBenchEnvironment(o); !bad.empty())
      return error(bad);
    if (!benchThreads.empty())
      if (std::string bad = parseThreadCounts("--threads", benchThreads, o.threads); !bad.empty())
        return error(bad);
    o.minSeconds = benchSeconds;
    o.target = qopts.jit.target;
    return runGemmBench(o, llvm::outs());
  }
  if (randomCmd) {
    RandomModelShape shape{rmDim, rmHidden, rmLayers, rmHeads, rmKvHeads, rmSeed};
    if (llvm::Error e = writeRandomModel(output, shape))
      return error(output + ": " + llvm::toString(std::move(e)));
    llvm::outs() << "wrote " << output << "\n";
    return 0;
  }
  if (injectCmd) {
    if (llvm::Error e = injectOutliers(model, output, gain))
      return error(llvm::toString(std::move(e)));
    llvm::outs() << "wrote " << output << "\n";
    return 0;
  }
  if (!evalCmd && !genCmd && !importCmd && !calibCmd && !quantCmd)
    return error("name a command: eval, generate, calibrate, quantize or import "
                 "(see sqc --help)");
  EngineChoice engine;
  if (engineName != "jit" && engineName != "interp")
    return error("--engine must be jit or interp, got '" + engineName + "'");
  engine.jit = engineName == "jit";
  engine.options = qopts.jit;
  if (evalCmd && !bitBudgets.empty())
    return runBitBudgets(model, tokenizer, text, window, maxTokens, qopts, bitBudgets, engine);
  if (evalCmd && compare) { // loads a fresh copy of the model per variant
    std::vector<Variant> variants;
    if (methods.empty()) {
      for (const char *lv : {"O1", "O2", "O3"})
        for (bool smooth : {false, true}) {
          QuantizeOptions o = qopts;
          o.level = lv;
          o.smooth = smooth;
          variants.push_back({std::string(smooth ? "SmoothQuant" : "naive") + " " +
                                  o.precisionName() + " " + lv,
                              std::string(smooth ? "SQ " : "naive ") + lv, o});
        }
    } else {
      for (llvm::StringRef mth : llvm::split(methods, ',')) {
        QuantizeOptions o = qopts;
        // naive: no smoothing; repq*: smoothing of the paths it leaves.
        o.method = mth.trim().str();
        o.smooth = qopts.smooth && o.method != "naive";
        if (o.method == "naive")
          o.method = "smoothquant";
        variants.push_back({mth.trim().str() + " " + o.precisionName() + " " + qopts.level,
                            mth.trim().take_back(9).str(), o});
      }
    }
    return runCompare(model, tokenizer, text, window, maxTokens, qopts, variants, report,
                      engine);
  }
  auto m = loadModel(model, tokenizer);
  if (!m)
    return error(llvm::toString(m.takeError()));
  DiagnosticEngine diag;
  if (failed(verify(*m->module, diag)))
    return error("the imported graph does not verify (a bug in sqc's importer)");
  if ((evalCmd || genCmd) && !prepareEngine(*m, engine))
    return 1;
  if (evalCmd)
    return runEval(*m, text, window, maxTokens);
  if (genCmd)
    return runGenerate(*m, prompt, steps, temperature, seed);
  if (calibCmd)
    return runCalibrate(*m, text, samples, seqLen, percentile, keepRows, qopts.jit, output);
  if (quantCmd) {
    if (calibText.empty())
      return error("quantize needs --calib-text FILE");
    return runQuantize(*m, qopts, output);
  }
  if (llvm::Error e = writeModel(*m, output))
    return error(output + ": " + llvm::toString(std::move(e)));
  return 0;
}
