//===- tools/sqc/RandomModel.cpp - A LLaMA folder with random weights -----===//
#include "tools/sqc/RandomModel.h"

#include "frontend/ImportSupport.h"
#include "frontend/Llama.h"
#include "frontend/Tokenizer.h"
#include "runtime/SafeTensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>
#include <random>

namespace sqc {

llvm::Error writeRandomModel(llvm::StringRef outDir, const RandomModelShape &s) {
  LlamaConfig c;
  c.dim = s.dim;
  c.hidden = s.hidden;
  c.layers = s.layers;
  c.heads = s.heads;
  c.kvHeads = s.kvHeads;
  c.vocab = 259; // <unk>, <s>, </s> and the 256 bytes
  if (llvm::Error e = c.validate())
    return e;
  if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
    return importError(outDir + ": " + ec.message());
  std::mt19937_64 rng(s.seed);
  std::normal_distribution<float> normal(0, 1);
  std::vector<SafeTensorOut> tensors;
  // Weights ~ N(0, 1/fan_in) keep activations O(1) through the layers; norm
  // gains ~ 1 as trained models have them.
  auto add = [&](const std::string &name, std::vector<int64_t> shape, bool gain) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    float sd = gain ? 0.1f : 1.0f / std::sqrt(float(shape.back()));
    std::vector<float> v(n);
    for (float &x : v)
      x = (gain ? 1.0f : 0.0f) + sd * normal(rng);
    tensors.push_back({name, StDType::F32, shape, f32Bytes(v)});
  };
  int64_t D = c.dim, F = c.hidden, KVD = c.kvHeads * c.headSize();
  add("model.embed_tokens.weight", {c.vocab, D}, false);
  for (int64_t l = 0; l < c.layers; ++l) {
    auto n = [&](const char *w) { return llamaWeightName(w, l); };
    add(n("input_layernorm.weight"), {D}, true);
    add(n("self_attn.q_proj.weight"), {D, D}, false);
    add(n("self_attn.k_proj.weight"), {KVD, D}, false);
    add(n("self_attn.v_proj.weight"), {KVD, D}, false);
    add(n("self_attn.o_proj.weight"), {D, D}, false);
    add(n("post_attention_layernorm.weight"), {D}, true);
    add(n("mlp.gate_proj.weight"), {F, D}, false);
    add(n("mlp.up_proj.weight"), {F, D}, false);
    add(n("mlp.down_proj.weight"), {D, F}, false);
  }
  add("model.norm.weight", {D}, true);
  if (llvm::Error e = writeSafeTensors(joinPath(outDir, "model.safetensors"), tensors))
    return e;
  llvm::Error e = llvm::writeToOutput(joinPath(outDir, "config.json"), [&](llvm::raw_ostream &os) {
    os << "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": " << D
       << ", \"intermediate_size\": " << F << ", \"num_hidden_layers\": " << c.layers
       << ", \"num_attention_heads\": " << c.heads
       << ", \"num_key_value_heads\": " << c.kvHeads << ", \"vocab_size\": " << c.vocab
       << ", \"max_position_embeddings\": 1024, \"rms_norm_eps\": 1e-05, "
          "\"rope_theta\": 10000.0, \"tie_word_embeddings\": true, "
          "\"hidden_act\": \"silu\"}\n";
    return llvm::Error::success();
  });
  if (e)
    return e;
  // Byte-level: every UTF-8 character falls back to its bytes (ids 3..258).
  std::vector<std::string> pieces = {"<unk>", "<s>", "</s>"};
  static const char *hex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b)
    pieces.push_back(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");
  return writeLlama2cTokenizer(joinPath(outDir, "tokenizer.bin"), pieces);
}

} // namespace sqc
