//===- tools/ToolSupport.cpp - What every sqc command-line tool shares ----===//
#include "tools/ToolSupport.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

namespace sqc {

void claimOptionNames(llvm::ArrayRef<llvm::StringRef> names) {
  auto &registered = llvm::cl::getRegisteredOptions();
  for (llvm::StringRef n : names) {
    auto it = registered.find(n);
    if (it != registered.end())
      it->second->removeArgument();
  }
  llvm::cl::SetVersionPrinter(
      [](llvm::raw_ostream &os) { os << versionString() << "\n"; });
}

std::string versionString() {
  return std::string("sqc 0.1.0 (LLVM ") + LLVM_VERSION_STRING + ")";
}

bool writeOutput(llvm::StringRef path, llvm::StringRef text,
                 llvm::StringRef tool) {
  llvm::Error e = llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
    os << text;
    return llvm::Error::success();
  });
  if (e) {
    // The error's own text repeats the path; its error code says why.
    std::error_code ec = llvm::errorToErrorCode(std::move(e));
    llvm::WithColor::error(llvm::errs(), tool)
        << "cannot write '" << path << "': " << ec.message() << "\n";
    return false;
  }
  return true;
}

} // namespace sqc
