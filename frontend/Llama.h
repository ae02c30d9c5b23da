//===- frontend/Llama.h - LLaMA-family models into the IR -------*- C++ -*-===//
#ifndef SQC_FRONTEND_LLAMA_H
#define SQC_FRONTEND_LLAMA_H

#include "ir/IR.h"

#include "llvm/Support/Error.h"

#include <string>

namespace sqc {

struct LlamaConfig {
  int64_t dim = 0, hidden = 0, layers = 0, heads = 0, kvHeads = 0, vocab = 0,
          maxSeq = 0;
  double eps = 1e-5, theta = 10000.0;
  bool tiedEmbeddings = true;
  /// "half" (Hugging Face rotate-half) or "interleaved" (llama2.c pairs).
  std::string ropeStyle = "half";
  int64_t headSize() const { return dim / heads; }
  /// Checks the sizes fit together; the message names what does not.
  llvm::Error validate() const;
};

/// Hugging Face name of a LLaMA tensor (`layer` < 0: not per layer).
std::string llamaWeightName(llvm::StringRef what, int64_t layer = -1);

/// Adds graph @forward (see frontend/Model.h) for `cfg` to `m`, with weights
/// referenced by their Hugging Face names.
llvm::Error buildLlamaGraph(Module &m, const LlamaConfig &cfg);

} // namespace sqc

#endif // SQC_FRONTEND_LLAMA_H
