//===- frontend/Llama.cpp - LLaMA-family models into the IR ---------------===//
#include "frontend/Llama.h"

#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <set>

namespace sqc {

namespace {

llvm::Error fail(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

/// Builds ops in sequence, naming each result; keeps the first error.
class GraphWriter {
public:
  explicit GraphWriter(Graph &g) : b_(OpBuilder::atEnd(g)) {}

  Value *op(OpKind kind, std::vector<Value *> operands, llvm::StringRef name,
            std::vector<NamedAttr> attrs = {}, std::vector<TensorType> types = {}) {
    if (err_)
      return nullptr;
    auto v = b_.value(kind, operands, std::move(attrs), types);
    if (!v) {
      err_ = fail("building '" + name + "': " + llvm::toString(v.takeError()));
      return nullptr;
    }
    (*v)->setName(name.str());
    return *v;
  }
  Value *weight(llvm::StringRef name, llvm::ArrayRef<Dim> dims,
                llvm::StringRef valueName) {
    return op(OpKind::Weight, {}, valueName, {{"name", name.str()}},
              {TensorType(DType::F32, dims)});
  }
  llvm::Error takeError() { return err_ ? std::move(*err_) : llvm::Error::success(); }
  OpBuilder &builder() { return b_; }

private:
  OpBuilder b_;
  std::optional<llvm::Error> err_;
};

} // namespace

llvm::Error LlamaConfig::validate() const {
  auto positive = [](int64_t v) { return v > 0 && v <= (int64_t(1) << 24); };
  if (!positive(dim) || !positive(hidden) || !positive(layers) ||
      !positive(heads) || !positive(kvHeads) || !positive(vocab))
    return fail("sizes must be positive and plausible (dim " + llvm::Twine(dim) +
                ", hidden " + llvm::Twine(hidden) + ", layers " + llvm::Twine(layers) +
                ", heads " + llvm::Twine(heads) + ", kv heads " +
                llvm::Twine(kvHeads) + ", vocab " + llvm::Twine(vocab) + ")");
  if (dim % heads != 0)
    return fail("dim " + llvm::Twine(dim) + " is not a multiple of the " +
                llvm::Twine(heads) + " heads");
  if (heads % kvHeads != 0)
    return fail(llvm::Twine(heads) + " heads do not split into " +
                llvm::Twine(kvHeads) + " KV heads");
  if (headSize() % 2 != 0)
    return fail("head size " + llvm::Twine(headSize()) + " is odd; rotary needs pairs");
  if (!(eps > 0) || !(theta > 0))
    return fail("rms_norm_eps and rope_theta must be positive");
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
  auto g = std::make_unique<Graph>("forward");
  Dim seq = Dim::symbol("seq"), past = Dim::symbol("past"), ctx = Dim::symbol("ctx");
  int64_t D = c.dim, H = c.heads, KV = c.kvHeads, hs = c.headSize(), G = H / KV;
  Value *tokens = g->addArgument(TensorType(DType::I32, {seq}), "tokens");
  Value *pos = g->addArgument(TensorType(DType::I32, {seq}), "positions");
  std::vector<Value *> pastK, pastV;
  for (int64_t l = 0; l < c.layers; ++l) {
    pastK.push_back(g->addArgument(TensorType(DType::F32, {past, KV, hs}),
                                   "past_k." + std::to_string(l)));
    pastV.push_back(g->addArgument(TensorType(DType::F32, {past, KV, hs}),
                                   "past_v." + std::to_string(l)));
  }
  Graph &graph = *m.addGraph(std::move(g));
  GraphWriter w(graph);
  auto f32 = [](llvm::ArrayRef<Dim> d) { return TensorType(DType::F32, d); };

  Value *emb = w.weight("model.embed_tokens.weight", {c.vocab, D}, "embed_tokens");
  Value *x = w.op(OpKind::Gather, {emb, tokens}, "x.embed");
  Value *scale = w.op(OpKind::Constant, {}, "attn_scale",
                      {{"value", DenseElements{{double(float(1.0 / std::sqrt(double(hs))))}, true}}},
                      {f32({})});
  std::vector<NamedAttr> rope = {{"theta", c.theta}, {"style", c.ropeStyle}};
  std::vector<NamedAttr> eps = {{"eps", c.eps}};
  std::vector<Value *> newK, newV;
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "l" + std::to_string(l) + ".";
    auto wt = [&](llvm::StringRef what, llvm::ArrayRef<Dim> dims, llvm::StringRef n) {
      return w.weight(llamaWeightName(what, l), dims, p + n.str());
    };
    Value *h = w.op(OpKind::RmsNorm,
                    {x, wt("input_layernorm.weight", {D}, "attn_norm.weight")},
                    p + "attn_norm", eps);
    Value *q = w.op(OpKind::Linear, {h, wt("self_attn.q_proj.weight", {D, D}, "wq")}, p + "q");
    Value *k = w.op(OpKind::Linear, {h, wt("self_attn.k_proj.weight", {KV * hs, D}, "wk")}, p + "k");
    Value *v = w.op(OpKind::Linear, {h, wt("self_attn.v_proj.weight", {KV * hs, D}, "wv")}, p + "v");
    Value *q3 = w.op(OpKind::Reshape, {q}, p + "q.heads", {}, {f32({seq, H, hs})});
    Value *k3 = w.op(OpKind::Reshape, {k}, p + "k.heads", {}, {f32({seq, KV, hs})});
    Value *v3 = w.op(OpKind::Reshape, {v}, p + "v.heads", {}, {f32({seq, KV, hs})});
    Value *qr = w.op(OpKind::Rope, {q3, pos}, p + "q.rope", rope);
    Value *kr = w.op(OpKind::Rope, {k3, pos}, p + "k.rope", rope);
    Value *kc = w.op(OpKind::Concat, {pastK[l], kr}, p + "k.cache", {{"axis", 0}},
                     {f32({ctx, KV, hs})});
    Value *vc = w.op(OpKind::Concat, {pastV[l], v3}, p + "v.cache", {{"axis", 0}},
                     {f32({ctx, KV, hs})});
    newK.push_back(kc);
    newV.push_back(vc);
    // Grouped-query attention: query head h reads KV head h / G, so queries
    // are viewed as [seq, KV, G, hs] and keys/values broadcast over G.
    Value *qg = w.op(OpKind::Reshape, {qr}, p + "q.groups", {}, {f32({seq, KV, G, hs})});
    Value *kg = w.op(OpKind::Reshape, {kc}, p + "k.groups", {}, {f32({ctx, KV, 1, hs})});
    Value *vg = w.op(OpKind::Reshape, {vc}, p + "v.groups", {}, {f32({ctx, KV, 1, hs})});
    std::vector<NamedAttr> toHeads = {{"perm", std::vector<int64_t>{1, 2, 0, 3}}};
    Value *qt = w.op(OpKind::Transpose, {qg}, p + "q.t", toHeads);
    Value *kt = w.op(OpKind::Transpose, {kg}, p + "k.t", toHeads);
    Value *vt = w.op(OpKind::Transpose, {vg}, p + "v.t", toHeads);
    Value *s = w.op(OpKind::MatMul, {qt, kt}, p + "scores", {{"transpose_b", true}});
    Value *ss = w.op(OpKind::Mul, {s, scale}, p + "scores.scaled");
    Value *sm = w.op(OpKind::CausalMask, {ss}, p + "scores.masked");
    Value *pr = w.op(OpKind::Softmax, {sm}, p + "probs");
    Value *o = w.op(OpKind::MatMul, {pr, vt}, p + "attn.heads");
    Value *ot = w.op(OpKind::Transpose, {o}, p + "attn.t",
                     {{"perm", std::vector<int64_t>{2, 0, 1, 3}}});
    Value *of = w.op(OpKind::Reshape, {ot}, p + "attn.out", {}, {f32({seq, D})});
    Value *a = w.op(OpKind::Linear, {of, wt("self_attn.o_proj.weight", {D, D}, "wo")}, p + "o");
    x = w.op(OpKind::Add, {x, a}, p + "x.attn");
    Value *f = w.op(OpKind::RmsNorm,
                    {x, wt("post_attention_layernorm.weight", {D}, "ffn_norm.weight")},
                    p + "ffn_norm", eps);
    Value *gate = w.op(OpKind::Linear, {f, wt("mlp.gate_proj.weight", {c.hidden, D}, "w_gate")}, p + "gate");
    Value *up = w.op(OpKind::Linear, {f, wt("mlp.up_proj.weight", {c.hidden, D}, "w_up")}, p + "up");
    Value *act = w.op(OpKind::Silu, {gate}, p + "gate.silu");
    Value *gu = w.op(OpKind::Mul, {act, up}, p + "ffn.hidden");
    Value *down = w.op(OpKind::Linear, {gu, wt("mlp.down_proj.weight", {D, c.hidden}, "w_down")}, p + "down");
    x = w.op(OpKind::Add, {x, down}, p + "x.ffn");
  }
  Value *fn = w.op(OpKind::RmsNorm, {x, w.weight("model.norm.weight", {D}, "norm.weight")},
                   "final_norm", eps);
  Value *head = c.tiedEmbeddings ? emb : w.weight("lm_head.weight", {c.vocab, D}, "lm_head");
  Value *logits = w.op(OpKind::Linear, {fn, head}, "logits");
  if (llvm::Error e = w.takeError())
    return e;
  std::vector<Value *> results = {logits};
  for (int64_t l = 0; l < c.layers; ++l) {
    results.push_back(newK[l]);
    results.push_back(newV[l]);
  }
  std::vector<TensorType> types;
  for (Value *r : results)
    types.push_back(r->type());
  graph.setResultTypes(types);
  if (auto r = w.builder().create(OpKind::Return, results); !r)
    return r.takeError();
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Hugging Face folders
//===----------------------------------------------------------------------===//

namespace {

llvm::Expected<nlohmann::json> readJson(llvm::StringRef path) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf)
    return fail(path + ": " + buf.getError().message());
  nlohmann::json j = nlohmann::json::parse((*buf)->getBuffer().begin(),
                                           (*buf)->getBuffer().end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded())
    return fail(path + ": not valid JSON");
  if (!j.is_object())
    return fail(path + ": expected a JSON object");
  return j;
}

/// Reads an integer field; `fallback` < 0 means required.
llvm::Error readInt(const nlohmann::json &j, const char *key, int64_t &out,
                    llvm::StringRef file, int64_t fallback = -1) {
  if (!j.contains(key) || j[key].is_null()) {
    if (fallback < 0)
      return fail(file + ": missing \"" + key + "\"");
    out = fallback;
    return llvm::Error::success();
  }
  if (!j[key].is_number_integer())
    return fail(file + ": \"" + key + "\" must be an integer");
  out = j[key].get<int64_t>();
  return llvm::Error::success();
}

llvm::Error readFloat(const nlohmann::json &j, const char *key, double &out,
                      llvm::StringRef file) {
  if (!j.contains(key) || j[key].is_null())
    return llvm::Error::success(); // keep the default
  if (!j[key].is_number())
    return fail(file + ": \"" + key + "\" must be a number");
  out = j[key].get<double>();
  return llvm::Error::success();
}

llvm::Expected<LlamaConfig> readHFConfig(llvm::StringRef dir) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, "config.json");
  auto j = readJson(path);
  if (!j)
    return j.takeError();
  std::string arch = "?";
  if (j->contains("architectures") && (*j)["architectures"].is_array() &&
      !(*j)["architectures"].empty() && (*j)["architectures"][0].is_string())
    arch = (*j)["architectures"][0].get<std::string>();
  if (arch != "LlamaForCausalLM")
    return fail(path + ": unknown architecture '" + arch +
                "' (sqc imports LlamaForCausalLM)");
  LlamaConfig c;
  int64_t tied = 0;
  if (auto e = readInt(*j, "hidden_size", c.dim, path)) return e;
  if (auto e = readInt(*j, "intermediate_size", c.hidden, path)) return e;
  if (auto e = readInt(*j, "num_hidden_layers", c.layers, path)) return e;
  if (auto e = readInt(*j, "num_attention_heads", c.heads, path)) return e;
  if (auto e = readInt(*j, "num_key_value_heads", c.kvHeads, path, c.heads)) return e;
  if (auto e = readInt(*j, "vocab_size", c.vocab, path)) return e;
  if (auto e = readInt(*j, "max_position_embeddings", c.maxSeq, path, 2048)) return e;
  if (auto e = readFloat(*j, "rms_norm_eps", c.eps, path)) return e;
  if (auto e = readFloat(*j, "rope_theta", c.theta, path)) return e;
  if (j->contains("tie_word_embeddings") && (*j)["tie_word_embeddings"].is_boolean())
    tied = (*j)["tie_word_embeddings"].get<bool>();
  c.tiedEmbeddings = tied;
  if (j->contains("rope_scaling") && !(*j)["rope_scaling"].is_null())
    return fail(path + ": rope_scaling is not supported yet");
  if (j->contains("hidden_act") && (*j)["hidden_act"] != "silu")
    return fail(path + ": hidden_act must be \"silu\" for LLaMA");
  if (j->contains("attention_bias") && (*j)["attention_bias"] == true)
    return fail(path + ": attention_bias is not supported yet");
  c.ropeStyle = "half";
  if (llvm::Error e = c.validate())
    return fail(path + ": " + llvm::toString(std::move(e)));
  return c;
}

std::string absolute(llvm::StringRef path) {
  llvm::SmallString<256> p(path);
  llvm::sys::fs::make_absolute(p);
  llvm::sys::path::remove_dots(p, /*remove_dot_dot=*/true);
  return p.str().str();
}

llvm::Expected<std::unique_ptr<Tokenizer>> openTokenizer(llvm::StringRef path) {
  auto t = Llama2cTokenizer::load(path);
  if (!t)
    return t.takeError();
  return std::unique_ptr<Tokenizer>(std::move(*t));
}

/// Every weight op of the graph must find a tensor of its declared shape.
llvm::Error checkWeights(const Module &m, WeightStore &store) {
  for (const auto &g : m.graphs())
    for (const Op &op : g->ops()) {
      if (op.kind() != OpKind::Weight)
        continue;
      llvm::StringRef name = op.stringAttr("name");
      auto shape = store.shapeOf(name);
      if (!shape) {
        // Ask the store for its message, which names the file.
        auto t = store.get(name, op.result()->type());
        return t ? fail("missing tensor '" + name + "'") : t.takeError();
      }
      if (llvm::ArrayRef<int64_t>(*shape) != llvm::ArrayRef<int64_t>(op.result()->type().staticShape())) {
        auto t = store.get(name, op.result()->type());
        if (!t)
          return t.takeError();
      }
    }
  return llvm::Error::success();
}

llvm::Expected<LoadedModel> loadHF(llvm::StringRef dir, llvm::StringRef tokPath) {
  auto cfg = readHFConfig(dir);
  if (!cfg)
    return cfg.takeError();
  llvm::SmallString<256> weightsPath(dir), index(dir);
  llvm::sys::path::append(weightsPath, "model.safetensors");
  llvm::sys::path::append(index, "model.safetensors.index.json");
  if (llvm::sys::fs::exists(index))
    weightsPath = index;
  auto store = SafeTensorsWeights::open(weightsPath);
  if (!store)
    return store.takeError();
  if (!cfg->tiedEmbeddings && !(*store)->contains("lm_head.weight"))
    return fail(dir + ": config says tie_word_embeddings is false but there is "
                      "no 'lm_head.weight'");
  LoadedModel lm;
  lm.maxSeq = cfg->maxSeq;
  lm.description = "LlamaForCausalLM (Hugging Face folder " + dir.str() + ")";
  lm.module = std::make_unique<Module>();
  lm.module->setAttr("weights", absolute(weightsPath));
  if (llvm::Error e = buildLlamaGraph(*lm.module, *cfg))
    return e;
  if (llvm::Error e = checkWeights(*lm.module, **store))
    return e;
  lm.weights = std::move(*store);
  llvm::SmallString<256> tok(dir);
  llvm::sys::path::append(tok, "tokenizer.bin");
  std::string t = tokPath.empty() ? tok.str().str() : tokPath.str();
  if (!llvm::sys::fs::exists(t))
    return fail(dir + ": no tokenizer.bin (pass --tokenizer FILE)");
  auto tk = openTokenizer(t);
  if (!tk)
    return tk.takeError();
  lm.tokenizer = std::move(*tk);
  lm.module->setAttr("tokenizer", absolute(t));
  lm.module->setAttr("max_seq", lm.maxSeq);
  return lm;
}

//===----------------------------------------------------------------------===//
// llama2.c checkpoints
//===----------------------------------------------------------------------===//

llvm::Expected<LoadedModel> loadLlama2c(llvm::StringRef path, llvm::StringRef tokPath) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!buf)
    return fail(path + ": " + buf.getError().message());
  llvm::StringRef data = (*buf)->getBuffer();
  if (data.size() < 28)
    return fail(path + ": not a llama2.c checkpoint: shorter than its 28-byte header");
  int32_t h[7];
  std::memcpy(h, data.data(), 28);
  LlamaConfig c;
  c.dim = h[0]; c.hidden = h[1]; c.layers = h[2]; c.heads = h[3];
  c.kvHeads = h[4]; c.vocab = std::abs(int64_t(h[5])); c.maxSeq = h[6];
  c.tiedEmbeddings = h[5] > 0;
  c.ropeStyle = "interleaved";
  if (llvm::Error e = c.validate())
    return fail(path + ": header: " + llvm::toString(std::move(e)));
  if (c.maxSeq <= 0 || c.maxSeq > (1 << 24))
    return fail(path + ": header: seq_len " + llvm::Twine(c.maxSeq) + " is not plausible");
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
    return fail(path + ": " + llvm::Twine(data.size()) + " bytes, but a checkpoint "
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
  std::string t = tokPath.str();
  if (t.empty()) {
    // llama2.c keeps its tokenizer beside the model under a few names.
    llvm::SmallString<256> dir = llvm::sys::path::parent_path(path);
    for (const char *name : {"tokenizer.bin", "tok512.bin"}) {
      llvm::SmallString<256> cand(dir);
      llvm::sys::path::append(cand, name);
      if (llvm::sys::fs::exists(cand)) {
        t = cand.str().str();
        break;
      }
    }
    if (t.empty())
      return fail(path + ": a llama2.c checkpoint brings no tokenizer; pass "
                         "--tokenizer FILE");
  }
  auto tk = openTokenizer(t);
  if (!tk)
    return tk.takeError();
  lm.tokenizer = std::move(*tk);
  lm.module->setAttr("tokenizer", absolute(t));
  lm.module->setAttr("max_seq", lm.maxSeq);
  return lm;
}

//===----------------------------------------------------------------------===//
// Modules written by sqc
//===----------------------------------------------------------------------===//

/// A path from a module attribute: absolute, or relative to the module file.
std::string resolveBeside(llvm::StringRef modulePath, llvm::StringRef p) {
  if (llvm::sys::path::is_absolute(p))
    return p.str();
  llvm::SmallString<256> r = llvm::sys::path::parent_path(modulePath);
  llvm::sys::path::append(r, p);
  return r.str().str();
}

llvm::Expected<LoadedModel> loadSqir(llvm::StringRef path, llvm::StringRef tokPath) {
  std::string diagText;
  llvm::raw_string_ostream os(diagText);
  DiagnosticEngine diag(os);
  LoadedModel lm;
  lm.module = parseFile(path, diag);
  if (!lm.module || failed(verify(*lm.module, diag)))
    return fail(llvm::StringRef(diagText).rtrim());
  const Graph *g = lm.module->lookupGraph("forward");
  if (!g || g->numArguments() < 2 || g->resultTypes().empty() ||
      g->numArguments() != g->resultTypes().size() + 1)
    return fail(path + ": needs graph @forward(%tokens, %positions, caches...) "
                       "-> (logits, caches...)");
  lm.description = "sqc module " + path.str();
  const Attribute *maxSeq = lm.module->attr("max_seq");
  lm.maxSeq = maxSeq && maxSeq->kind() == AttrKind::Int ? maxSeq->getInt() : 2048;
  const Attribute *w = lm.module->attr("weights");
  if (w && w->kind() == AttrKind::String) {
    auto store = SafeTensorsWeights::open(resolveBeside(path, w->getString()));
    if (!store)
      return store.takeError();
    if (llvm::Error e = checkWeights(*lm.module, **store))
      return e;
    lm.weights = std::move(*store);
  }
  std::string t = tokPath.str();
  if (const Attribute *ta = lm.module->attr("tokenizer");
      t.empty() && ta && ta->kind() == AttrKind::String)
    t = resolveBeside(path, ta->getString());
  if (t.empty())
    return fail(path + ": the module names no tokenizer; pass --tokenizer FILE");
  auto tk = openTokenizer(t);
  if (!tk)
    return tk.takeError();
  lm.tokenizer = std::move(*tk);
  return lm;
}

} // namespace

llvm::Error writeModel(const LoadedModel &m, llvm::StringRef path) {
  if (auto *mem = dynamic_cast<const InMemoryWeights *>(m.weights.get())) {
    llvm::SmallString<256> st(path);
    llvm::sys::path::replace_extension(st, "safetensors");
    if (llvm::Error e = mem->writeTo(st))
      return e;
    m.module->setAttr("weights", llvm::sys::path::filename(st).str());
  }
  return llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
    printModule(*m.module, os);
    return llvm::Error::success();
  });
}

llvm::Expected<LoadedModel> loadModel(llvm::StringRef path,
                                      llvm::StringRef tokenizerPath) {
  if (llvm::sys::fs::is_directory(path)) {
    llvm::SmallString<256> cfg(path);
    llvm::sys::path::append(cfg, "config.json");
    if (!llvm::sys::fs::exists(cfg))
      return fail(path + ": not a model folder (no config.json)");
    return loadHF(path, tokenizerPath);
  }
  if (!llvm::sys::fs::exists(path))
    return fail(path + ": no such file or folder");
  if (path.ends_with(".sqir"))
    return loadSqir(path, tokenizerPath);
  return loadLlama2c(path, tokenizerPath);
}

} // namespace sqc
