//===- passes/Pass.h - The pass interface -----------------------*- C++ -*-===//
//
// A pass is a small class with a kebab-case name. It says whether it changed
// the module (so the pass manager can skip re-verifying) or failed (after
// reporting why through the context's diagnostics). Options are declared in
// the constructor and set from the pipeline string: `fold-constants{max-elements=64}`.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_PASSES_PASS_H
#define SQC_PASSES_PASS_H

#include "ir/Diagnostics.h"
#include "ir/IR.h"

#include "llvm/Support/Error.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sqc {

enum class PassResult { Unchanged, Changed, Failed };

class WeightStore;
class CalibrationStats;

/// What a pass may use besides the module. Passes that need weight values or
/// activation statistics fail with a message when they are absent.
struct PassContext {
  explicit PassContext(DiagnosticEngine &diag, WeightStore *weights = nullptr,
                       const CalibrationStats *calib = nullptr)
      : diag(diag), weights(weights), calib(calib) {}

  DiagnosticEngine &diag;
  /// The tensors behind `weight` ops (sqc quantize; sqc-opt --weights).
  WeightStore *weights;
  /// Calibration statistics (sqc quantize; or a pass's calib= option).
  const CalibrationStats *calib;
  /// Numbers passes report about what they chose, keyed "pass.name" (like
  /// LLVM's -stats): mixed-precision's size, for instance. `sqc-opt --pass-stats`
  /// prints them; `sqc` reads them to compare assignments.
  std::map<std::string, double> statistics;
  /// The model's loss as the module stands, measured by running it: set by
  /// `sqc quantize --sensitivity measured` (the KL divergence of its
  /// next-token distributions from the FP32 model's on calibration text).
  /// Passes that weigh their choices by measured loss
  /// (mixed-precision{sensitivity=measured}) need it; sqc-opt has none.
  std::function<llvm::Expected<double>(Module &)> lossProbe;
};

class Pass {
public:
  explicit Pass(llvm::StringRef name) : name_(name.str()) {}
  virtual ~Pass() = default;

  llvm::StringRef name() const { return name_; }
  virtual PassResult run(Module &m, PassContext &ctx) = 0;

  /// Sets option `key` from its text in the pipeline string.
  llvm::Error setOption(llvm::StringRef key, llvm::StringRef value);
  /// `key=value,...` of every option, for printing a pipeline back.
  std::string optionsString() const;

  struct OptionInfo {
    std::string name, description;
    std::function<llvm::Error(llvm::StringRef)> parse;
    std::function<std::string()> print;
  };
  const std::vector<OptionInfo> &options() const { return options_; }

protected:
  /// Declares an option stored in `*storage` (int64_t, double, bool or
  /// std::string), whose current value is its default.
  template <typename T>
  void addOption(llvm::StringRef name, T *storage, llvm::StringRef description);

private:
  std::string name_;
  std::vector<OptionInfo> options_;
};

/// Option parsing, one overload per supported type.
llvm::Error parseOptionValue(llvm::StringRef text, int64_t &out);
llvm::Error parseOptionValue(llvm::StringRef text, double &out);
llvm::Error parseOptionValue(llvm::StringRef text, bool &out);
llvm::Error parseOptionValue(llvm::StringRef text, std::string &out);
std::string printOptionValue(int64_t v);
std::string printOptionValue(double v);
std::string printOptionValue(bool v);
std::string printOptionValue(const std::string &v);

template <typename T>
void Pass::addOption(llvm::StringRef name, T *storage,
                     llvm::StringRef description) {
  options_.push_back(OptionInfo{
      name.str(), description.str(),
      [storage](llvm::StringRef text) { return parseOptionValue(text, *storage); },
      [storage] { return printOptionValue(*storage); }});
}

} // namespace sqc

#endif // SQC_PASSES_PASS_H
