//===- tools/sqc/InjectOutliers.cpp - LLM-like outliers in a small model --===//
//
// Large language models carry activation outliers in a few fixed channels,
// driven by large norm gains; small test models have none. This tool puts
// them in (see ../shared/data/README.md): per layer, three hidden channels of
// both norms, two channels of the gated MLP (up rows x c, down columns / c)
// and two V channels (v rows x c, o columns / c for every query head that
// reads that KV head).
//
//===----------------------------------------------------------------------===//
#include "tools/sqc/InjectOutliers.h"

#include "frontend/ImportSupport.h"
#include "frontend/Llama.h"
#include "runtime/SafeTensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

namespace sqc {

namespace {

} // namespace

llvm::Error injectOutliers(llvm::StringRef modelDir, llvm::StringRef outDir,
                           double gain) {
  std::string configPath = joinPath(modelDir, "config.json");
  auto config = readJsonFile(configPath);
  if (!config)
    return config.takeError();
  ConfigReader r(*config, configPath);
  int64_t D, F, L, H, KV;
  if (auto e = r.get("hidden_size", D)) return e;
  if (auto e = r.get("intermediate_size", F)) return e;
  if (auto e = r.get("num_hidden_layers", L)) return e;
  if (auto e = r.get("num_attention_heads", H)) return e;
  if (auto e = r.get("num_key_value_heads", KV, H)) return e;
  if (!(D > 8 && F > 8 && H > 0 && KV > 0 && D % H == 0 && H % KV == 0))
    return r.error("needs a LLaMA config with hidden_size and intermediate_size > 8");
  auto file = SafeTensorsFile::open(joinPath(modelDir, "model.safetensors"));
  if (!file)
    return file.takeError();
  // Every tensor as f32, editable.
  std::map<std::string, Tensor> w;
  for (const SafeTensorInfo &t : (*file)->tensors()) {
    auto loaded = (*file)->load(t.name, DType::F32);
    if (!loaded)
      return loaded.takeError();
    w[t.name] = std::move(*loaded);
  }
  auto need = [&](const std::string &name) -> llvm::Expected<Tensor *> {
    auto it = w.find(name);
    if (it == w.end())
      return importError((*file)->path() + ": no tensor '" + name + "'");
    return &it->second;
  };
  auto scaleRows = [](Tensor &t, int64_t row, double c) {
    int64_t cols = t.rank() == 2 ? t.shape()[1] : 1;
    for (int64_t j = 0; j < cols; ++j)
      t.floats()[row * cols + j] *= float(c);
  };
  auto scaleCol = [](Tensor &t, int64_t col, double c) {
    int64_t rows = t.shape()[0], cols = t.shape()[1];
    for (int64_t i = 0; i < rows; ++i)
      t.floats()[i * cols + col] *= float(c);
  };
  int64_t hs = D / H, G = H / KV;
  const int64_t normChannels[] = {3 % D, 17 % D, 42 % D};
  const int64_t ffnChannels[] = {5 % F, 77 % F};
  const int64_t vChannels[] = {1 % (KV * hs), 20 % (KV * hs)};
  for (int64_t l = 0; l < L; ++l) {
    auto n = [&](const char *what) { return llamaWeightName(what, l); };
    struct NormGroup { const char *norm; std::vector<const char *> readers; };
    for (const NormGroup &g :
         {NormGroup{"input_layernorm.weight",
                    {"self_attn.q_proj.weight", "self_attn.k_proj.weight",
                     "self_attn.v_proj.weight"}},
          NormGroup{"post_attention_layernorm.weight",
                    {"mlp.gate_proj.weight", "mlp.up_proj.weight"}}}) {
      auto gamma = need(n(g.norm));
      if (!gamma)
        return gamma.takeError();
      for (int64_t j : normChannels) {
        (*gamma)->floats()[j] *= float(gain);
        for (const char *reader : g.readers) {
          auto t = need(n(reader));
          if (!t)
            return t.takeError();
          scaleCol(**t, j, 1.0 / gain);
        }
      }
    }
    auto up = need(n("mlp.up_proj.weight")), down = need(n("mlp.down_proj.weight"));
    auto v = need(n("self_attn.v_proj.weight")), o = need(n("self_attn.o_proj.weight"));
    for (auto *t : {&up, &down, &v, &o})
      if (!*t)
        return t->takeError();
    for (int64_t j : ffnChannels) {
      scaleRows(**up, j, gain);
      scaleCol(**down, j, 1.0 / gain);
    }
    for (int64_t c : vChannels) {
      scaleRows(**v, c, gain);
      int64_t kv = c / hs, d = c % hs;
      for (int64_t g = 0; g < G; ++g)
        scaleCol(**o, (kv * G + g) * hs + d, 1.0 / gain);
    }
  }
  if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
    return importError(outDir + ": " + ec.message());
  std::vector<SafeTensorOut> out;
  for (auto &[name, t] : w)
    out.push_back({name, StDType::F32,
                   std::vector<int64_t>(t.shape().begin(), t.shape().end()),
                   f32Bytes(t.floats())});
  if (llvm::Error e = writeSafeTensors(joinPath(outDir, "model.safetensors"), out))
    return e;
  for (const char *f : {"config.json", "tokenizer.bin", "tokenizer.json", "vocab.json",
                        "merges.txt"})
    if (llvm::sys::fs::exists(joinPath(modelDir, f)))
      if (std::error_code ec = llvm::sys::fs::copy_file(joinPath(modelDir, f), joinPath(outDir, f)))
        return importError(joinPath(outDir, f) + ": " + ec.message());
  return llvm::Error::success();
}

} // namespace sqc
