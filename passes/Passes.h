//===- passes/Passes.h - Creating passes by name ----------------*- C++ -*-===//
#ifndef SQC_PASSES_PASSES_H
#define SQC_PASSES_PASSES_H

#include "passes/Pass.h"

namespace sqc {

#define PASS(Name, Factory, Doc) std::unique_ptr<Pass> Factory();
#include "passes/Passes.def"

struct PassRegistryEntry {
  llvm::StringRef name;
  std::unique_ptr<Pass> (*create)();
  llvm::StringRef description;
};

/// Every registered pass, in registry order.
llvm::ArrayRef<PassRegistryEntry> allPasses();
/// A new instance of the named pass; null if there is none.
std::unique_ptr<Pass> createPass(llvm::StringRef name);

} // namespace sqc

#endif // SQC_PASSES_PASSES_H
