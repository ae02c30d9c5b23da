//===- tools/sqc/sqc.cpp - sqc, the user's front door ---------------------===//
//
//   sqc eval MODEL --text FILE [--window 256] [--max-tokens N]
//   sqc generate MODEL [--prompt TEXT] [-n N] [--temperature T] [--seed S]
//   sqc calibrate MODEL --text FILE [--samples N --seq-len L] -o stats.json
//   sqc import MODEL -o OUT.sqir
//
// MODEL is a Hugging Face folder (config.json + safetensors), a llama2.c
// checkpoint or a module written by `sqc import`; --tokenizer FILE names the
// tokenizer where the model brings none.
//
//===----------------------------------------------------------------------===//
#include "frontend/Model.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "runtime/Calibration.h"
#include "runtime/Executor.h"
#include "tools/ToolSupport.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <random>
#include <regex>

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

/// Runs @forward on `tokens` at positions start.., extending `cache` (one
/// tensor per cache argument, in order; empty means start from nothing).
/// Returns the logits [n, vocab].
llvm::Expected<Tensor> step(LoadedModel &m, llvm::ArrayRef<int32_t> tokens,
                            int64_t start, std::vector<Tensor> &cache,
                            const ValueObserver *observe = nullptr) {
  const Graph &g = m.forward();
  int64_t n = tokens.size();
  Tensor tok(DType::I32, {n}), pos(DType::I32, {n});
  for (int64_t i = 0; i < n; ++i) {
    tok.ints()[i] = tokens[i];
    pos.ints()[i] = int32_t(start + i);
  }
  if (cache.empty())
    for (unsigned a = 2; a < g.numArguments(); ++a) {
      // A cache argument is [?past, ...static]: start with zero rows.
      llvm::SmallVector<int64_t, 4> shape = {0};
      for (const Dim &d : g.argument(a)->type().dims().drop_front())
        shape.push_back(d.isStatic() ? d.size() : 0);
      cache.emplace_back(g.argument(a)->type().dtype(), shape);
    }
  std::vector<Tensor> inputs = {std::move(tok), std::move(pos)};
  for (Tensor &t : cache)
    inputs.push_back(std::move(t));
  auto out = runGraph(g, std::move(inputs), m.weights.get(), observe);
  if (!out)
    return out.takeError();
  cache.assign(std::make_move_iterator(out->begin() + 1),
               std::make_move_iterator(out->end()));
  return std::move((*out)[0]);
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

int runEval(LoadedModel &m, llvm::StringRef textPath, int64_t window,
            int64_t maxTokens) {
  auto buf = llvm::MemoryBuffer::getFile(textPath, /*IsText=*/true);
  if (!buf)
    return error(textPath + ": " + buf.getError().message());
  if (window < 1)
    return error("--window must be at least 1");
  std::vector<int32_t> toks = tokenizeText(*m.tokenizer, (*buf)->getBuffer().str(), maxTokens);
  if (toks.size() < 2)
    return error(textPath + ": fewer than two tokens to score");
  auto t0 = Clock::now();
  double nll = 0;
  int64_t scored = 0;
  int64_t windows = (int64_t(toks.size()) - 1 + window - 1) / window;
  for (int64_t w = 0, s = 0; s + 1 < int64_t(toks.size()); ++w, s += window) {
    int64_t len = std::min<int64_t>(window, toks.size() - 1 - s);
    std::vector<Tensor> cache;
    auto logits = step(m, llvm::ArrayRef<int32_t>(toks).slice(s, len), 0, cache);
    if (!logits)
      return error(llvm::toString(logits.takeError()));
    int64_t V = logits->shape()[1];
    const float *z = logits->floats().data();
    for (int64_t i = 0; i < len; ++i, z += V) {
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < V; ++j)
        mx = std::max(mx, double(z[j]));
      for (int64_t j = 0; j < V; ++j)
        sum += std::exp(double(z[j]) - mx);
      nll -= double(z[toks[s + i + 1]]) - mx - std::log(sum);
    }
    scored += len;
    if ((w + 1) % 20 == 0 || w + 1 == windows)
      llvm::errs() << llvm::format("\r  window %lld/%lld  tokens %lld  PPL %.4f  "
                                   "%.0f tok/s", (long long)(w + 1),
                                   (long long)windows, (long long)scored,
                                   std::exp(nll / scored), scored / secondsSince(t0));
  }
  llvm::errs() << "\n";
  double secs = secondsSince(t0);
  llvm::outs() << "model:    " << m.description << "\n"
               << "text:     " << textPath << "\n"
               << llvm::format("tokens:   %lld (scored %lld, window %lld)\n",
                               (long long)toks.size(), (long long)scored,
                               (long long)window)
               << llvm::format("NLL:      %.6f\n", nll / scored)
               << llvm::format("PPL:      %.4f\n", std::exp(nll / scored))
               << llvm::format("time:     %.2f s (%.0f tokens/s)\n", secs,
                               scored / secs);
  return 0;
}

int runCalibrate(LoadedModel &m, llvm::StringRef textPath, int64_t samples,
                 int64_t seqLen, double percentile, llvm::StringRef output) {
  auto buf = llvm::MemoryBuffer::getFile(textPath, /*IsText=*/true);
  if (!buf)
    return error(textPath + ": " + buf.getError().message());
  if (samples < 1 || seqLen < 1)
    return error("--samples and --seq-len must be at least 1");
  if (!(percentile > 0 && percentile <= 100))
    return error("--percentile must be in (0, 100]");
  std::vector<int32_t> toks =
      tokenizeText(*m.tokenizer, (*buf)->getBuffer().str(), samples * seqLen);
  if (toks.empty())
    return error(textPath + ": no tokens");
  CalibrationStats stats;
  llvm::DenseSet<const Value *> wanted;
  for (const Value *v : CalibrationStats::observedValues(m.forward()))
    wanted.insert(v);
  ValueObserver observe = [&](const Value &v, const Tensor &t) {
    if (wanted.contains(&v))
      stats.observe(v, t);
  };
  auto t0 = Clock::now();
  int64_t windows = (int64_t(toks.size()) + seqLen - 1) / seqLen;
  for (int64_t w = 0; w < windows; ++w) {
    int64_t s = w * seqLen, len = std::min<int64_t>(seqLen, toks.size() - s);
    std::vector<Tensor> cache;
    auto r = step(m, llvm::ArrayRef<int32_t>(toks).slice(s, len), 0, cache, &observe);
    if (!r)
      return error(llvm::toString(r.takeError()));
    llvm::errs() << llvm::format("\r  sample %lld/%lld  %.1f s", (long long)(w + 1),
                                 (long long)windows, secondsSince(t0));
  }
  llvm::errs() << "\n";
  if (llvm::Error e = stats.save(output, percentile, m.description))
    return error(output + ": " + llvm::toString(std::move(e)));
  llvm::outs() << "calibrated " << stats.all().size() << " activations on "
               << toks.size() << " tokens (" << windows << " samples) -> " << output
               << "\n";
  return 0;
}

int runGenerate(LoadedModel &m, llvm::StringRef prompt, int64_t steps,
                double temperature, uint64_t seed) {
  Tokenizer &tok = *m.tokenizer;
  std::vector<int32_t> toks = tok.encode(prompt, /*bos=*/true);
  std::vector<Tensor> cache;
  std::mt19937_64 rng(seed);
  auto t0 = Clock::now();
  auto logits = step(m, toks, 0, cache);
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
    logits = step(m, {next}, toks.size() - 1, cache);
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

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  claimOptionNames({"o", "seed"});

  cl::SubCommand evalCmd("eval", "Perplexity of a model on a text file");
  cl::SubCommand genCmd("generate", "Generate text from a prompt");
  cl::SubCommand calibCmd("calibrate", "Record activation statistics on text, for quantization");
  cl::SubCommand importCmd("import", "Write a model as a .sqir module (weights referenced, not copied)");
  auto all = {&evalCmd, &genCmd, &importCmd};
  cl::OptionCategory cat("sqc options");
  cl::opt<std::string> model(cl::Positional, cl::desc("<model folder or llama2.c .bin>"),
                             cl::Required, cl::sub(evalCmd), cl::sub(genCmd),
                             cl::sub(importCmd), cl::sub(calibCmd), cl::cat(cat));
  cl::opt<std::string> tokenizer("tokenizer",
                                 cl::desc("Tokenizer file (llama2.c tokenizer.bin)"),
                                 cl::value_desc("file"), cl::sub(evalCmd),
                                 cl::sub(genCmd), cl::sub(importCmd),
                                 cl::sub(calibCmd), cl::cat(cat));
  cl::opt<std::string> text("text", cl::desc("Text file (perplexity, calibration)"),
                            cl::value_desc("file"), cl::Required, cl::sub(evalCmd),
                            cl::sub(calibCmd), cl::cat(cat));
  cl::opt<int64_t> samples("samples", cl::desc("Calibration samples (windows of --seq-len tokens)"),
                           cl::init(64), cl::sub(calibCmd), cl::cat(cat));
  cl::opt<int64_t> seqLen("seq-len", cl::desc("Tokens per calibration sample"),
                          cl::init(256), cl::sub(calibCmd), cl::cat(cat));
  cl::opt<double> percentile("percentile", cl::desc("Percentile of |x| to record per tensor"),
                             cl::init(99.99), cl::sub(calibCmd), cl::cat(cat));
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
                              cl::cat(cat));
  (void)all;
  cl::HideUnrelatedOptions(cat);
  cl::ParseCommandLineOptions(
      argc, argv,
      "sqc: quantize, run and measure transformer models on the CPU.\n\n"
      "  sqc eval MODEL --text FILE [--window 256] [--max-tokens N]\n"
      "  sqc generate MODEL [--prompt TEXT] [-n N] [--temperature T] [--seed S]\n"
      "  sqc calibrate MODEL --text FILE [--samples N --seq-len L] -o stats.json\n"
      "  sqc import MODEL -o OUT.sqir\n\n"
      "MODEL is a Hugging Face folder (config.json + *.safetensors), a "
      "llama2.c checkpoint or a .sqir module written by `sqc import`.\n");

  if (!evalCmd && !genCmd && !importCmd && !calibCmd)
    return error("name a command: eval, generate, calibrate or import (see sqc --help)");
  auto m = loadModel(model, tokenizer);
  if (!m)
    return error(llvm::toString(m.takeError()));
  DiagnosticEngine diag;
  if (failed(verify(*m->module, diag)))
    return error("the imported graph does not verify (a bug in sqc's importer)");
  if (evalCmd)
    return runEval(*m, text, window, maxTokens);
  if (genCmd)
    return runGenerate(*m, prompt, steps, temperature, seed);
  if (calibCmd)
    return runCalibrate(*m, text, samples, seqLen, percentile, output);
  if (llvm::Error e = writeModel(*m, output))
    return error(output + ": " + llvm::toString(std::move(e)));
  return 0;
}
