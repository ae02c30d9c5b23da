//===- frontend/Opt.cpp - OPT (OPTForCausalLM) into the IR ----------------===//
//
// Pre-LN decoder: LayerNorm with bias, learned positions with OPT's offset of
// 2 (position p reads row p + 2), multi-head attention with biased
// projections and q scaled by head_dim^-0.5, ReLU MLP (fc1, fc2), final
// LayerNorm, head tied to the token embedding unless lm_head.weight exists.
//
//===----------------------------------------------------------------------===//
#include "frontend/Importers.h"

#include <cmath>

namespace sqc {

llvm::Expected<int64_t> importOpt(const HFModelFiles &f, Module &m) {
  ConfigReader r(f.config, f.configPath);
  int64_t D, L, H, F, V, P, proj;
  bool preLN, bias, affine;
  std::string act;
  if (auto e = r.get("hidden_size", D)) return e;
  if (auto e = r.get("num_hidden_layers", L)) return e;
  if (auto e = r.get("num_attention_heads", H)) return e;
  if (auto e = r.get("ffn_dim", F)) return e;
  if (auto e = r.get("vocab_size", V)) return e;
  if (auto e = r.get("max_position_embeddings", P, 2048)) return e;
  if (auto e = r.get("word_embed_proj_dim", proj, D)) return e;
  if (auto e = r.get("do_layer_norm_before", preLN, true)) return e;
  if (auto e = r.get("enable_bias", bias, true)) return e;
  if (auto e = r.get("layer_norm_elementwise_affine", affine, true)) return e;
  if (auto e = r.get("activation_function", act, std::string("relu"))) return e;
  if (!(D > 0 && L > 0 && H > 0 && F > 0 && V > 0 && P > 0) || D % H != 0)
    return r.error("sizes do not fit: hidden_size " + llvm::Twine(D) + ", " +
                   llvm::Twine(H) + " heads, ffn_dim " + llvm::Twine(F));
  if (proj != D)
    return r.error("word_embed_proj_dim != hidden_size (project_in/out, as in "
                   "OPT-350m) is not supported yet");
  if (!preLN)
    return r.error("post-LN OPT (do_layer_norm_before false) is not supported yet");
  if (!bias || !affine)
    return r.error("OPT without biases or LayerNorm affine is not supported yet");
  if (act != "relu")
    return r.error("activation_function must be \"relu\", got \"" + act + "\"");

  Graph &g = *m.addGraph(std::make_unique<Graph>("forward"));
  int64_t hs = D / H;
  DecoderInputs in = addDecoderArguments(g, L, H, hs);
  GraphWriter w(g);
  Dim seq = Dim::symbol("seq");
  auto f32 = [](llvm::ArrayRef<Dim> d) { return TensorType(DType::F32, d); };
  std::string pre = "model.decoder.";
  auto layerNorm = [&](Value *x, const std::string &tensor, const std::string &name) {
    return w.layerNorm(x, tensor, D, name);
  };


  Value *emb = w.weight(pre + "embed_tokens.weight", {V, D}, "embed_tokens");
  Value *posEmb = w.weight(pre + "embed_positions.weight", {P + 2, D}, "embed_positions");
  Value *two = w.op(OpKind::Constant, {}, "position_offset",
                    {{"value", DenseElements{{2.0}, true}}},
                    {TensorType(DType::I32, {})});
  Value *rows = w.op(OpKind::Add, {in.positions, two}, "position_rows");
  Value *x = w.op(OpKind::Add,
                  {w.op(OpKind::Gather, {emb, in.tokens}, "x.tokens"),
                   w.op(OpKind::Gather, {posEmb, rows}, "x.positions")},
                  "x.embed");
  Value *scale = w.scalar(1.0 / std::sqrt(double(hs)), "attn_scale");
  std::vector<Value *> newK, newV;
  for (int64_t l = 0; l < L; ++l) {
    std::string p = "l" + std::to_string(l) + ".";
    std::string t = pre + "layers." + std::to_string(l) + ".";
    Value *h = layerNorm(x, t + "self_attn_layer_norm", p + "attn_norm");
    Value *q = w.linear(h, t + "self_attn.q_proj", D, D, true, p + "q");
    Value *k = w.linear(h, t + "self_attn.k_proj", D, D, true, p + "k");
    Value *v = w.linear(h, t + "self_attn.v_proj", D, D, true, p + "v");
    Value *q3 = w.op(OpKind::Reshape, {q}, p + "q.heads", {}, {f32({seq, H, hs})});
    Value *k3 = w.op(OpKind::Reshape, {k}, p + "k.heads", {}, {f32({seq, H, hs})});
    Value *v3 = w.op(OpKind::Reshape, {v}, p + "v.heads", {}, {f32({seq, H, hs})});
    Value *att = attention(w, p, q3, k3, v3, in.pastK[l], in.pastV[l], scale, H,
                           H, hs, newK, newV);
    Value *o = w.linear(att, t + "self_attn.out_proj", D, D, true, p + "o");
    x = w.op(OpKind::Add, {x, o}, p + "x.attn");
    Value *fh = layerNorm(x, t + "final_layer_norm", p + "ffn_norm");
    Value *fc1 = w.linear(fh, t + "fc1", F, D, true, p + "fc1");
    Value *relu = w.op(OpKind::Relu, {fc1}, p + "fc1.relu");
    Value *fc2 = w.linear(relu, t + "fc2", D, F, true, p + "fc2");
    x = w.op(OpKind::Add, {x, fc2}, p + "x.ffn");
  }
  Value *fn = layerNorm(x, pre + "final_layer_norm", "final_norm");
  Value *head = f.weights.contains("lm_head.weight")
                    ? w.weight("lm_head.weight", {V, D}, "lm_head")
                    : emb;
  finishDecoder(w, w.op(OpKind::Linear, {fn, head}, "logits"), newK, newV);
  if (llvm::Error e = w.takeError())
    return e;
  return P;
}

} // namespace sqc
