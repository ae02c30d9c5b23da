//===- tools/sqc-opt/sqc-opt.cpp - The sqc pass driver --------------------===//
//
// Reads a .sqir module, verifies it, runs a pass pipeline and prints the
// result, like LLVM's `opt` and MLIR's `mlir-opt`:
//
//   sqc-opt model.sqir -passes=fold-constants,cse,dce -o out.sqir
//
// Exit status: 0 on success, 1 on any error.
//
//===----------------------------------------------------------------------===//
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "passes/PassManager.h"
#include "passes/Passes.h"
#include "runtime/Weights.h"
#include "tools/ToolSupport.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace sqc;
namespace cl = llvm::cl;

namespace {

/// Prints the op table as `--list-ops` shows it.
void listOps(llvm::raw_ostream &os) {
  os << "Ops (operands; `x?` optional, `xs...` any number) and attributes:\n";
  for (const OpInfo &info : allOps()) {
    std::string sig = info.mnemonic.str() + "(" + info.operandText.str() + ")";
    if (!info.attrs.empty()) {
      sig += " {";
      for (size_t i = 0; i < info.attrs.size(); ++i) {
        const AttrSpec &a = info.attrs[i];
        sig += (i ? ", " : "") + a.name + ": " + a.kindText;
        if (a.defaultValue)
          sig += " = " + formatAttribute(*a.defaultValue);
        else if (!a.required)
          sig += " (optional)";
      }
      sig += "}";
    }
    if (info.numResults != 1)
      sig += " -> " + std::to_string(info.numResults) + " results";
    os << "  " << sig << "\n      " << info.doc << "\n";
  }
}

void listPasses(llvm::raw_ostream &os) {
  os << "Passes (options as name{key=value,...}; groups as "
        "fixpoint(a,b){max-iterations=N}):\n";
  for (const PassRegistryEntry &e : allPasses()) {
    os << "  " << e.name << "\n      " << e.description << "\n";
    std::unique_ptr<Pass> pass = e.create(); // options point into the pass
    for (const Pass::OptionInfo &o : pass->options())
      os << "      " << o.name << "=<" << o.print() << ">: " << o.description
         << "\n";
  }
}

/// One input to process: the whole file, or one `// -----` chunk of it with
/// the other chunks blanked so line numbers stay those of the file.
std::vector<std::unique_ptr<llvm::MemoryBuffer>>
splitInput(std::unique_ptr<llvm::MemoryBuffer> buf, bool split) {
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> out;
  if (!split) {
    out.push_back(std::move(buf));
    return out;
  }
  llvm::StringRef text = buf->getBuffer();
  // Chunk boundaries: lines that are exactly `// -----`.
  std::vector<std::pair<size_t, size_t>> chunks;
  size_t start = 0, pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == llvm::StringRef::npos)
      eol = text.size();
    if (text.slice(pos, eol).rtrim() == "// -----") {
      chunks.push_back({start, pos});
      start = eol;
    }
    pos = eol + 1;
  }
  chunks.push_back({start, text.size()});
  for (auto [b, e] : chunks) {
    std::string blanked(text);
    for (size_t i = 0; i < blanked.size(); ++i)
      if ((i < b || i >= e) && blanked[i] != '\n')
        blanked[i] = ' ';
    out.push_back(llvm::MemoryBuffer::getMemBufferCopy(
        blanked, buf->getBufferIdentifier()));
  }
  return out;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  claimOptionNames({"passes", "print-after", "print-after-all", "time-passes",
                    "stop-after", "verify-each", "o"});

  cl::OptionCategory cat("sqc-opt options");
  cl::opt<std::string> input(cl::Positional, cl::desc("<input .sqir file>"),
                             cl::init("-"), cl::cat(cat));
  cl::opt<std::string> output("o", cl::desc("Output file (default: stdout); "
                                            "written only if everything succeeds"),
                              cl::value_desc("file"), cl::init("-"), cl::cat(cat));
  cl::opt<std::string> passes(
      "passes",
      cl::desc("Pass pipeline, e.g. 'dce,fold-constants{max-elements=64},"
               "fixpoint(canonicalize,cse)'"),
      cl::value_desc("pipeline"), cl::cat(cat));
  cl::opt<bool> verifyEach(
      "verify-each", cl::desc("Verify the module after every pass that changed it"),
      cl::cat(cat));
  cl::list<std::string> printAfter(
      "print-after", cl::desc("Print the module to stderr after these passes"),
      cl::CommaSeparated, cl::value_desc("pass,..."), cl::cat(cat));
  cl::opt<bool> printAfterAll("print-after-all",
                              cl::desc("Print the module to stderr after every pass"),
                              cl::cat(cat));
  cl::opt<bool> printStats("pass-stats",
                           cl::desc("Print the numbers passes report about what they "
                                    "chose (e.g. mixed-precision's size) to stderr"),
                           cl::cat(cat));
  cl::opt<bool> timePasses("time-passes",
                           cl::desc("Report the time spent in each pass"),
                           cl::cat(cat));
  cl::opt<int64_t> stopAfter(
      "stop-after",
      cl::desc("Stop after N pass executions (bisecting a miscompile)"),
      cl::value_desc("N"), cl::init(-1), cl::cat(cat));
  cl::opt<bool> listOpsFlag("list-ops", cl::desc("List every op and exit"),
                            cl::cat(cat));
  cl::opt<bool> listPassesFlag("list-passes", cl::desc("List every pass and exit"),
                               cl::cat(cat));
  cl::opt<bool> printPipeline(
      "print-pipeline",
      cl::desc("Print the parsed pipeline with all option values to stderr"),
      cl::cat(cat));
  cl::opt<std::string> weightsPath(
      "weights",
      cl::desc("Safetensors file (or model.safetensors.index.json) holding the "
               "tensors of `weight` ops, for passes that read weight values "
               "(default: the file the module's `weights` attribute names, if it "
               "exists; relative to the input)"),
      cl::value_desc("file"), cl::cat(cat));
  cl::opt<bool> splitInputFile(
      "split-input-file",
      cl::desc("Process each '// -----'-separated chunk of the input on its own"),
      cl::cat(cat));
  cl::HideUnrelatedOptions(cat);
  cl::ParseCommandLineOptions(
      argc, argv,
      "sqc-opt: reads an sqc IR module (.sqir), runs passes over it and prints "
      "it.\n\n"
      "  sqc-opt in.sqir -passes=fold-constants,cse,dce -o out.sqir\n"
      "  sqc-opt --list-ops | --list-passes\n\n"
      "Exit status is 0 on success and 1 on any error.\n");

  if (listOpsFlag || listPassesFlag) {
    if (listOpsFlag)
      listOps(llvm::outs());
    if (listPassesFlag)
      listPasses(llvm::outs());
    return 0;
  }

  DiagnosticEngine diag;
  auto pipeline = parsePipeline(passes, diag);
  if (!pipeline)
    return 1;
  if (printPipeline)
    llvm::errs() << pipelineToString(*pipeline) << "\n";

  auto buf = llvm::MemoryBuffer::getFileOrSTDIN(input, /*IsText=*/true);
  if (!buf) {
    llvm::WithColor::error(llvm::errs(), "sqc-opt")
        << "cannot read '" << input << "': " << buf.getError().message() << "\n";
    return 1;
  }

  std::unique_ptr<SafeTensorsWeights> weights;
  if (!weightsPath.empty()) {
    auto w = SafeTensorsWeights::open(weightsPath);
    if (!w) {
      llvm::WithColor::error(llvm::errs(), "sqc-opt") << llvm::toString(w.takeError()) << "\n";
      return 1;
    }
    weights = std::move(*w);
  }

  PassManagerOptions pmOpts;
  pmOpts.verifyEach = verifyEach;
  pmOpts.printAfter.assign(printAfter.begin(), printAfter.end());
  pmOpts.printAfterAll = printAfterAll;
  pmOpts.timePasses = timePasses;
  pmOpts.stopAfter = stopAfter;
  PassManager pm(pmOpts);
  pm.setPipeline(std::move(*pipeline));

  std::string result;
  bool ok = true;
  bool first = true;
  for (auto &chunk : splitInput(std::move(*buf), splitInputFile)) {
    if (!first)
      result += "// -----\n";
    first = false;
    unsigned errorsBefore = diag.numErrors();
    std::unique_ptr<Module> m = parseModule(std::move(chunk), diag);
    if (!m || failed(verify(*m, diag))) {
      ok = false;
      continue;
    }
    // Without --weights, the module's own weights file (as `sqc import`
    // writes it), when it is there.
    std::unique_ptr<SafeTensorsWeights> own;
    const Attribute *wa = m->attr("weights");
    if (!weights && wa && wa->kind() == AttrKind::String) {
      std::string path = resolveBeside(input, wa->getString());
      if (llvm::sys::fs::exists(path)) {
        auto w = SafeTensorsWeights::open(path);
        if (!w) {
          llvm::WithColor::error(llvm::errs(), "sqc-opt") << llvm::toString(w.takeError()) << "\n";
          return 1;
        }
        own = std::move(*w);
      }
    }
    PassContext ctx{diag, weights ? weights.get() : own.get()};
    if (failed(pm.run(*m, ctx)) || (pm.changed() && failed(verify(*m, diag))) ||
        diag.numErrors() != errorsBefore) {
      ok = false;
      continue;
    }
    if (printStats)
      for (const auto &[key, value] : ctx.statistics)
        llvm::errs() << "stat: " << key << " = " << formatFloat(value) << "\n";
    result += toString(*m);
  }
  // With -o, a failed run leaves no file; on stdout, what succeeded is shown.
  if (!ok && output != "-")
    return 1;
  if (!writeOutput(output, result, "sqc-opt"))
    return 1;
  return ok ? 0 : 1;
}
