//===- tools/ToolSupport.h - What every sqc command-line tool shares -*- C++ -*-===//
#ifndef SQC_TOOLS_TOOLSUPPORT_H
#define SQC_TOOLS_TOOLSUPPORT_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"

#include <string>

namespace sqc {

/// libLLVM registers options of its own (`-print-after`, `-time-passes`, ...)
/// when it loads. Call this before creating options with the same names: it
/// unregisters LLVM's, so ours can take them. Also sets `--version`.
void claimOptionNames(llvm::ArrayRef<llvm::StringRef> names);

/// The one-line version: sqc's and the LLVM it was built with.
std::string versionString();

/// Writes `text` to `path` atomically (a temporary file renamed into place),
/// or to standard output for `-`. On failure nothing is left at `path`.
bool writeOutput(llvm::StringRef path, llvm::StringRef text,
                 llvm::StringRef tool);

} // namespace sqc

#endif // SQC_TOOLS_TOOLSUPPORT_H
