//===- frontend/BPETokenizer.h - GPT-2's byte-level BPE ---------*- C++ -*-===//
#ifndef SQC_FRONTEND_BPETOKENIZER_H
#define SQC_FRONTEND_BPETOKENIZER_H

#include "frontend/Tokenizer.h"

#include "llvm/ADT/DenseMap.h"

#include <array>

namespace sqc {

/// Byte-level BPE as GPT-2, OPT and Hugging Face's `ByteLevel` tokenizers do
/// it. Encoding: split the text on added (special) tokens; split the rest as
/// GPT-2's pre-tokenization regex does (see preTokenize()); spell each word's
/// bytes in GPT-2's printable byte alphabet ("Ġ" for a space); apply merges,
/// lowest rank first and leftmost on ties, until none applies; look up ids.
///
/// A byte whose one-character symbol is not in the vocabulary (never the case
/// for real GPT-2 files) becomes the unknown token if there is one and is
/// dropped otherwise, its neighbours then becoming adjacent, as in Hugging Face.
///
/// BOS and EOS: a tokenizer.json post-processor that puts a special token
/// before the text names the BOS. Otherwise a fairseq-ordered vocabulary
/// (`<s>` = 0, `</s>` = 2: OPT) uses `</s>` for both, as OPT does; else
/// `<|endoftext|>` is both (GPT-2); else `<s>` / `</s>`; else -1.
class ByteLevelBPETokenizer : public Tokenizer {
public:
  /// GPT-2's pair of files: vocab.json ({"token": id}) and merges.txt (an
  /// optional `#version` line, then one "a b" merge per line, best first).
  /// `<|endoftext|>` and, in a fairseq-ordered vocabulary, `<s>`, `<pad>`,
  /// `</s>` and `<unk>` are special: matched whole in the text.
  static llvm::Expected<std::unique_ptr<ByteLevelBPETokenizer>>
  loadGpt2(llvm::StringRef vocabJson, llvm::StringRef mergesTxt);

  /// A Hugging Face tokenizer.json with a "BPE" model and the ByteLevel
  /// pre-tokenizer (its add_prefix_space and the model's ignore_merges are
  /// honoured). Refused, as they would change the tokens: other model types,
  /// any normalizer, other pre-tokenizers or ByteLevel without use_regex, and
  /// a continuing_subword_prefix or end_of_word_suffix. added_tokens are
  /// matched whole in the text; lstrip and rstrip take ASCII whitespace along,
  /// single_word is ignored.
  ///
  /// Both loaders refuse ids outside [0, 2^21), two tokens with one id, and
  /// merges whose symbols or result are not in the vocabulary.
  static llvm::Expected<std::unique_ptr<ByteLevelBPETokenizer>>
  loadTokenizerJson(llvm::StringRef path);

  std::vector<int32_t> encode(llvm::StringRef text, bool bos) override;
  /// The bytes of `id` ("" for ids that name no token); `prev` is unused.
  std::string decode(int32_t prev, int32_t id) const override;
  /// One more than the largest id of the vocabulary and the added tokens.
  int32_t vocabSize() const override { return int32_t(bytes_.size()); }
  int32_t bosId() const override { return bos_; }
  int32_t eosId() const override { return eos_; }
  int32_t unkId() const { return unk_; }
  /// Whether Hugging Face puts the BOS first by default: when a tokenizer.json
  /// post-processor says so, and for OPT's fairseq-ordered vocabulary (GPT-2
  /// adds none).
  bool addsBosByDefault() const { return addsBos_; }
  /// How the files spell `id` (e.g. "Ġthe"); "" for ids that name no token.
  llvm::StringRef piece(int32_t id) const;

  /// The words of `text` under GPT-2's pattern
  ///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  /// with Unicode 14's letters, numbers and White_Space (code points assigned
  /// since then take the class of the code point before them). Bytes that are
  /// not valid UTF-8 count one by one as neither letter, number nor space.
  static std::vector<llvm::StringRef> preTokenize(llvm::StringRef text);

private:
  struct AddedToken {
    std::string content;
    int32_t id;
    bool lstrip, rstrip;
  };

  ByteLevelBPETokenizer();
  /// Records vocabulary entry `spelling` -> `id`; `where` prefixes errors.
  llvm::Error addVocab(llvm::StringRef spelling, int64_t id, llvm::StringRef where);
  /// Records the merge of rank `rank`; `where` ("merges.txt:3") prefixes errors.
  llvm::Error addMerge(llvm::StringRef a, llvm::StringRef b, int32_t rank,
                       llvm::StringRef where);
  llvm::Error addAddedToken(AddedToken tok, llvm::StringRef where);
  /// Token id by content: an added token first, then the vocabulary.
  int32_t find(llvm::StringRef content) const;
  /// Fills bytes_, byteIds_ and the default BOS/EOS once everything is read.
  void finish();
  /// Ids of one pre-tokenized word.
  std::vector<int32_t> encodeWord(llvm::StringRef word) const;
  void encodePlain(llvm::StringRef text, std::vector<int32_t> &out);

  std::vector<std::string> pieces_; ///< spelling per id
  std::vector<std::string> bytes_;  ///< decoded bytes per id
  llvm::StringMap<int32_t> idOf_;   ///< vocabulary spelling -> id
  /// (left id << 32 | right id) -> (rank, merged id).
  llvm::DenseMap<uint64_t, std::pair<int32_t, int32_t>> merges_;
  std::array<int32_t, 256> byteIds_; ///< id of each byte's symbol, or -1
  std::vector<AddedToken> added_;    ///< longest content first
  int32_t bos_ = -1, eos_ = -1, unk_ = -1;
  bool addsBos_ = false;
  bool addPrefixSpace_ = false;
  bool ignoreMerges_ = false;
  std::unordered_map<std::string, std::vector<int32_t>> memo_;
};

} // namespace sqc

#endif // SQC_FRONTEND_BPETOKENIZER_H
