//===- frontend/Llama.cpp - LLaMA-family models into the IR ---------------===//
//
// Hugging Face LlamaForCausalLM folders and llama2.c checkpoints: RMSNorm,
// rotary positions (rotate-half or interleaved pairs), grouped-query
// attention, SwiGLU, tied or untied head.
//
//===----------------------------------------------------------------------===//
#include "frontend/Llama.h"

#include "frontend/Importers.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <cstring>

namespace sqc {

llvm::Error LlamaConfig::validate() const {
  auto positive = [](int64_t v) { return v > 0 && v <= (int64_t(1) << 24); };
  if (!positive(dim) || !positive(hidden) || !positive(layers) ||
      !positive(heads) || !positive(kvHeads) || !positive(vocab))
    return importError("sizes must be positive and plausible (dim " + llvm::Twine(dim) +
                       ", hidden " + llvm::Twine(hidden) + ", layers " +
                       llvm::Twine(layers) + ", heads " + llvm::Twine(heads) +
                       ", kv heads " + llvm::Twine(kvHeads) + ", vocab " +
                       llvm::Twine(vocab) + ")");
  if (dim % heads != 0)
    return importError("dim " + llvm::Twine(dim) + " is not a multiple of the " +
                       llvm::Twine(heads) + " heads");
  if (heads % kvHeads != 0)
    return importError(llvm::Twine(heads) + " heads do not split into " +
                       llvm::Twine(kvHeads) + " KV heads");
  if (headSize() % 2 != 0)
    return importError("head size " + llvm::Twine(headSize()) +
                       " is odd; rotary needs pairs");
  if (!(eps > 0) || !(theta > 0))
    return importError("rms_norm_eps and rope_theta must be positive");
  return llvm::Error::success();
}

std::string llamaWeightName(llvm::StringRef what, int64_t layer) {
  if (layer < 0)
    return what.str();
  return "model.layers." + std::to_string(layer) + "." + what.str();
}

llvm::Error buildLlamaGraph(Module &m, const LlamaConfig &c) {
  if (llvm::Error e = c.validate())
    return e;
  Graph &g = *m.addGraph(std::make_unique<Graph>("forward"));
  int64_t D = c.dim, H = c.heads, KV = c.kvHeads, hs = c.headSize();
  DecoderInputs in = addDecoderArguments(g, c.layers, KV, hs);
  GraphWriter w(g);
  Dim seq = Dim::symbol("seq");
  auto f32 = [](llvm::ArrayRef<Dim> d) { return TensorType(DType::F32, d); };

  Value *emb = w.weight("model.embed_tokens.weight", {c.vocab, D}, "embed_tokens");
  Value *x = w.op(OpKind::Gather, {emb, in.tokens}, "x.embed");
  Value *scale = w.scalar(1.0 / std::sqrt(double(hs)), "attn_scale");
  std::vector<NamedAttr> rope = {{"theta", c.theta}, {"style", c.ropeStyle}};
  std::vector<NamedAttr> eps = {{"eps", c.eps}};
  std::vector<Value *> newK, newV;
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "l" + std::to_string(l) + ".";
    auto name = [&](llvm::StringRef what) { return llamaWeightName(what, l); };
    Value *h = w.op(OpKind::RmsNorm,
                    {x, w.weight(name("input_layernorm.weight"), {D}, p + "attn_norm.weight")},
                    p + "attn_norm", eps);
    Value *q = w.linear(h, name("self_attn.q_proj"), D, D, false, p + "q");
    Value *k = w.linear(h, name("self_attn.k_proj"), KV * hs, D, false, p + "k");
    Value *v = w.linear(h, name("self_attn.v_proj"), KV * hs, D, false, p + "v");
    Value *q3 = w.op(OpKind::Reshape, {q}, p + "q.heads", {}, {f32({seq, H, hs})});
    Value *k3 = w.op(OpKind::Reshape, {k}, p + "k.heads", {}, {f32({seq, KV, hs})});
    Value *v3 = w.op(OpKind::Reshape, {v}, p + "v.heads", {}, {f32({seq, KV, hs})});
    Value *qr = w.op(OpKind::Rope, {q3, in.positions}, p + "q.rope", rope);
    Value *kr = w.op(OpKind::Rope, {k3, in.positions}, p + "k.rope", rope);
    Value *att = attention(w, p, qr, kr, v3, in.pastK[l], in.pastV[l], scale, H,
                           KV, hs, newK, newV);
    Value *o = w.linear(att, name("self_attn.o_proj"), D, D, false, p + "o");
    x = w.op(OpKind::Add, {x, o}, p + "x.attn");
    Value *f = w.op(OpKind::RmsNorm,
                    {x, w.weight(name("post_attention_layernorm.weight"), {D},
                                 p + "ffn_norm.weight")},
                    p + "ffn_norm", eps);
    Value *gate = w.linear(f, name("mlp.gate_proj"), c.hidden, D, false, p + "gate");
    Value *up = w.linear(f, name("mlp.up_proj"), c.hidden, D, false, p + "up");
    Value *act = w.op(OpKind::Silu, {gate}, p + "gate.silu");
    Value *gu = w.op(OpKind::Mul, {act, up}, p + "ffn.hidden");
    Value *down = w.linear(gu, name("mlp.down_proj"), D, c.hidden, false, p + "down");
    x = w.op(OpKind::Add, {x, down}, p + "x.ffn");
  }
  Value *fn = w.op(OpKind::RmsNorm, {x, w.weight("model.norm.weight", {D}, "norm.weight")},
                   "final_norm", eps);
  Value *head = c.tiedEmbeddings ? emb : w.weight("lm_head.weight", {c.vocab, D}, "lm_head");
  finishDecoder(w, w.op(OpKind::Linear, {fn, head}, "logits"), newK, newV);
  return w.takeError();
}

llvm::Expected<int64_t> importLlama(const HFModelFiles &f, Module &m) {
  ConfigReader r(f.config, f.configPath);
  LlamaConfig c;
  if (auto e = r.get("hidden_size", c.dim)) return e;
  if (auto e = r.get("intermediate_size", c.hidden)) return e;
  if (auto e = r.get("num_hidden_layers", c.layers)) return e;
  if (auto e = r.get("num_attention_heads", c.heads)) return e;
  if (auto e = r.get("num_key_value_heads", c.kvHeads, c.heads)) return e;
  if (auto e = r.get("vocab_size", c.vocab)) return e;
  if (auto e = r.get("max_position_embeddings", c.maxSeq, 2048)) return e;
  if (auto e = r.get("rms_norm_eps", c.eps, 1e-6)) return e;
  if (auto e = r.get("rope_theta", c.theta, 10000.0)) return e;
  // Hugging Face's LlamaConfig does not tie by default.
  if (auto e = r.get("tie_word_embeddings", c.tiedEmbeddings, false)) return e;
  std::string act;
  if (auto e = r.get("hidden_act", act, std::string("silu"))) return e;
  if (act != "silu")
    return r.error("hidden_act must be \"silu\" for LLaMA, got \"" + act + "\"");
  bool bias = false;
  if (auto e = r.get("attention_bias", bias, false)) return e;
  if (bias)
    return r.error("attention_bias is not supported yet");
  if (f.config.contains("rope_scaling") && !f.config["rope_scaling"].is_null())
    return r.error("rope_scaling is not supported yet");
  if (!c.tiedEmbeddings && !f.weights.contains("lm_head.weight"))
    return r.error("tie_word_embeddings is false but the weights have no "
                   "'lm_head.weight'");
  c.ropeStyle = "half";
  if (llvm::Error e = c.validate())
    return r.error(llvm::toString(std::move(e)));
  if (llvm::Error e = buildLlamaGraph(m, c))
    return e;
  return c.maxSeq;
}

//===----------------------------------------------------------------------===//
// llama2.c checkpoints
//===----------------------------------------------------------------------===//

llvm::Expected<LoadedModel> loadLlama2cCheckpoint(llvm::StringRef path) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!buf)
    return importError(path + ": " + buf.getError().message());
  llvm::StringRef data = (*buf)->getBuffer();
  if (data.size() < 28)
    return importError(path + ": not a llama2.c checkpoint: shorter than its 28-byte header");
  int32_t h[7];
  std::memcpy(h, data.data(), 28);
  LlamaConfig c;
  c.dim = h[0]; c.hidden = h[1]; c.layers = h[2]; c.heads = h[3];
  c.kvHeads = h[4]; c.vocab = std::abs(int64_t(h[5])); c.maxSeq = h[6];
  c.tiedEmbeddings = h[5] > 0;
  c.ropeStyle = "interleaved";
  if (llvm::Error e = c.validate())
    return importError(path + ": header: " + llvm::toString(std::move(e)));
  if (c.maxSeq <= 0 || c.maxSeq > (1 << 24))
    return importError(path + ": header: seq_len " + llvm::Twine(c.maxSeq) + " is not plausible");
  int64_t D = c.dim, L = c.layers, KVD = c.kvHeads * c.headSize(), F = c.hidden,
          V = c.vocab, hs = c.headSize();
  // Tensors in file order: name, per-layer?, rows, cols.
  struct Part { const char *name; bool perLayer; int64_t rows, cols; };
  std::vector<Part> parts = {
      {"model.embed_tokens.weight", false, V, D},
      {"input_layernorm.weight", true, 1, D},
      {"self_attn.q_proj.weight", true, D, D},
      {"self_attn.k_proj.weight", true, KVD, D},
      {"self_attn.v_proj.weight", true, KVD, D},
      {"self_attn.o_proj.weight", true, D, D},
      {"post_attention_layernorm.weight", true, 1, D},
      {"mlp.gate_proj.weight", true, F, D},
      {"mlp.down_proj.weight", true, D, F},
      {"mlp.up_proj.weight", true, F, D},
      {"model.norm.weight", false, 1, D},
      {nullptr, false, c.maxSeq, hs / 2}, // freq_cis_real (unused)
      {nullptr, false, c.maxSeq, hs / 2}, // freq_cis_imag (unused)
  };
  if (!c.tiedEmbeddings)
    parts.push_back({"lm_head.weight", false, V, D});
  uint64_t floats = 0;
  for (const Part &p : parts)
    floats += uint64_t(p.perLayer ? L : 1) * p.rows * p.cols;
  if (data.size() - 28 != floats * 4)
    return importError(path + ": " + llvm::Twine(data.size()) + " bytes, but a checkpoint "
                "with this header needs " + llvm::Twine(28 + floats * 4));
  auto store = std::make_unique<InMemoryWeights>(path.str());
  const char *p = data.data() + 28;
  for (const Part &part : parts) {
    for (int64_t l = 0; l < (part.perLayer ? L : 1); ++l) {
      int64_t n = part.rows * part.cols;
      if (part.name) {
        // Norm gains are vectors; everything else is a matrix.
        llvm::SmallVector<int64_t, 2> shape;
        if (part.rows == 1)
          shape = {part.cols};
        else
          shape = {part.rows, part.cols};
        Tensor t(DType::F32, shape);
        std::memcpy(t.floats().data(), p, n * 4);
        store->add(part.perLayer ? llamaWeightName(part.name, l) : part.name,
                   std::move(t));
      }
      p += n * 4;
    }
  }
  LoadedModel lm;
  lm.maxSeq = c.maxSeq;
  lm.description = "llama2.c checkpoint " + path.str();
  lm.module = std::make_unique<Module>();
  if (llvm::Error e = buildLlamaGraph(*lm.module, c))
    return e;
  lm.weights = std::move(store);
  return lm;
}

} // namespace sqc
