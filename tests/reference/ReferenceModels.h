//===- tests/reference/ReferenceModels.h - HF reference models -*- C++ -*-===//
//
// An independent reference ("oracle") for the logits that Hugging Face
// transformers computes for two decoder-only architectures:
//
//   * OPTForCausalLM   (transformers/models/opt/modeling_opt.py)
//   * GPT2LMHeadModel  (transformers/models/gpt2/modeling_gpt2.py)
//
// The point of this code is to be obviously right, not fast: it is used to
// check sqc's importers, so it deliberately shares nothing with sqc (only the
// C++ standard library), does all arithmetic in double, and spells every step
// out as naive loops. Test sizes are tiny (D <= 32, a couple of layers, a
// handful of tokens).
//
// Scope: a single sequence, positions 0..T-1, no padding / attention mask, no
// KV cache, inference mode (dropout is the identity).
//
//===----------------------------------------------------------------------===//
#ifndef SQC_TESTS_REFERENCE_REFERENCEMODELS_H
#define SQC_TESTS_REFERENCE_REFERENCEMODELS_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sqc::ref {

/// A dense row-major float tensor, as stored in a safetensors file.
struct RefTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

/// Tensors keyed by their Hugging Face parameter names.
using WeightMap = std::map<std::string, RefTensor>;

/// OPT with do_layer_norm_before=True, word_embed_proj_dim == hidden,
/// activation ReLU, enable_bias=True, elementwise-affine LayerNorms.
struct OptConfig {
  int64_t hidden;       // hidden_size (D)
  int64_t layers;       // num_hidden_layers
  int64_t heads;        // num_attention_heads (no GQA)
  int64_t ffn;          // ffn_dim
  int64_t vocab;        // vocab_size
  int64_t maxPositions; // max_position_embeddings (table has 2 extra rows)
  double eps = 1e-5;    // LayerNorm epsilon (nn.LayerNorm default)
};

/// GPT-2 with the default config switches: activation gelu_new,
/// n_inner = 4 * n_embd, scale_attn_weights=True,
/// scale_attn_by_inverse_layer_idx=False, tied LM head.
struct Gpt2Config {
  int64_t embd;      // n_embd (D)
  int64_t layers;    // n_layer
  int64_t heads;     // n_head
  int64_t vocab;     // vocab_size
  int64_t positions; // n_positions
  double eps = 1e-5; // layer_norm_epsilon
};

/// Logits of OPTForCausalLM for `tokens`, shape [tokens.size(), vocab],
/// row-major. Weight names are `model.decoder.*` plus an optional
/// `lm_head.weight` (tied to `model.decoder.embed_tokens.weight` if absent).
/// Throws std::runtime_error naming the tensor when one is missing or has the
/// wrong shape, and on invalid configs / token ids / sequence lengths.
std::vector<float> optForward(const OptConfig &config, const WeightMap &weights,
                              const std::vector<int32_t> &tokens);

/// Logits of GPT2LMHeadModel for `tokens`, shape [tokens.size(), vocab],
/// row-major. Weight names are `transformer.*`; the LM head is always tied to
/// `transformer.wte.weight`. Throws like optForward.
std::vector<float> gpt2Forward(const Gpt2Config &config,
                               const WeightMap &weights,
                               const std::vector<int32_t> &tokens);

} // namespace sqc::ref

#endif // SQC_TESTS_REFERENCE_REFERENCEMODELS_H
