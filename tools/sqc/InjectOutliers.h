//===- tools/sqc/InjectOutliers.h - LLM-like outliers in a small model -*- C++ -*-===//
#ifndef SQC_TOOLS_SQC_INJECTOUTLIERS_H
#define SQC_TOOLS_SQC_INJECTOUTLIERS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace sqc {

/// Copies a Hugging Face LLaMA folder to `outDir` with activation outliers
/// injected without changing the function: for a few fixed channels, norm
/// gains (and up_proj / v_proj rows) are multiplied by `gain` and the
/// columns of the linears that read them divided by it. A power-of-two gain
/// keeps the FP32 model bit-identical.
llvm::Error injectOutliers(llvm::StringRef modelDir, llvm::StringRef outDir,
                           double gain);

} // namespace sqc

#endif // SQC_TOOLS_SQC_INJECTOUTLIERS_H
