//===- tests/unit/ModelLoadTest.cpp - Loading models, good and bad --------===//
//
// Writes small model folders (real safetensors files, random weights) and
// checks that loading works, and that every kind of broken input gives an
// error naming the file (and the tensor), never a crash.
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"
#include "frontend/Llama.h"
#include "frontend/Model.h"
#include "frontend/Tokenizer.h"
#include "runtime/SafeTensors.h"
#include "ir/Verifier.h"
#include "runtime/Executor.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <random>

#include <gtest/gtest.h>

using namespace sqc;

namespace {

const char *kConfig = R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 8,
  "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 2,
  "num_key_value_heads": 1, "vocab_size": 16, "rms_norm_eps": 1e-5,
  "tie_word_embeddings": true})";

class ModelLoadTest : public ::testing::Test, protected test::TempDir {
protected:
  ModelLoadTest() : TempDir("sqc-model") {}
  void SetUp() override {
    write("config.json", kConfig);
    writeTokenizer();
    writeWeights({});
  }
  /// A tokenizer with <unk>, BOS, EOS and 13 single letters.
  void writeTokenizer() {
    ASSERT_FALSE(bool(writeLlama2cTokenizer(
        path("tokenizer.bin"), {"<unk>", "<s>", "</s>", " ", "a", "b", "c", "d", "e",
                                "f", "g", "h", "i", "j", "k", " a"})));
  }
  /// Writes every tensor the config needs; `override` replaces shapes.
  void writeWeights(std::map<std::string, std::vector<int64_t>> override,
                    llvm::StringRef skip = "") {
    std::map<std::string, std::vector<int64_t>> shapes = {
        {"model.embed_tokens.weight", {16, 8}}, {"model.norm.weight", {8}}};
    for (int l = 0; l < 2; ++l) {
      auto n = [&](const char *w) { return llamaWeightName(w, l); };
      shapes[n("input_layernorm.weight")] = {8};
      shapes[n("post_attention_layernorm.weight")] = {8};
      shapes[n("self_attn.q_proj.weight")] = {8, 8};
      shapes[n("self_attn.k_proj.weight")] = {4, 8};
      shapes[n("self_attn.v_proj.weight")] = {4, 8};
      shapes[n("self_attn.o_proj.weight")] = {8, 8};
      shapes[n("mlp.gate_proj.weight")] = {12, 8};
      shapes[n("mlp.up_proj.weight")] = {12, 8};
      shapes[n("mlp.down_proj.weight")] = {8, 12};
    }
    for (auto &[k, v] : override)
      shapes[k] = v;
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0, 0.5f);
    std::vector<SafeTensorOut> out;
    for (auto &[name, shape] : shapes) {
      if (name == skip)
        continue;
      int64_t n = 1;
      for (int64_t d : shape)
        n *= d;
      std::vector<float> v(n);
      for (float &x : v)
        x = normal(rng);
      out.push_back({name, StDType::F32, shape, f32Bytes(v)});
    }
    ASSERT_FALSE(bool(writeSafeTensors(path("model.safetensors"), out)));
  }
  std::string loadError() {
    auto m = loadModel(dir());
    return m ? "" : llvm::toString(m.takeError());
  }

};

TEST_F(ModelLoadTest, LoadsAndRunsPrefillThenDecode) {
  auto m = loadModel(dir());
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  DiagnosticEngine diag;
  EXPECT_TRUE(succeeded(verify(*m->module, diag)));
  // Prefill three tokens at once, or one at a time through the KV cache:
  // the last logits must agree.
  auto run = [&](std::vector<int32_t> toks, int32_t start, std::vector<Tensor> &cache) {
    return cantFail(runForward(*m, toks, start, cache));
  };
  std::vector<Tensor> c1, c2;
  Tensor all = run({1, 4, 5}, 0, c1);
  run({1}, 0, c2);
  run({4}, 1, c2);
  Tensor last = run({5}, 2, c2);
  ASSERT_EQ(c2[0].shape()[0], 3);
  for (int j = 0; j < 16; ++j)
    EXPECT_NEAR(all.get(2 * 16 + j), last.get(j), 1e-5) << j;
}

TEST_F(ModelLoadTest, UnknownArchitecture) {
  write("config.json", R"({"architectures": ["MambaForCausalLM"]})");
  EXPECT_NE(loadError().find("config.json: unknown architecture 'MambaForCausalLM'"),
            std::string::npos);
}

TEST_F(ModelLoadTest, MalformedJson) {
  write("config.json", R"({"architectures": ["LlamaForCausalLM"], )");
  EXPECT_NE(loadError().find("config.json: not valid JSON"), std::string::npos);
}

TEST_F(ModelLoadTest, MissingField) {
  write("config.json", R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 8})");
  EXPECT_NE(loadError().find("missing \"intermediate_size\""), std::string::npos);
}

TEST_F(ModelLoadTest, InconsistentSizes) {
  std::string cfg = kConfig;
  cfg.replace(cfg.find("\"num_attention_heads\": 2"), 24, "\"num_attention_heads\": 3");
  write("config.json", cfg);
  EXPECT_NE(loadError().find("dim 8 is not a multiple of the 3 heads"),
            std::string::npos);
}

TEST_F(ModelLoadTest, MissingTensorNamesFileAndTensor) {
  writeWeights({}, "model.layers.1.mlp.up_proj.weight");
  std::string e = loadError();
  EXPECT_NE(e.find("model.safetensors: no tensor 'model.layers.1.mlp.up_proj.weight'"),
            std::string::npos)
      << e;
}

TEST_F(ModelLoadTest, WrongShapeNamesFileAndTensor) {
  writeWeights({{"model.layers.0.self_attn.k_proj.weight", {8, 8}}});
  std::string e = loadError();
  EXPECT_NE(e.find("model.safetensors: tensor 'model.layers.0.self_attn.k_proj.weight' "
                   "is f32[8,8] but the graph needs f32[4,8]"),
            std::string::npos)
      << e;
}

TEST_F(ModelLoadTest, TruncatedSafetensors) {
  auto buf = llvm::MemoryBuffer::getFile(path("model.safetensors"));
  ASSERT_TRUE(bool(buf));
  write("model.safetensors", (*buf)->getBuffer().drop_back(10));
  EXPECT_NE(loadError().find("lie outside the data section"), std::string::npos);
}

TEST_F(ModelLoadTest, NotAModelFolder) {
  llvm::sys::fs::remove(path("config.json"));
  EXPECT_NE(loadError().find("not a model folder (no config.json)"), std::string::npos);
}

TEST_F(ModelLoadTest, TruncatedTokenizer) {
  auto buf = llvm::MemoryBuffer::getFile(path("tokenizer.bin"));
  ASSERT_TRUE(bool(buf));
  write("tokenizer.bin", (*buf)->getBuffer().drop_back(3));
  EXPECT_NE(loadError().find("tokenizer.bin: truncated at token 15"), std::string::npos)
      << loadError();
}

TEST_F(ModelLoadTest, Llama2cCheckpointOfTheWrongSize) {
  int32_t header[7] = {8, 12, 1, 2, 1, 16, 32};
  std::string bin(reinterpret_cast<char *>(header), 28);
  bin += std::string(100, '\0');
  write("m.bin", bin);
  auto m = loadModel(path("m.bin"), path("tokenizer.bin"));
  ASSERT_FALSE(bool(m));
  EXPECT_NE(llvm::toString(m.takeError()).find("m.bin: 128 bytes, but a checkpoint with "
                                               "this header needs"),
            std::string::npos);
  header[3] = 0;
  write("m.bin", std::string(reinterpret_cast<char *>(header), 28));
  auto m2 = loadModel(path("m.bin"), path("tokenizer.bin"));
  ASSERT_FALSE(bool(m2));
  EXPECT_NE(llvm::toString(m2.takeError()).find("header: sizes must be positive"),
            std::string::npos);
}

TEST_F(ModelLoadTest, TokenizerEncodesWithMergesAndDecodes) {
  auto t = Llama2cTokenizer::load(path("tokenizer.bin"));
  ASSERT_TRUE(bool(t));
  // " a" merges into one piece; "b" stays; "z" has no piece and no byte
  // fallback in this vocabulary, so it is <unk>.
  EXPECT_EQ((*t)->encode("ab z", true), (std::vector<int32_t>{1, 15, 5, 3, 0}));
  EXPECT_EQ((*t)->decode(1, 15), "a"); // leading space dropped after BOS
  EXPECT_EQ((*t)->decode(5, 15), " a");
}

TEST_F(ModelLoadTest, ShardedWeightsLoadAsOne) {
  // Split model.safetensors into two shards named by an index, as Hugging
  // Face does for large models.
  auto whole = SafeTensorsFile::open(path("model.safetensors"));
  ASSERT_TRUE(bool(whole));
  std::vector<SafeTensorOut> a, b;
  std::string map;
  for (const SafeTensorInfo &t : (*whole)->tensors()) {
    auto bytes = (*whole)->bytes(t);
    bool first = t.name.find("layers.1.") == std::string::npos;
    (first ? a : b).push_back({t.name, t.dtype, t.shape,
                               std::vector<uint8_t>(bytes.begin(), bytes.end())});
    map += std::string(map.empty() ? "" : ", ") + "\"" + t.name + "\": \"" +
           (first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors") +
           "\"";
  }
  ASSERT_FALSE(bool(writeSafeTensors(path("model-00001-of-00002.safetensors"), a)));
  ASSERT_FALSE(bool(writeSafeTensors(path("model-00002-of-00002.safetensors"), b)));
  llvm::sys::fs::remove(path("model.safetensors"));
  write("model.safetensors.index.json", "{\"weight_map\": {" + map + "}}");
  auto m = loadModel(dir());
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  // A shard that escapes the folder is refused.
  write("model.safetensors.index.json",
            "{\"weight_map\": {\"x\": \"../elsewhere.safetensors\"}}");
  EXPECT_NE(loadError().find("must be a plain file name"), std::string::npos);
}

TEST(Llama2cTokenizerTest, RoundTripsOnTheRealVocabulary) {
  const char *tok = SQC_TEST_DIR "/../../shared/data/stories260K/tok512.bin";
  if (!llvm::sys::fs::exists(tok))
    GTEST_SKIP() << "../shared/data is not present";
  auto t = Llama2cTokenizer::load(tok);
  ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
  EXPECT_EQ((*t)->vocabSize(), 512);
  for (const char *text : {"Once upon a time, there was a little girl named Lily.",
                           "Numbers 12345 and symbols #@!~ and tabs\tand\nnewlines",
                           "héllo wörld 日本 😀 — “quotes”"}) {
    std::vector<int32_t> ids = (*t)->encode(text, true);
    std::string back;
    for (size_t i = 1; i < ids.size(); ++i)
      back += (*t)->decode(ids[i - 1], ids[i]);
    EXPECT_EQ(back, text);
  }
  // The known encoding of the data README's example: BOS, then merged pieces.
  std::vector<int32_t> once = (*t)->encode("Once", true);
  ASSERT_GE(once.size(), 2u);
  EXPECT_EQ(once[0], 1);
}

} // namespace
