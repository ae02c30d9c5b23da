//===- tools/sqc-run/sqc-run.cpp - Execute a graph ------------------------===//
//
// JIT-compiles and runs one graph of a .sqir module (or interprets it with
// --interp) and prints its outputs and timings:
//
//   sqc-run model.sqir [--graph forward] [--inputs in.safetensors] [-j 2] [--profile]
//   sqc-run model.sqir --interp
//   sqc-run model.sqir --emit=asm [--mcpu znver3]   (the kernels, not run)
//
// Inputs come from a safetensors file, one tensor per graph argument, named
// like the argument (without the %). Without --inputs, every dynamic
// dimension is --size long, f32 arguments are seeded random values and
// integer arguments count 0, 1, 2, ... (valid token ids and positions).
// Weights are read from the file the module's `weights` attribute names.
//
// Exit status: 0 on success, 1 on any error.
//
//===----------------------------------------------------------------------===//
#include "codegen/CompiledGraph.h"
#include "codegen/GemmEngine.h"
#include "ir/Parser.h"
#include "ir/Verifier.h"
#include "runtime/Executor.h"
#include "runtime/SafeTensors.h"
#include "runtime/Weights.h"
#include "tools/ToolSupport.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <random>

using namespace sqc;
namespace cl = llvm::cl;

namespace {

int error(const llvm::Twine &msg) {
  llvm::WithColor::error(llvm::errs(), "sqc-run") << msg << "\n";
  return 1;
}

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

llvm::Expected<std::vector<Tensor>> makeInputs(const Graph &g, llvm::StringRef inputsPath,
                                               int64_t size) {
  std::vector<Tensor> inputs;
  std::unique_ptr<SafeTensorsFile> file;
  if (!inputsPath.empty()) {
    auto f = SafeTensorsFile::open(inputsPath);
    if (!f)
      return f.takeError();
    file = std::move(*f);
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0, 1);
  for (unsigned i = 0; i < g.numArguments(); ++i) {
    const Value *arg = g.argument(i);
    std::string name = arg->name().empty() ? std::to_string(i) : arg->name().str();
    const TensorType &t = arg->type();
    if (file) {
      if (!file->find(name))
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       inputsPath + ": no tensor '" + name + "' for argument %" +
                                           name + " (" + t.str() + ")");
      auto x = file->load(name, t.dtype());
      if (!x)
        return x.takeError();
      inputs.push_back(std::move(*x));
      continue;
    }
    llvm::SmallVector<int64_t, 4> shape;
    for (const Dim &d : t.dims())
      shape.push_back(d.isStatic() ? d.size() : size);
    Tensor x(t.dtype(), shape);
    for (int64_t k = 0; k < x.numElements(); ++k)
      x.set(k, isFloat(t.dtype()) ? double(normal(rng)) : double(k));
    inputs.push_back(std::move(x));
  }
  return inputs;
}

void printTensor(llvm::raw_ostream &os, unsigned index, const Tensor &t, int64_t count) {
  os << "result #" << index << ": " << t.type().str();
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  for (int64_t i = 0; i < t.numElements(); ++i) {
    lo = std::min(lo, t.get(i));
    hi = std::max(hi, t.get(i));
    sum += t.get(i);
  }
  if (t.numElements())
    os << llvm::format("  min %.6g max %.6g mean %.6g", lo, hi, sum / t.numElements());
  os << "\n  [";
  for (int64_t i = 0; i < std::min(count, t.numElements()); ++i)
    os << (i ? ", " : "") << llvm::format("%.6g", t.get(i));
  os << (t.numElements() > count ? ", ...]\n" : "]\n");
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  claimOptionNames({"j"});
  cl::OptionCategory cat("sqc-run options");
  cl::opt<std::string> input(cl::Positional, cl::desc("<module.sqir>"), cl::Required,
                             cl::cat(cat));
  cl::opt<std::string> graphName("graph", cl::desc("Graph to run (default: forward, or the "
                                                   "module's only graph)"),
                                 cl::init(""), cl::cat(cat));
  cl::opt<std::string> inputs("inputs", cl::desc("safetensors file with one tensor per argument"),
                              cl::value_desc("file"), cl::init(""), cl::cat(cat));
  cl::opt<int64_t> size("size", cl::desc("Without --inputs: the length of every dynamic "
                                         "dimension"),
                        cl::init(4), cl::cat(cat));
  cl::opt<bool> interp("interp", cl::desc("Run on the reference interpreter instead of the JIT"),
                       cl::cat(cat));
  cl::opt<unsigned> threads("j", cl::desc("JIT threads (0: all cores)"), cl::init(0),
                            cl::cat(cat));
  cl::opt<unsigned> repeat("repeat", cl::desc("Runs to time (the outputs are the last run's)"),
                           cl::init(1), cl::cat(cat));
  cl::opt<int64_t> show("show", cl::desc("Values to print per output"), cl::init(8),
                        cl::cat(cat));
  cl::opt<bool> profile("profile",
                        cl::desc("JIT: time per kind of step over all runs, on stderr"),
                        cl::cat(cat));
  cl::opt<std::string> mcpu("mcpu", cl::desc("Target CPU (default: the host)"), cl::init(""),
                            cl::cat(cat));
  cl::opt<std::string> mattr("mattr", cl::desc("Target features to add or remove, e.g. -avx512f"),
                             cl::init(""), cl::cat(cat));
  enum class Emit { None, LLVM, Asm };
  cl::opt<Emit> emit(
      "emit", cl::desc("Print the kernels the JIT compiles for the target instead of running"),
      cl::values(clEnumValN(Emit::LLVM, "llvm", "LLVM IR after the JIT's O3 pipeline"),
                 clEnumValN(Emit::Asm, "asm", "the target's assembly")),
      cl::init(Emit::None), cl::cat(cat));
  cl::HideUnrelatedOptions(cat);
  cl::SetVersionPrinter([](llvm::raw_ostream &os) { os << versionString() << "\n"; });
  cl::ParseCommandLineOptions(argc, argv,
                              "sqc-run: execute a graph of an sqc module with the JIT "
                              "(or the reference interpreter) and print its outputs\n");

  auto buf = llvm::MemoryBuffer::getFileOrSTDIN(input, /*IsText=*/true);
  if (!buf)
    return error(input + ": " + buf.getError().message());
  DiagnosticEngine diag;
  std::unique_ptr<Module> m = parseModule((*buf)->getBuffer(), diag, input);
  if (!m || failed(verify(*m, diag)))
    return 1; // the diagnostics name file, line and column
  const Graph *g = nullptr;
  if (!graphName.empty())
    g = m->lookupGraph(graphName);
  else if (m->graphs().size() == 1)
    g = m->graphs().front().get();
  else
    g = m->lookupGraph("forward");
  if (!g)
    return error(input + ": no graph " +
                 (graphName.empty() ? std::string("@forward (name one with --graph)")
                                    : "@" + graphName.getValue()));
  if (llvm::Error e = checkTargetOptions(mcpu, mattr))
    return error(llvm::toString(std::move(e)));
  TargetSpec target = TargetSpec::parse(mcpu, mattr);
  if (emit != Emit::None) {
    // The GEMM and log2 kernels of the variant the target runs best: the
    // module the JIT compiles for any graph on this target.
    GemmIsa isa = bestGemmIsa(target);
    llvm::LLVMContext ctx;
    llvm::Module kernels("sqc kernels, " + gemmIsaName(isa).str() + " variant", ctx);
    GemmEngine::emitKernels(kernels, isa);
    auto text = emit == Emit::LLVM ? emitOptimizedIR(kernels, target)
                                   : emitAssembly(kernels, target);
    if (!text)
      return error(llvm::toString(text.takeError()));
    llvm::outs() << *text;
    return 0;
  }
  std::unique_ptr<WeightStore> weights;
  if (const Attribute *w = m->attr("weights"); w && w->kind() == AttrKind::String) {
    auto store = SafeTensorsWeights::open(resolveBeside(input, w->getString()));
    if (!store)
      return error(llvm::toString(store.takeError()));
    weights = std::move(*store);
  }
  if (size < 0)
    return error("--size must not be negative");
  auto in = makeInputs(*g, inputs, size);
  if (!in)
    return error(llvm::toString(in.takeError()));

  std::unique_ptr<CompiledGraph> compiled;
  if (!interp) {
    JitOptions o;
    o.target = target;
    o.threads = threads;
    o.profile = profile;
    auto t0 = Clock::now();
    auto cg = CompiledGraph::compile(*g, weights.get(), o);
    if (!cg)
      return error(llvm::toString(cg.takeError()));
    compiled = std::move(*cg);
    llvm::errs() << "jit: " << compiled->describe()
                 << llvm::format(" (compiled in %.3f s)\n", secondsSince(t0));
  }
  std::vector<double> times;
  std::vector<Tensor> out;
  for (unsigned r = 0; r < std::max(1u, repeat.getValue()); ++r) {
    auto t0 = Clock::now();
    auto res = compiled ? compiled->run(*in) : runGraph(*g, *in, weights.get());
    if (!res)
      return error(llvm::toString(res.takeError()));
    times.push_back(secondsSince(t0));
    out = std::move(*res);
  }
  for (size_t i = 0; i < out.size(); ++i)
    printTensor(llvm::outs(), unsigned(i), out[i], show);
  llvm::outs().flush(); // the timing line follows the outputs
  std::sort(times.begin(), times.end());
  if (compiled && profile)
    llvm::errs() << compiled->profileReport();
  llvm::errs() << llvm::format("%s: %zu run(s), median %.3f ms, min %.3f ms\n",
                               interp ? "interpreter" : "jit", times.size(),
                               times[times.size() / 2] * 1e3, times.front() * 1e3);
  return 0;
}
