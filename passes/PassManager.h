//===- passes/PassManager.h - Pipelines and running them --------*- C++ -*-===//
//
// A pipeline string names passes in order, with options in braces, and can
// repeat a group until it stops changing the module:
//
//   dce,fold-constants{max-elements=64},fixpoint(canonicalize,cse){max-iterations=8}
//
// Errors in the string are reported with a caret under the bad spot.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_PASSES_PASSMANAGER_H
#define SQC_PASSES_PASSMANAGER_H

#include "passes/Pass.h"

#include "llvm/Support/LogicalResult.h"
#include "llvm/Support/Timer.h"

#include <optional>
#include <string>
#include <vector>

namespace sqc {

/// One element of a pipeline: a pass, or a group repeated to a fixpoint.
struct PipelineNode {
  std::unique_ptr<Pass> pass;
  std::vector<PipelineNode> group;
  int64_t maxIterations = 10;
  bool isGroup() const { return pass == nullptr; }
};

/// Parses a pipeline string; reports errors to `diag` and returns nullopt.
std::optional<std::vector<PipelineNode>>
parsePipeline(llvm::StringRef text, DiagnosticEngine &diag);

/// Prints a pipeline back as a string, with every option's value.
std::string pipelineToString(const std::vector<PipelineNode> &nodes);

struct PassManagerOptions {
  /// Verify after every pass that changed the module.
  bool verifyEach = false;
  /// Print the module after the named passes, or after all of them.
  std::vector<std::string> printAfter;
  bool printAfterAll = false;
  /// Report the time spent in each pass.
  bool timePasses = false;
  /// Stop after this many pass executions (for bisecting); -1 runs all.
  int64_t stopAfter = -1;
  /// Where IR dumps go.
  llvm::raw_ostream *dumpStream = &llvm::errs();
};

class PassManager {
public:
  explicit PassManager(PassManagerOptions opts = {});
  ~PassManager();

  void setPipeline(std::vector<PipelineNode> nodes) { nodes_ = std::move(nodes); }
  /// Runs the pipeline; fails if a pass fails or the verifier rejects its
  /// output.
  llvm::LogicalResult run(Module &m, PassContext &ctx);
  /// Whether the last run changed the module.
  bool changed() const { return changed_; }
  /// Number of pass executions in the last run.
  int64_t executions() const { return executions_; }

private:
  PassResult runNodes(std::vector<PipelineNode> &nodes, Module &m,
                      PassContext &ctx);
  PassResult runPass(Pass &p, Module &m, PassContext &ctx);

  PassManagerOptions opts_;
  std::vector<PipelineNode> nodes_;
  std::unique_ptr<llvm::TimerGroup> timers_;
  llvm::StringMap<std::unique_ptr<llvm::Timer>> timerByPass_;
  int64_t executions_ = 0;
  bool stopped_ = false;
  bool changed_ = false;
};

} // namespace sqc

#endif // SQC_PASSES_PASSMANAGER_H
