//===- frontend/ImportSupport.cpp - What the model importers share --------===//
#include "frontend/ImportSupport.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

namespace sqc {

llvm::Error importError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

Value *GraphWriter::op(OpKind kind, std::vector<Value *> operands,
                       llvm::StringRef name, std::vector<NamedAttr> attrs,
                       std::vector<TensorType> types) {
  if (err_)
    return nullptr;
  auto v = b_.value(kind, operands, std::move(attrs), types);
  if (!v) {
    err_ = importError("building '" + name + "': " + llvm::toString(v.takeError()));
    return nullptr;
  }
  (*v)->setName(name.str());
  return *v;
}

Value *GraphWriter::weight(llvm::StringRef tensor, llvm::ArrayRef<Dim> dims,
                           llvm::StringRef valueName) {
  return op(OpKind::Weight, {}, valueName, {{"name", tensor.str()}},
            {TensorType(DType::F32, dims)});
}

Value *GraphWriter::scalar(double v, llvm::StringRef name) {
  return op(OpKind::Constant, {}, name,
            {{"value", DenseElements{{double(float(v))}, true}}},
            {TensorType(DType::F32, {})});
}

Value *GraphWriter::linear(Value *x, llvm::StringRef prefix, int64_t out,
                           int64_t in, bool bias, llvm::StringRef name) {
  std::vector<Value *> operands = {
      x, weight(prefix.str() + ".weight", {out, in}, name.str() + ".weight")};
  if (bias)
    operands.push_back(weight(prefix.str() + ".bias", {out}, name.str() + ".bias"));
  return op(OpKind::Linear, operands, name);
}

Value *GraphWriter::layerNorm(Value *x, llvm::StringRef tensor, int64_t dim,
                              llvm::StringRef name, std::optional<double> eps) {
  std::vector<NamedAttr> attrs;
  if (eps)
    attrs.push_back({"eps", *eps});
  return op(OpKind::LayerNorm,
            {x, weight(tensor.str() + ".weight", {dim}, name.str() + ".weight"),
             weight(tensor.str() + ".bias", {dim}, name.str() + ".bias")},
            name, attrs);
}

void GraphWriter::finish(llvm::ArrayRef<Value *> results) {
  if (err_)
    return;
  std::vector<TensorType> types;
  for (Value *r : results)
    types.push_back(r->type());
  g_.setResultTypes(types);
  if (auto r = b_.create(OpKind::Return, results); !r)
    err_ = r.takeError();
}

DecoderInputs addDecoderArguments(Graph &g, int64_t layers, int64_t kvHeads,
                                  int64_t headSize) {
  Dim seq = Dim::symbol("seq"), past = Dim::symbol("past");
  DecoderInputs in;
  in.tokens = g.addArgument(TensorType(DType::I32, {seq}), "tokens");
  in.positions = g.addArgument(TensorType(DType::I32, {seq}), "positions");
  for (int64_t l = 0; l < layers; ++l) {
    TensorType cache(DType::F32, {past, kvHeads, headSize});
    in.pastK.push_back(g.addArgument(cache, "past_k." + std::to_string(l)));
    in.pastV.push_back(g.addArgument(cache, "past_v." + std::to_string(l)));
  }
  return in;
}

Value *attention(GraphWriter &w, llvm::StringRef prefix, Value *q, Value *k,
                 Value *v, Value *pastK, Value *pastV, Value *scale,
                 int64_t H, int64_t KV, int64_t hs, std::vector<Value *> &newK,
                 std::vector<Value *> &newV) {
  std::string p = prefix.str();
  Dim seq = Dim::symbol("seq"), ctx = Dim::symbol("ctx");
  int64_t G = H / KV;
  auto f32 = [](llvm::ArrayRef<Dim> d) { return TensorType(DType::F32, d); };
  Value *kc = w.op(OpKind::Concat, {pastK, k}, p + "k.cache", {{"axis", 0}},
                   {f32({ctx, KV, hs})});
  Value *vc = w.op(OpKind::Concat, {pastV, v}, p + "v.cache", {{"axis", 0}},
                   {f32({ctx, KV, hs})});
  newK.push_back(kc);
  newV.push_back(vc);
  // Queries are viewed as [seq, KV, G, hs]; keys and values broadcast over G.
  Value *qg = w.op(OpKind::Reshape, {q}, p + "q.groups", {}, {f32({seq, KV, G, hs})});
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
  return w.op(OpKind::Reshape, {ot}, p + "attn.out", {}, {f32({seq, H * hs})});
}

void finishDecoder(GraphWriter &w, Value *logits, const std::vector<Value *> &newK,
                   const std::vector<Value *> &newV) {
  std::vector<Value *> results = {logits};
  for (size_t l = 0; l < newK.size() && l < newV.size(); ++l) {
    results.push_back(newK[l]);
    results.push_back(newV[l]);
  }
  w.finish(results);
}

std::string joinPath(llvm::StringRef dir, llvm::StringRef name) {
  llvm::SmallString<256> p(dir);
  llvm::sys::path::append(p, name);
  return p.str().str();
}

llvm::Expected<nlohmann::json> readJsonFile(llvm::StringRef path) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf)
    return importError(path + ": " + buf.getError().message());
  nlohmann::json j = nlohmann::json::parse((*buf)->getBuffer().begin(),
                                           (*buf)->getBuffer().end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded())
    return importError(path + ": not valid JSON");
  if (!j.is_object())
    return importError(path + ": expected a JSON object");
  return j;
}

namespace {
template <typename T, typename Check>
llvm::Error readKey(const nlohmann::json &j, const std::string &file,
                    const char *key, T &out, const std::optional<T> &fallback,
                    Check isKind, const char *kindName) {
  if (!j.contains(key) || j[key].is_null()) {
    if (!fallback)
      return importError(file + ": missing \"" + key + "\"");
    out = *fallback;
    return llvm::Error::success();
  }
  if (!isKind(j[key]))
    return importError(file + ": \"" + key + "\" must be " + kindName);
  out = j[key].template get<T>();
  return llvm::Error::success();
}
} // namespace

llvm::Error ConfigReader::get(const char *key, int64_t &out,
                              std::optional<int64_t> fallback) {
  return readKey(j_, file_, key, out, fallback,
                 [](const nlohmann::json &v) { return v.is_number_integer(); },
                 "an integer");
}
llvm::Error ConfigReader::get(const char *key, double &out,
                              std::optional<double> fallback) {
  return readKey(j_, file_, key, out, fallback,
                 [](const nlohmann::json &v) { return v.is_number(); }, "a number");
}
llvm::Error ConfigReader::get(const char *key, bool &out,
                              std::optional<bool> fallback) {
  return readKey(j_, file_, key, out, fallback,
                 [](const nlohmann::json &v) { return v.is_boolean(); },
                 "true or false");
}
llvm::Error ConfigReader::get(const char *key, std::string &out,
                              std::optional<std::string> fallback) {
  return readKey(j_, file_, key, out, fallback,
                 [](const nlohmann::json &v) { return v.is_string(); }, "a string");
}

llvm::Error checkWeights(const Module &m, WeightStore &store) {
  for (const auto &g : m.graphs())
    for (const Op &op : g->ops())
      if (op.kind() == OpKind::Weight) {
        // Compare shapes without loading; on a mismatch get() loads and
        // returns the message that names the file and the tensor.
        llvm::StringRef name = op.stringAttr("name");
        auto shape = store.shapeOf(name);
        const TensorType &type = op.result()->type();
        if (!shape || *shape != storedShape(type.dtype(), type.staticShape())) {
          auto t = store.get(name, op.result()->type());
          if (!t)
            return t.takeError();
        }
      }
  return llvm::Error::success();
}

} // namespace sqc
