//===- codegen/Jit.h - Targets and the ORC JIT ------------------*- C++ -*-===//
//
// Kernels are generated as LLVM IR, optimized with LLVM's O3 pipeline for the
// target CPU and compiled by ORC's LLJIT. The target defaults to the host
// (its CPU name and features, as LLVM sees them) and can be overridden, so
// every kernel variant can be compiled — and its assembly inspected — on any
// x86-64 machine (`--mcpu`, `--mattr`).
//
//===----------------------------------------------------------------------===//
#ifndef SQC_CODEGEN_JIT_H
#define SQC_CODEGEN_JIT_H

#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace sqc {

struct TargetSpec {
  std::string cpu;                   // e.g. "znver3"; empty: host
  std::vector<std::string> features; // e.g. {"+avx2", "-avx512f"}; added to the CPU's
  /// The host CPU and its features.
  static TargetSpec host();
  /// `base` with an --mcpu / --mattr (comma-separated) override applied.
  static TargetSpec parse(llvm::StringRef mcpu, llvm::StringRef mattr);
  std::string featureString() const;
};

/// Prepares LLVM's native target once per process.
void initializeCodegen();

/// An error naming what is wrong with an --mcpu / --mattr pair: a CPU LLVM
/// does not know, a feature it does not know or without its + or - sign.
llvm::Error checkTargetOptions(llvm::StringRef mcpu, llvm::StringRef mattr);
/// The instruction-set features `target` enables that this CPU lacks (its
/// code would die of an illegal instruction here); empty when it runs.
std::vector<std::string> featuresTheHostLacks(const TargetSpec &target);
/// Whether `target` has every feature of `features` ("+avx2,+fma").
bool targetHas(const TargetSpec &target, llvm::StringRef features);

class Jit {
public:
  static llvm::Expected<std::unique_ptr<Jit>> create(const TargetSpec &target);
  /// Optimizes (O3, for the target) and compiles `m`.
  llvm::Error add(std::unique_ptr<llvm::Module> m,
                  std::unique_ptr<llvm::LLVMContext> ctx);
  /// Address of a compiled function.
  llvm::Expected<void *> lookup(llvm::StringRef name);

private:
  std::unique_ptr<llvm::orc::LLJIT> jit_;
};

/// The target's assembly for `m` after the same O3 pipeline the JIT runs
/// (for FileCheck tests of variants the host cannot execute).
llvm::Expected<std::string> emitAssembly(llvm::Module &m, const TargetSpec &target);
/// `m` as LLVM IR text after that pipeline: what the JIT compiles.
llvm::Expected<std::string> emitOptimizedIR(llvm::Module &m, const TargetSpec &target);

} // namespace sqc

#endif // SQC_CODEGEN_JIT_H
