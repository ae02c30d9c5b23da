//===- passes/PassManager.cpp - Pipelines and running them ----------------===//
#include "passes/PassManager.h"

#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "passes/Passes.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"

namespace sqc {

//===----------------------------------------------------------------------===//
// Pipeline strings
//===----------------------------------------------------------------------===//

namespace {

class PipelineParser {
public:
  PipelineParser(llvm::StringRef text, llvm::StringRef file,
                 DiagnosticEngine &diag)
      : text_(text), file_(file), diag_(diag) {}

  std::optional<std::vector<PipelineNode>> parse() {
    std::vector<PipelineNode> nodes;
    if (!parseList(nodes, 0))
      return std::nullopt;
    if (pos_ != text_.size())
      return error("expected ',' between passes"), std::nullopt;
    return nodes;
  }

private:
  static constexpr int kMaxNesting = 16;

  bool error(const llvm::Twine &msg, size_t at = ~size_t(0)) {
    size_t col = (at == ~size_t(0) ? pos_ : at) + 1;
    diag_.error(Location{file_, 1, unsigned(col)}, msg);
    return false;
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool isNameChar(char c) const {
    return llvm::isAlnum(c) || c == '-' || c == '_';
  }

  bool parseList(std::vector<PipelineNode> &nodes, int depth) {
    do {
      PipelineNode n;
      if (!parseElement(n, depth))
        return false;
      nodes.push_back(std::move(n));
    } while (peek() == ',' && ++pos_);
    return true;
  }

  bool parseElement(PipelineNode &node, int depth) {
    size_t start = pos_;
    while (isNameChar(peek()))
      ++pos_;
    llvm::StringRef name = text_.slice(start, pos_);
    if (name.empty())
      return error("expected a pass name");
    if (name == "fixpoint" && peek() == '(') {
      if (depth == kMaxNesting)
        return error("pipeline nests deeper than " + llvm::Twine(kMaxNesting));
      ++pos_;
      if (!parseList(node.group, depth + 1))
        return false;
      if (peek() != ')')
        return error("expected ')' to close 'fixpoint('");
      ++pos_;
      return parseOptions([&](llvm::StringRef key, llvm::StringRef value,
                              size_t at) {
        if (key != "max-iterations")
          return error("fixpoint has no option '" + key +
                           "' (it has: max-iterations)", at);
        if (value.getAsInteger(10, node.maxIterations) || node.maxIterations < 1)
          return error("max-iterations must be a positive integer", at);
        return true;
      });
    }
    node.pass = createPass(name);
    if (!node.pass)
      return error("unknown pass '" + name + "' (see --list-passes)", start);
    return parseOptions([&](llvm::StringRef key, llvm::StringRef value,
                            size_t at) {
      if (llvm::Error e = node.pass->setOption(key, value))
        return error(llvm::toString(std::move(e)), at);
      return true;
    });
  }

  /// Parses an optional `{key=value,...}`, calling `set` for each pair.
  template <typename Fn> bool parseOptions(Fn set) {
    if (peek() != '{')
      return true;
    ++pos_;
    while (true) {
      size_t keyStart = pos_;
      while (isNameChar(peek()))
        ++pos_;
      llvm::StringRef key = text_.slice(keyStart, pos_);
      if (key.empty())
        return error("expected an option name");
      if (peek() != '=')
        return error("expected '=' after option '" + key + "'");
      size_t valueStart = ++pos_;
      while (pos_ < text_.size() && peek() != ',' && peek() != '}')
        ++pos_;
      if (!set(key, text_.slice(valueStart, pos_).trim(), keyStart))
        return false;
      if (peek() == '}') {
        ++pos_;
        return true;
      }
      if (peek() != ',')
        return error("expected '}' to close the options");
      ++pos_;
    }
  }

  llvm::StringRef text_;
  llvm::StringRef file_;
  DiagnosticEngine &diag_;
  size_t pos_ = 0;
};

} // namespace

std::optional<std::vector<PipelineNode>>
parsePipeline(llvm::StringRef text, DiagnosticEngine &diag) {
  auto buf = llvm::MemoryBuffer::getMemBufferCopy(text, "<passes>");
  llvm::StringRef stored = buf->getBuffer();
  llvm::StringRef file = diag.addSource(std::move(buf));
  if (stored.trim().empty())
    return std::vector<PipelineNode>{};
  return PipelineParser(stored, file, diag).parse();
}

std::string pipelineToString(const std::vector<PipelineNode> &nodes) {
  std::string s;
  for (const PipelineNode &n : nodes) {
    if (!s.empty())
      s += ",";
    if (n.isGroup()) {
      s += "fixpoint(" + pipelineToString(n.group) +
           "){max-iterations=" + std::to_string(n.maxIterations) + "}";
    } else {
      s += n.pass->name().str();
      std::string opts = n.pass->optionsString();
      if (!opts.empty())
        s += "{" + opts + "}";
    }
  }
  return s;
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

PassManager::PassManager(PassManagerOptions opts) : opts_(std::move(opts)) {
  if (opts_.timePasses)
    timers_ = std::make_unique<llvm::TimerGroup>("sqc-passes",
                                                 "Pass execution timing report");
}

PassManager::~PassManager() {
  timerByPass_.clear();
}

PassResult PassManager::runPass(Pass &p, Module &m, PassContext &ctx) {
  if (opts_.stopAfter >= 0 && executions_ >= opts_.stopAfter) {
    stopped_ = true;
    return PassResult::Unchanged;
  }
  ++executions_;
  llvm::Timer *timer = nullptr;
  if (timers_) {
    auto &t = timerByPass_[p.name()];
    if (!t)
      t = std::make_unique<llvm::Timer>(p.name(), p.name(), *timers_);
    timer = t.get();
    timer->startTimer();
  }
  PassResult r = p.run(m, ctx);
  if (timer)
    timer->stopTimer();
  if (r == PassResult::Failed) {
    ctx.diag.error(Location::unknown(), "pass '" + p.name() + "' failed");
    return r;
  }
  if (r == PassResult::Changed && opts_.verifyEach && failed(verify(m, ctx.diag))) {
    ctx.diag.error(Location::unknown(),
                   "the module does not verify after pass '" + p.name() + "'");
    return PassResult::Failed;
  }
  bool print = opts_.printAfterAll ||
               llvm::is_contained(opts_.printAfter, p.name().str());
  if (print) {
    *opts_.dumpStream << "// -----// IR Dump After " << p.name()
                      << " //----- //\n";
    printModule(m, *opts_.dumpStream);
    opts_.dumpStream->flush();
  }
  return r;
}

PassResult PassManager::runNodes(std::vector<PipelineNode> &nodes, Module &m,
                                 PassContext &ctx) {
  bool changed = false;
  for (PipelineNode &n : nodes) {
    if (stopped_)
      break;
    PassResult r = PassResult::Unchanged;
    if (!n.isGroup()) {
      r = runPass(*n.pass, m, ctx);
    } else {
      for (int64_t i = 0; i < n.maxIterations && !stopped_; ++i) {
        PassResult gr = runNodes(n.group, m, ctx);
        if (gr == PassResult::Failed)
          return gr;
        if (gr == PassResult::Unchanged)
          break;
        r = PassResult::Changed;
      }
    }
    if (r == PassResult::Failed)
      return r;
    changed |= r == PassResult::Changed;
  }
  return changed ? PassResult::Changed : PassResult::Unchanged;
}

llvm::LogicalResult PassManager::run(Module &m, PassContext &ctx) {
  // Each run (e.g. each --split-input-file chunk) counts from zero.
  stopped_ = false;
  executions_ = 0;
  PassResult r = runNodes(nodes_, m, ctx);
  changed_ = r == PassResult::Changed;
  if (stopped_)
    ctx.diag.note(Location::unknown(),
                  "--stop-after=" + llvm::Twine(opts_.stopAfter) +
                      ": stopped after " + llvm::Twine(executions_) +
                      " pass executions");
  if (timers_)
    timers_->print(llvm::errs(), /*ResetAfterPrint=*/true);
  return llvm::success(r != PassResult::Failed);
}

} // namespace sqc
