//===- frontend/Model.h - Loading and writing whole models ------*- C++ -*-===//
//
// Every importer produces one graph that serves prefill and decode: lengths
// are symbolic and the KV cache comes in as arguments and goes out as results:
//
//   graph @forward(%tokens: i32[?seq], %positions: i32[?seq],
//                  %past_k.0: f32[?past,KV,hs], %past_v.0: ..., ...)
//       -> (f32[?seq,vocab], f32[?ctx,KV,hs] (k.0), f32[?ctx,KV,hs] (v.0), ...)
//
// Prefill passes empty caches (?past = 0); decode passes one token and the
// caches the previous call returned.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_FRONTEND_MODEL_H
#define SQC_FRONTEND_MODEL_H

#include "codegen/CompiledGraph.h"
#include "frontend/Tokenizer.h"
#include "ir/IR.h"
#include "runtime/Executor.h"
#include "runtime/Weights.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace sqc {

/// A model ready to run: its IR, weights and tokenizer. The module's
/// attributes say where weights and tokenizer live (`weights`, `tokenizer`,
/// absolute or relative to the .sqir file) and the longest sequence
/// (`max_seq`), so a written module is a complete model.
struct LoadedModel {
  LoadedModel();
  LoadedModel(LoadedModel &&);
  LoadedModel &operator=(LoadedModel &&);
  ~LoadedModel();
  std::unique_ptr<Module> module;
  std::unique_ptr<WeightStore> weights;
  std::unique_ptr<Tokenizer> tokenizer;
  int64_t maxSeq = 0;
  std::string description; // e.g. "LlamaForCausalLM (Hugging Face folder ...)"
  /// Set by compileModel: @forward lowered onto JIT kernels, which
  /// runForward then uses instead of the interpreter.
  std::unique_ptr<CompiledGraph> compiled;
  /// The graph that runs the model (see the file comment).
  const Graph &forward() const { return *module->lookupGraph("forward"); }
};

/// Lowers @forward onto JIT kernels (codegen/CompiledGraph.h). Call after
/// the last change to the module.
llvm::Error compileModel(LoadedModel &m, const JitOptions &options = {});

/// Runs @forward on `tokens` at positions start, start+1, ..., extending
/// `cache` (one tensor per cache argument, in order; empty means start from
/// nothing). Returns the logits [tokens, vocab]. `observe` sees every value.
llvm::Expected<Tensor> runForward(LoadedModel &m, llvm::ArrayRef<int32_t> tokens,
                                  int64_t start, std::vector<Tensor> &cache,
                                  const ValueObserver *observe = nullptr);

/// Loads a Hugging Face folder (config.json + safetensors; LLaMA, OPT,
/// GPT-2), a llama2.c checkpoint (.bin) or a module written by `sqc import`
/// (.sqir). `tokenizerPath` overrides the tokenizer the model names (llama2.c
/// checkpoints name none). Errors name the file and, for weights, the tensor.
llvm::Expected<LoadedModel> loadModel(llvm::StringRef path,
                                      llvm::StringRef tokenizerPath = "");

/// Replaces every value computed from weights and constants alone (quantized
/// weights, smoothed gains, ...) that a run-time op uses by a `weight` op
/// holding its value, evaluated now, and moves all weights the graph still
/// uses into memory, so that writeModel() writes one self-contained file.
llvm::Error materializeWeights(LoadedModel &m);

/// Writes `m` as `path` (.sqir). Weights that live in files stay there and
/// are referenced; weights held in memory (llama2.c) are written to a
/// .safetensors file beside it. Both are written atomically.
llvm::Error writeModel(const LoadedModel &m, llvm::StringRef path);

} // namespace sqc

#endif // SQC_FRONTEND_MODEL_H
