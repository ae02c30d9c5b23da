//===- passes/Passes.cpp - The pass registry ------------------------------===//
#include "passes/Passes.h"

namespace sqc {

llvm::ArrayRef<PassRegistryEntry> allPasses() {
  static const PassRegistryEntry entries[] = {
#define PASS(Name, Factory, Doc) {Name, Factory, Doc},
#include "passes/Passes.def"
  };
  return entries;
}

std::unique_ptr<Pass> createPass(llvm::StringRef name) {
  for (const PassRegistryEntry &e : allPasses())
    if (e.name == name)
      return e.create();
  return nullptr;
}

} // namespace sqc
