//===- tests/unit/BPETokenizerTest.cpp - GPT-2's byte-level BPE -----------===//
//
// Writes small vocab.json / merges.txt / tokenizer.json files and checks exact
// ids on a vocabulary whose merges are known by hand, round trips over the
// full byte alphabet, that both file formats load the same tokenizer, and that
// every kind of broken file gives an error naming the file (and the line),
// never a crash.
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"
#include "frontend/BPETokenizer.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

using namespace sqc;

namespace {

/// GPT-2's bytes_to_unicode(), written out independently of the tokenizer:
/// the spelling of each byte in vocabularies ("Ġ" for a space).
std::string byteSymbol(unsigned b) {
  bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
  unsigned cp = b;
  if (!printable) {
    cp = 256;
    for (unsigned c = 0; c < b; ++c)
      cp += !((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE);
  }
  if (cp < 0x80)
    return std::string(1, char(cp));
  return {char(0xC0 | cp >> 6), char(0x80 | (cp & 0x3F))};
}

/// Merges in priority order; the merged symbols get ids 256, 257, ...
const std::pair<const char *, const char *> kMerges[] = {
    {"Ġ", "t"},   // 256 "Ġt"
    {"h", "e"},   // 257 "he"
    {"Ġt", "he"}, // 258 "Ġthe"
    {"l", "l"},   // 259 "ll"
    {"e", "ll"},  // 260 "ell"
    {"Ġ", "w"},   // 261 "Ġw"
    {"o", "r"},   // 262 "or"
    {"Ġw", "or"}, // 263 "Ġwor"
    {"'", "s"},   // 264 "'s"
    {"Ċ", "Ċ"},   // 265 "ĊĊ"
};
constexpr int32_t kEndOfText = 266;

class BPETokenizerTest : public ::testing::Test, protected test::TempDir {
protected:
  BPETokenizerTest() : TempDir("sqc-bpe") {}
  void SetUp() override {
    // Byte b's symbol has id b; then the merges; then <|endoftext|>.
    for (unsigned b = 0; b < 256; ++b)
      vocab[byteSymbol(b)] = b;
    int32_t id = 256;
    for (auto [a, b] : kMerges) {
      vocab[std::string(a) + b] = id++;
      merges += std::string(a) + " " + b + "\n";
    }
    vocab["<|endoftext|>"] = kEndOfText;
  }

  /// Writes vocab.json and merges.txt (with GPT-2's #version line).
  void writeGpt2() {
    write("vocab.json", vocab.dump());
    write("merges.txt", "#version: 0.2\n" + merges);
  }
  std::unique_ptr<ByteLevelBPETokenizer> loadGpt2() {
    writeGpt2();
    auto tok = ByteLevelBPETokenizer::loadGpt2(path("vocab.json"), path("merges.txt"));
    EXPECT_TRUE(bool(tok)) << (tok ? "" : llvm::toString(tok.takeError()));
    return tok ? std::move(*tok) : nullptr;
  }

  /// The same data as a Hugging Face tokenizer.json (merges alternate
  /// between the "a b" and the ["a", "b"] forms).
  nlohmann::json tokenizerJson() {
    nlohmann::json m = nlohmann::json::array();
    bool pair = false;
    for (auto [a, b] : kMerges) {
      if (pair)
        m.push_back({a, b});
      else
        m.push_back(std::string(a) + " " + b);
      pair = !pair;
    }
    nlohmann::json j = {
        {"version", "1.0"},
        {"added_tokens",
         {{{"id", kEndOfText},
           {"content", "<|endoftext|>"},
           {"single_word", false},
           {"lstrip", false},
           {"rstrip", false},
           {"normalized", true},
           {"special", true}}}},
        {"normalizer", nullptr},
        {"pre_tokenizer",
         {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
        {"post_processor", {{"type", "ByteLevel"}, {"trim_offsets", false}}},
        {"decoder", {{"type", "ByteLevel"}}},
        {"model",
         {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", nullptr},
          {"continuing_subword_prefix", ""},
          {"end_of_word_suffix", ""},
          {"vocab", vocab},
          {"merges", m}}}};
    return j;
  }
  std::unique_ptr<ByteLevelBPETokenizer> loadJson(const nlohmann::json &j) {
    write("tokenizer.json", j.dump());
    auto tok = ByteLevelBPETokenizer::loadTokenizerJson(path("tokenizer.json"));
    EXPECT_TRUE(bool(tok)) << (tok ? "" : llvm::toString(tok.takeError()));
    return tok ? std::move(*tok) : nullptr;
  }

  /// The error of loading vocab.json + merges.txt as they are, or "".
  std::string gpt2Error() {
    auto tok = ByteLevelBPETokenizer::loadGpt2(path("vocab.json"), path("merges.txt"));
    return tok ? "" : llvm::toString(tok.takeError());
  }
  std::string jsonError(llvm::StringRef text) {
    write("tokenizer.json", text);
    auto tok = ByteLevelBPETokenizer::loadTokenizerJson(path("tokenizer.json"));
    return tok ? "" : llvm::toString(tok.takeError());
  }

  static std::string decodeAll(const Tokenizer &tok, const std::vector<int32_t> &ids) {
    std::string out;
    int32_t prev = -1;
    for (int32_t id : ids) {
      out += tok.decode(prev, id);
      prev = id;
    }
    return out;
  }

  nlohmann::json vocab;
  std::string merges;
};

using Ids = std::vector<int32_t>;

std::vector<std::string> words(llvm::StringRef text) {
  std::vector<std::string> out;
  for (llvm::StringRef w : ByteLevelBPETokenizer::preTokenize(text))
    out.push_back(w.str());
  return out;
}

} // namespace

// Expected splits are what Python's `regex` module gives for GPT-2's pattern.
TEST(BPEPreTokenizeTest, MatchesGpt2Pattern) {
  using V = std::vector<std::string>;
  EXPECT_EQ(words("I'm   here\n\n  now"), (V{"I", "'m", "  ", " here", "\n\n ", " now"}));
  EXPECT_EQ(words("don't?'s 'LL we'll"),
            (V{"don", "'t", "?'", "s", " '", "LL", " we", "'ll"}));
  EXPECT_EQ(words("a\n\nb"), (V{"a", "\n", "\n", "b"}));
  EXPECT_EQ(words("x  "), (V{"x", "  "}));
  EXPECT_EQ(words("h\xC3\xA9llo w\xC3\xB6rld \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80"),
            (V{"h\xC3\xA9llo", " w\xC3\xB6rld", " \xE6\x97\xA5\xE6\x9C\xAC",
               " \xF0\x9F\x98\x80"}));
  // “Hi”—it’s 3.14 km²: curly quotes and dashes are punctuation, ² a number.
  EXPECT_EQ(
      words("\xE2\x80\x9CHi\xE2\x80\x9D\xE2\x80\x94it\xE2\x80\x99s 3.14 km\xC2\xB2"),
      (V{"\xE2\x80\x9C", "Hi", "\xE2\x80\x9D\xE2\x80\x94", "it", "\xE2\x80\x99", "s",
         " 3", ".", "14", " km", "\xC2\xB2"}));
  // NBSP and U+3000 are spaces; a combining accent is none of the classes.
  EXPECT_EQ(words("a\xC2\xA0"
                  "b\xE3\x80\x80 c\xCC\x81"),
            (V{"a", "\xC2\xA0", "b", "\xE3\x80\x80", " c", "\xCC\x81"}));
  EXPECT_EQ(words(""), V{});
  // Invalid UTF-8 bytes are punctuation-like, one by one.
  EXPECT_EQ(words("a\xFF\xFE b"), (V{"a", "\xFF\xFE", " b"}));
}

TEST_F(BPETokenizerTest, MergesApplyLowestRankFirst) {
  auto tok = loadGpt2();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("the", false), (Ids{'t', 257}));
  EXPECT_EQ(tok->encode(" the", false), (Ids{258}));
  // "h e" (rank 1) beats "l l" (rank 3), so "e ll" never gets a chance.
  EXPECT_EQ(tok->encode("hello", false), (Ids{257, 259, 'o'}));
  EXPECT_EQ(tok->encode("ell", false), (Ids{260}));
  EXPECT_EQ(tok->encode(" world", false), (Ids{263, 'l', 'd'}));
  EXPECT_EQ(tok->encode("the world's", false), (Ids{'t', 257, 263, 'l', 'd', 264}));
  // Merges never cross words: "\n\n" before "b" is two words.
  EXPECT_EQ(tok->encode("a\n\nb", false), (Ids{'a', '\n', '\n', 'b'}));
  EXPECT_EQ(tok->encode("\n\n", false), (Ids{265}));
  EXPECT_EQ(tok->encode("", false), Ids{});
  // Again, from the memo.
  EXPECT_EQ(tok->encode("hello hello", false), (Ids{257, 259, 'o', ' ', 257, 259, 'o'}));
}

TEST_F(BPETokenizerTest, SpecialTokensAndBos) {
  auto tok = loadGpt2();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->bosId(), kEndOfText);
  EXPECT_EQ(tok->eosId(), kEndOfText);
  EXPECT_FALSE(tok->addsBosByDefault()); // GPT-2 adds none
  EXPECT_EQ(tok->vocabSize(), kEndOfText + 1);
  EXPECT_EQ(tok->encode("the", true), (Ids{kEndOfText, 't', 257}));
  EXPECT_EQ(tok->encode("the<|endoftext|> the", false), (Ids{'t', 257, kEndOfText, 258}));
  EXPECT_EQ(tok->decode(-1, kEndOfText), "<|endoftext|>");
  EXPECT_EQ(tok->decode(-1, 258), " the");
  EXPECT_EQ(tok->decode(-1, '\n'), "\n");
  EXPECT_EQ(tok->decode(-1, 265), "\n\n");
  EXPECT_EQ(tok->decode(-1, -1), "");
  EXPECT_EQ(tok->decode(-1, 100000), "");
  EXPECT_EQ(tok->piece(258), "Ġthe");
  EXPECT_EQ(tok->unkId(), -1);
}

TEST_F(BPETokenizerTest, NoBosWithoutOne) {
  vocab.erase("<|endoftext|>");
  auto tok = loadGpt2();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->bosId(), -1);
  EXPECT_EQ(tok->eosId(), -1);
  EXPECT_EQ(tok->encode(" the", true), (Ids{258}));
}

TEST_F(BPETokenizerTest, RoundTripsAnyText) {
  auto tok = loadGpt2();
  ASSERT_TRUE(tok);
  const char *texts[] = {
      "Hello, world! The quick brown fox.",
      "punctuation: ;:!?()[]{}<>@#$%^&*-_=+|\\/~`\"",
      "  spaces   and\ttabs\n\nnewlines\r\n  \n",
      "don't you'll we've I'm she'd they're it's 'quoted'",
      "h\xC3\xA9llo w\xC3\xB6rld \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80",
      "\xE2\x80\x9CHi\xE2\x80\x9D\xE2\x80\x94it\xE2\x80\x99s 3.14 km\xC2\xB2",
      "invalid \xFF\xFE\xC3 utf-8 \xED\xA0\x80",
      "<|endoftext|>the<|endoftext|",
      "",
      " ",
  };
  for (const char *t : texts)
    EXPECT_EQ(decodeAll(*tok, tok->encode(t, false)), t);
  std::string all;
  for (int b = 0; b < 256; ++b)
    all += char(b);
  all += all;
  EXPECT_EQ(decodeAll(*tok, tok->encode(all, false)), all);
  std::string nul("a\0b", 3);
  EXPECT_EQ(decodeAll(*tok, tok->encode(nul, false)), nul);
}

TEST_F(BPETokenizerTest, TokenizerJsonLoadsTheSame) {
  auto a = loadGpt2();
  auto b = loadJson(tokenizerJson());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->vocabSize(), b->vocabSize());
  EXPECT_EQ(a->bosId(), b->bosId());
  EXPECT_EQ(a->eosId(), b->eosId());
  for (const char *t :
       {"the world's", "hello\n\n there", " the<|endoftext|>the",
        "h\xC3\xA9llo w\xC3\xB6rld \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80"})
    EXPECT_EQ(a->encode(t, true), b->encode(t, true)) << t;
  for (int32_t id = 0; id < a->vocabSize(); ++id)
    EXPECT_EQ(a->decode(-1, id), b->decode(-1, id)) << id;
}

TEST_F(BPETokenizerTest, TokenizerJsonOptions) {
  nlohmann::json j = tokenizerJson();
  j["pre_tokenizer"]["add_prefix_space"] = true;
  auto tok = loadJson(j);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("the", false), (Ids{258}));
  EXPECT_EQ(tok->encode(" the", false), (Ids{258}));

  // ignore_merges: a word that is in the vocabulary is taken whole.
  j = tokenizerJson();
  j["model"]["merges"] = nlohmann::json::array();
  j["model"]["ignore_merges"] = true;
  tok = loadJson(j);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode(" the", false), (Ids{258}));
  EXPECT_EQ(tok->encode(" then", false), (Ids{' ', 't', 'h', 'e', 'n'}));

  // A template that puts <s> first names the BOS; lstrip eats the space.
  j = tokenizerJson();
  j["model"]["vocab"]["<s>"] = 300;
  j["added_tokens"].push_back({{"id", 300}, {"content", "<s>"}});
  j["added_tokens"].push_back({{"id", 301}, {"content", "<mask>"}, {"lstrip", true}});
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"special_tokens",
       {{"<s>", {{"id", "<s>"}, {"ids", {300}}, {"tokens", {"<s>"}}}}}}};
  tok = loadJson(j);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->bosId(), 300);
  EXPECT_EQ(tok->eosId(), kEndOfText);
  EXPECT_TRUE(tok->addsBosByDefault());
  EXPECT_EQ(tok->vocabSize(), 302);
  EXPECT_EQ(tok->encode("the <mask>", true), (Ids{300, 't', 257, 301}));
  EXPECT_EQ(tok->decode(-1, 301), "<mask>");
}

TEST_F(BPETokenizerTest, FairseqVocabularyIsOpt) {
  // OPT: <s> <pad> </s> <unk> first, then the rest shifted by 4.
  nlohmann::json v;
  for (auto it = vocab.begin(); it != vocab.end(); ++it)
    v[it.key()] = it->get<int32_t>() + 4;
  v["<s>"] = 0, v["<pad>"] = 1, v["</s>"] = 2, v["<unk>"] = 3;
  vocab = v;
  auto tok = loadGpt2();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->bosId(), 2);
  EXPECT_EQ(tok->eosId(), 2);
  EXPECT_EQ(tok->unkId(), 3);
  EXPECT_TRUE(tok->addsBosByDefault());
  EXPECT_EQ(tok->encode(" the</s>", true), (Ids{2, 262, 2}));
  EXPECT_EQ(tok->decode(-1, 2), "</s>");
}

TEST_F(BPETokenizerTest, MissingByteSymbols) {
  vocab.erase("x");
  // Dropped without an unknown token; the neighbours then merge.
  auto tok = loadGpt2();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("hxe", false), (Ids{257}));
  // The unknown token otherwise.
  nlohmann::json j = tokenizerJson();
  j["model"]["vocab"]["<unk>"] = 270;
  j["model"]["unk_token"] = "<unk>";
  tok = loadJson(j);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->unkId(), 270);
  EXPECT_EQ(tok->encode("hxe", false), (Ids{'h', 270, 'e'}));
}

TEST_F(BPETokenizerTest, Gpt2FileErrors) {
  std::string v = path("vocab.json"), m = path("merges.txt");
  auto expectError = [&](llvm::StringRef vocabText, llvm::StringRef mergesText,
                         const std::string &message) {
    write("vocab.json", vocabText);
    write("merges.txt", mergesText);
    std::string err = gpt2Error();
    EXPECT_NE(err.find(message), std::string::npos) << "got: " << err;
  };
  std::string good = vocab.dump();
  auto missing = ByteLevelBPETokenizer::loadGpt2(path("nope.json"), m);
  ASSERT_FALSE(missing);
  EXPECT_EQ(llvm::toString(missing.takeError()),
            path("nope.json") + ": No such file or directory");
  write("vocab.json", good);
  missing = ByteLevelBPETokenizer::loadGpt2(v, path("nope.txt"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(llvm::toString(missing.takeError()),
            path("nope.txt") + ": No such file or directory");

  expectError(good.substr(0, good.size() / 2), merges, v + ": not valid JSON");
  expectError("[1, 2]", merges, v + ": expected a JSON object");
  expectError("{}", "", v + ": the vocabulary is empty");
  expectError(R"({"a": 0, "b": "1"})", "",
              v + ": token 'b' has id \"1\", not an integer");
  expectError(R"({"a": 1.5})", "", v + ": token 'a' has id 1.5, not an integer");
  expectError(R"({"a": 0, "b": 0})", "", v + ": token 'b' has id 0, already used by 'a'");
  expectError(R"({"a": -1})", "", v + ": token 'a' has id -1, outside [0, 2097152)");
  expectError(R"({"a": 9999999999999})", "",
              v + ": token 'a' has id 9999999999999, outside [0, 2097152)");
  expectError(R"({"": 0})", "", v + ": a token is the empty string");

  expectError(good, "#version: 0.2\nh e\nl\n",
              m + ":3: expected two symbols separated by a space");
  expectError(good, "h e\nl l o\n", m + ":2: expected two symbols separated by a space");
  expectError(good, "h e\n l\n", m + ":2: expected two symbols separated by a space");
  // Truncated: the last line lost its second symbol.
  expectError(good, "h e\nl", m + ":2: expected two symbols separated by a space");
  expectError(good, "h e\nhel lo\n", m + ":2: 'hel' is not in the vocabulary");
  expectError(good, "\n\nĠthe Ġthe\n",
              m + ":3: 'ĠtheĠthe' is not in the vocabulary (merging 'Ġthe' and 'Ġthe')");

  // CRLF line ends and blank lines are fine.
  write("vocab.json", good);
  write("merges.txt", "#version: 0.2\r\nh e\r\n\r\nl l\r\n");
  EXPECT_EQ(gpt2Error(), "");
}

TEST_F(BPETokenizerTest, TokenizerJsonErrors) {
  std::string p = path("tokenizer.json");
  auto expectError = [&](const nlohmann::json &j, const std::string &message) {
    std::string err = jsonError(j.dump());
    EXPECT_NE(err.find(message), std::string::npos) << "got: " << err;
  };
  nlohmann::json j = tokenizerJson();
  std::string text = j.dump();
  EXPECT_EQ(jsonError(text.substr(0, text.size() - 10)), p + ": not valid JSON");

  j = tokenizerJson();
  j["model"]["type"] = "Unigram";
  expectError(j, p + ": model type 'Unigram' is not supported; sqc reads byte-level BPE");
  j = tokenizerJson();
  j.erase("model");
  expectError(j, p + ": no \"model\" object");
  j = tokenizerJson();
  j["model"]["vocab"] = nlohmann::json::array();
  expectError(j, p + ": model.vocab must be an object");
  j = tokenizerJson();
  j["model"]["vocab"]["x"] = "7";
  expectError(j, p + ": token 'x' has id \"7\", not an integer");
  j = tokenizerJson();
  j["model"]["vocab"]["xyz"] = 'a';
  expectError(j, p + ": token 'xyz' has id 97, already used by 'a'");
  j = tokenizerJson();
  j["model"].erase("merges");
  expectError(j, p + ": model.merges must be an array");
  j = tokenizerJson();
  j["model"]["merges"][3] = {1, 2};
  expectError(j, p + ": model.merges[3]: expected \"a b\" or [\"a\", \"b\"]");
  j = tokenizerJson();
  j["model"]["merges"][4] = "e";
  expectError(j, p + ": model.merges[4]: expected \"a b\" or [\"a\", \"b\"]");
  j = tokenizerJson();
  j["model"]["merges"][0] = "x yz";
  expectError(j, p + ": model.merges[0]: 'yz' is not in the vocabulary");
  j = tokenizerJson();
  j["model"]["continuing_subword_prefix"] = "##";
  expectError(j, p + ": model.continuing_subword_prefix \"##\" is not supported");
  j = tokenizerJson();
  j["normalizer"] = {{"type", "NFC"}};
  expectError(j, p + ": normalizer 'NFC' is not supported");
  j = tokenizerJson();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  expectError(j, p + ": pre_tokenizer 'Whitespace' is not supported");
  j = tokenizerJson();
  j.erase("pre_tokenizer");
  expectError(j, p + ": pre_tokenizer 'none' is not supported");
  j = tokenizerJson();
  j["pre_tokenizer"]["use_regex"] = false;
  expectError(j, p + ": a ByteLevel pre_tokenizer without use_regex is not supported");
  j = tokenizerJson();
  j["added_tokens"] = nlohmann::json::array();
  j["added_tokens"].push_back({{"content", "<x>"}});
  expectError(j, p + ": added_tokens[0]: \"id\" must be an integer");
  j = tokenizerJson();
  j["added_tokens"][0]["id"] = "266";
  expectError(j, p + ": added_tokens[0]: \"id\" must be an integer");
  j = tokenizerJson();
  j["added_tokens"][0]["id"] = -4;
  expectError(j, p + ": added_tokens[0]: id -4 is outside [0, 2097152)");
  j = tokenizerJson();
  j["added_tokens"][0].erase("content");
  expectError(j, p + ": added_tokens[0]: \"content\" must be a string");
  j = tokenizerJson();
  j["added_tokens"].push_back({{"id", kEndOfText}, {"content", "<other>"}});
  expectError(
      j, p + ": added_tokens[1]: id 266 is used by both '<|endoftext|>' and '<other>'");
  j = tokenizerJson();
  j["post_processor"] = {
      {"type", "RobertaProcessing"}, {"cls", {"<s>", 5000}}, {"sep", {"</s>", 2}}};
  expectError(j, p + ": post_processor puts id 5000 before the text; the vocabulary "
                     "has 267 ids");
}

// Every prefix of a good file loads or fails with an error; none crashes.
TEST_F(BPETokenizerTest, EveryPrefixFailsCleanly) {
  writeGpt2();
  std::string good = "#version: 0.2\n" + merges;
  for (size_t n = 0; n <= good.size(); ++n) {
    write("merges.txt", good.substr(0, n));
    auto tok = ByteLevelBPETokenizer::loadGpt2(path("vocab.json"), path("merges.txt"));
    if (!tok) {
      EXPECT_NE(llvm::toString(tok.takeError()).find(path("merges.txt") + ":"),
                std::string::npos);
    }
  }
  std::string text = tokenizerJson().dump();
  for (size_t n = 0; n < text.size(); n += 97)
    EXPECT_NE(jsonError(text.substr(0, n)), "");
}
