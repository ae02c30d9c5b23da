//===- frontend/Gpt2.cpp - GPT-2 (GPT2LMHeadModel) into the IR ------------===//
//
// Pre-LN decoder with learned positions. Its linears are Conv1D modules whose
// weights are stored [in, out]; the graph transposes them so every projection
// is an ordinary `linear` (what smoothing and quantization look for), and the
// fused c_attn output is sliced into q, k and v. GELU uses the tanh
// approximation; the head is tied to the token embedding.
//
//===----------------------------------------------------------------------===//
#include "frontend/Importers.h"

#include <cmath>

namespace sqc {

llvm::Expected<int64_t> importGpt2(const HFModelFiles &f, Module &m) {
  ConfigReader r(f.config, f.configPath);
  int64_t D, L, H, V, P, inner;
  double eps;
  std::string act;
  if (auto e = r.get("n_embd", D)) return e;
  if (auto e = r.get("n_layer", L)) return e;
  if (auto e = r.get("n_head", H)) return e;
  if (auto e = r.get("vocab_size", V)) return e;
  if (auto e = r.get("n_positions", P, 1024)) return e;
  if (auto e = r.get("n_inner", inner, 4 * D)) return e;
  if (auto e = r.get("layer_norm_epsilon", eps, 1e-5)) return e;
  if (auto e = r.get("activation_function", act, std::string("gelu_new"))) return e;
  if (!(D > 0 && L > 0 && H > 0 && V > 0 && P > 0 && inner > 0) || D % H != 0)
    return r.error("sizes do not fit: n_embd " + llvm::Twine(D) + ", " +
                   llvm::Twine(H) + " heads");
  if (act != "gelu_new" && act != "gelu_pytorch_tanh")
    return r.error("activation_function \"" + act + "\" is not supported "
                   "(gelu_new, gelu_pytorch_tanh)");
  // Checkpoints of GPT2LMHeadModel name tensors `transformer.*`; those saved
  // from GPT2Model have no prefix.
  std::string pre = f.weights.contains("transformer.wte.weight") ? "transformer." : "";

  Graph &g = *m.addGraph(std::make_unique<Graph>("forward"));
  int64_t hs = D / H;
  DecoderInputs in = addDecoderArguments(g, L, H, hs);
  GraphWriter w(g);
  Dim seq = Dim::symbol("seq");
  auto f32 = [](llvm::ArrayRef<Dim> d) { return TensorType(DType::F32, d); };
  auto layerNorm = [&](Value *x, const std::string &tensor, const std::string &name) {
    return w.layerNorm(x, tensor, D, name, eps);
  };

  // Conv1D: y = x W + b with W [in, out]; as a linear, W^T is [out, in].
  auto conv1d = [&](Value *x, const std::string &tensor, int64_t inF, int64_t outF,
                    const std::string &name) {
    Value *wt = w.weight(tensor + ".weight", {inF, outF}, name + ".weight.in_out");
    Value *wl = w.op(OpKind::Transpose, {wt}, name + ".weight",
                     {{"perm", std::vector<int64_t>{1, 0}}});
    return w.op(OpKind::Linear,
                {x, wl, w.weight(tensor + ".bias", {outF}, name + ".bias")}, name);
  };

  Value *wte = w.weight(pre + "wte.weight", {V, D}, "wte");
  Value *wpe = w.weight(pre + "wpe.weight", {P, D}, "wpe");
  Value *x = w.op(OpKind::Add,
                  {w.op(OpKind::Gather, {wte, in.tokens}, "x.tokens"),
                   w.op(OpKind::Gather, {wpe, in.positions}, "x.positions")},
                  "x.embed");
  Value *scale = w.scalar(1.0 / std::sqrt(double(hs)), "attn_scale");
  std::vector<Value *> newK, newV;
  for (int64_t l = 0; l < L; ++l) {
    std::string p = "l" + std::to_string(l) + ".";
    std::string t = pre + "h." + std::to_string(l) + ".";
    Value *h = layerNorm(x, t + "ln_1", p + "attn_norm");
    Value *qkv = conv1d(h, t + "attn.c_attn", D, 3 * D, p + "qkv");
    auto part = [&](int64_t i, const char *n) {
      Value *s = w.op(OpKind::Slice, {qkv}, p + n,
                      {{"axis", 1}, {"start", i * D}, {"end", (i + 1) * D}});
      return w.op(OpKind::Reshape, {s}, p + n + ".heads", {}, {f32({seq, H, hs})});
    };
    Value *q3 = part(0, "q"), *k3 = part(1, "k"), *v3 = part(2, "v");
    Value *att = attention(w, p, q3, k3, v3, in.pastK[l], in.pastV[l], scale, H,
                           H, hs, newK, newV);
    Value *o = conv1d(att, t + "attn.c_proj", D, D, p + "o");
    x = w.op(OpKind::Add, {x, o}, p + "x.attn");
    Value *fh = layerNorm(x, t + "ln_2", p + "ffn_norm");
    Value *fc = conv1d(fh, t + "mlp.c_fc", D, inner, p + "fc1");
    Value *gelu = w.op(OpKind::Gelu, {fc}, p + "fc1.gelu", {{"approximate", "tanh"}});
    Value *proj = conv1d(gelu, t + "mlp.c_proj", inner, D, p + "fc2");
    x = w.op(OpKind::Add, {x, proj}, p + "x.ffn");
  }
  Value *fn = layerNorm(x, pre + "ln_f", "final_norm");
  finishDecoder(w, w.op(OpKind::Linear, {fn, wte}, "logits"), newK, newV);
  if (llvm::Error e = w.takeError())
    return e;
  return P;
}

} // namespace sqc
