//===- tools/sqc/RandomModel.h - A LLaMA folder with random weights -*- C++ -*-===//
#ifndef SQC_TOOLS_SQC_RANDOMMODEL_H
#define SQC_TOOLS_SQC_RANDOMMODEL_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>

namespace sqc {

struct RandomModelShape {
  int64_t dim = 128, hidden = 344, layers = 4, heads = 4, kvHeads = 2;
  uint64_t seed = 1;
};

/// Writes a Hugging Face LLaMA folder (config.json, model.safetensors) with
/// seeded random weights and a byte-level llama2.c tokenizer (tokenizer.bin:
/// <unk>, BOS, EOS and the 256 bytes), so every command has a model to run
/// without downloads: the demo, benchmarks, tests.
llvm::Error writeRandomModel(llvm::StringRef outDir, const RandomModelShape &shape);

} // namespace sqc

#endif // SQC_TOOLS_SQC_RANDOMMODEL_H
