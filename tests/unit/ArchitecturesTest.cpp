//===- tests/unit/ArchitecturesTest.cpp - Importers vs. independent references -===//
//
// No trained OPT or GPT-2 weights can be had here, so each test writes a
// small Hugging Face folder with random weights (a real safetensors file and
// config.json), imports it, runs it on the reference interpreter and compares
// the logits with tests/reference/, a plain C++ forward pass written
// separately from sqc's importers. Decoding token by token through the KV
// cache must give the same logits as the full prefill.
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"
#include "frontend/Model.h"
#include "frontend/Tokenizer.h"
#include "runtime/Executor.h"
#include "tests/reference/ReferenceModels.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

using namespace sqc;

namespace {

class FixtureFolder : public test::TempDir {
public:
  FixtureFolder() : TempDir("sqc-arch") { writeTokenizer(); }
  /// Random weights of the given shapes, written as model.safetensors and
  /// returned for the reference.
  ref::WeightMap weights(const std::map<std::string, std::vector<int64_t>> &shapes,
                         unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0, 0.3f);
    ref::WeightMap map;
    std::vector<SafeTensorOut> out;
    for (const auto &[name, shape] : shapes) {
      int64_t n = 1;
      for (int64_t d : shape)
        n *= d;
      std::vector<float> v(n);
      for (float &x : v)
        x = normal(rng);
      // LayerNorm gains near 1, as trained models have them.
      if (name.find("norm") != std::string::npos || name.find("ln_") != std::string::npos)
        if (name.ends_with(".weight"))
          for (float &x : v)
            x += 1.0f;
      map[name] = ref::RefTensor{shape, v};
      out.push_back({name, StDType::F32, shape, f32Bytes(v)});
    }
    EXPECT_FALSE(bool(writeSafeTensors(path("model.safetensors"), out)));
    return map;
  }

private:
  /// Any tokenizer will do: the tests feed token ids directly.
  void writeTokenizer() {
    EXPECT_FALSE(bool(writeLlama2cTokenizer(path("tokenizer.bin"), {"<unk>", "<s>", "</s>"})));
  }
};

/// Logits of `tokens` at positions start.., continuing `cache`.
Tensor run(LoadedModel &m, const std::vector<int32_t> &tokens, int32_t start,
           std::vector<Tensor> &cache) {
  auto out = runForward(m, tokens, start, cache);
  EXPECT_TRUE(bool(out)) << (out ? "" : llvm::toString(out.takeError()));
  return out ? std::move(*out) : Tensor();
}

void expectMatchesReference(LoadedModel &m, const std::vector<float> &expected,
                            const std::vector<int32_t> &tokens, int64_t vocab) {
  std::vector<Tensor> cache;
  Tensor logits = run(m, tokens, 0, cache);
  ASSERT_EQ(logits.numElements(), int64_t(expected.size()));
  double worst = 0;
  for (size_t i = 0; i < expected.size(); ++i)
    worst = std::max(worst, std::fabs(logits.get(i) - expected[i]) /
                                std::max(1.0, std::fabs(double(expected[i]))));
  EXPECT_LT(worst, 1e-5) << "largest relative difference from the reference";

  // Token by token through the KV cache: the same logits.
  std::vector<Tensor> stepCache;
  for (size_t t = 0; t < tokens.size(); ++t) {
    Tensor one = run(m, {tokens[t]}, int32_t(t), stepCache);
    for (int64_t j = 0; j < vocab; ++j)
      ASSERT_NEAR(one.get(j), logits.get(t * vocab + j), 1e-5) << "token " << t;
  }
}

const std::vector<int32_t> kTokens = {3, 17, 5, 29, 0, 11, 30, 7};

TEST(ArchitecturesTest, OptMatchesItsReference) {
  FixtureFolder f;
  const int64_t D = 16, L = 2, H = 4, F = 24, V = 32, P = 20;
  f.write("config.json", R"({"architectures": ["OPTForCausalLM"], "hidden_size": 16,
    "num_hidden_layers": 2, "num_attention_heads": 4, "ffn_dim": 24, "vocab_size": 32,
    "max_position_embeddings": 20, "do_layer_norm_before": true,
    "word_embed_proj_dim": 16, "activation_function": "relu"})");
  std::map<std::string, std::vector<int64_t>> shapes = {
      {"model.decoder.embed_tokens.weight", {V, D}},
      {"model.decoder.embed_positions.weight", {P + 2, D}},
      {"model.decoder.final_layer_norm.weight", {D}},
      {"model.decoder.final_layer_norm.bias", {D}}};
  for (int l = 0; l < L; ++l) {
    std::string p = "model.decoder.layers." + std::to_string(l) + ".";
    for (const char *n : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      shapes[p + "self_attn." + n + ".weight"] = {D, D};
      shapes[p + "self_attn." + n + ".bias"] = {D};
    }
    for (const char *n : {"self_attn_layer_norm", "final_layer_norm"}) {
      shapes[p + n + ".weight"] = {D};
      shapes[p + n + ".bias"] = {D};
    }
    shapes[p + "fc1.weight"] = {F, D};
    shapes[p + "fc1.bias"] = {F};
    shapes[p + "fc2.weight"] = {D, F};
    shapes[p + "fc2.bias"] = {D};
  }
  ref::WeightMap w = f.weights(shapes, 1);
  auto m = loadModel(f.dir());
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  std::vector<float> expected =
      ref::optForward(ref::OptConfig{D, L, H, F, V, P}, w, kTokens);
  expectMatchesReference(*m, expected, kTokens, V);
}

void gpt2Case(bool prefixed) {
  FixtureFolder f;
  const int64_t D = 16, L = 2, H = 2, V = 32, P = 24;
  f.write("config.json", R"({"architectures": ["GPT2LMHeadModel"], "n_embd": 16,
    "n_layer": 2, "n_head": 2, "vocab_size": 32, "n_positions": 24,
    "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"})");
  std::string pre = prefixed ? "transformer." : "";
  std::map<std::string, std::vector<int64_t>> shapes = {
      {pre + "wte.weight", {V, D}}, {pre + "wpe.weight", {P, D}},
      {pre + "ln_f.weight", {D}}, {pre + "ln_f.bias", {D}}};
  for (int l = 0; l < L; ++l) {
    std::string p = pre + "h." + std::to_string(l) + ".";
    for (const char *n : {"ln_1", "ln_2"}) {
      shapes[p + n + ".weight"] = {D};
      shapes[p + n + ".bias"] = {D};
    }
    shapes[p + "attn.c_attn.weight"] = {D, 3 * D};
    shapes[p + "attn.c_attn.bias"] = {3 * D};
    shapes[p + "attn.c_proj.weight"] = {D, D};
    shapes[p + "attn.c_proj.bias"] = {D};
    shapes[p + "mlp.c_fc.weight"] = {D, 4 * D};
    shapes[p + "mlp.c_fc.bias"] = {4 * D};
    shapes[p + "mlp.c_proj.weight"] = {4 * D, D};
    shapes[p + "mlp.c_proj.bias"] = {D};
  }
  ref::WeightMap w = f.weights(shapes, 2);
  // The reference reads the names of GPT2LMHeadModel.
  ref::WeightMap named;
  for (auto &[k, v] : w)
    named[prefixed ? k : "transformer." + k] = v;
  auto m = loadModel(f.dir());
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  std::vector<float> expected =
      ref::gpt2Forward(ref::Gpt2Config{D, L, H, V, P}, named, kTokens);
  expectMatchesReference(*m, expected, kTokens, V);
}

TEST(ArchitecturesTest, Gpt2MatchesItsReference) { gpt2Case(true); }
TEST(ArchitecturesTest, Gpt2WithoutTransformerPrefix) { gpt2Case(false); }

TEST(ArchitecturesTest, UnsupportedVariantsSayWhy) {
  FixtureFolder f;
  f.weights({{"x", {1}}}, 3);
  f.write("config.json", R"({"architectures": ["OPTForCausalLM"], "hidden_size": 16,
    "num_hidden_layers": 1, "num_attention_heads": 4, "ffn_dim": 8, "vocab_size": 8,
    "word_embed_proj_dim": 8})");
  auto m = loadModel(f.dir());
  ASSERT_FALSE(bool(m));
  EXPECT_NE(llvm::toString(m.takeError()).find("word_embed_proj_dim != hidden_size"),
            std::string::npos);
  f.write("config.json", R"({"architectures": ["GPT2LMHeadModel"], "n_embd": 16,
    "n_layer": 1, "n_head": 3, "vocab_size": 8})");
  auto m2 = loadModel(f.dir());
  ASSERT_FALSE(bool(m2));
  EXPECT_NE(llvm::toString(m2.takeError()).find("sizes do not fit"), std::string::npos);
}

} // namespace
