//===- frontend/Tokenizer.h - Text to token ids and back --------*- C++ -*-===//
#ifndef SQC_FRONTEND_TOKENIZER_H
#define SQC_FRONTEND_TOKENIZER_H

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace sqc {

class Tokenizer {
public:
  virtual ~Tokenizer() = default;
  /// Token ids of `text`, with the beginning-of-sequence id first if `bos`.
  /// Not const: tokenizers memoize the pieces they have encoded, so one
  /// thread at a time (or a tokenizer per thread).
  virtual std::vector<int32_t> encode(llvm::StringRef text, bool bos) = 0;
  /// The bytes token `id` stands for (byte-fallback tokens give one byte).
  /// `prev` is the token before it, for tokenizers whose pieces depend on it.
  virtual std::string decode(int32_t prev, int32_t id) const = 0;
  virtual int32_t vocabSize() const = 0;
  virtual int32_t bosId() const = 0;
  virtual int32_t eosId() const = 0;
};

/// llama2.c's `tokenizer.bin`: int32 max_token_length, then per token a
/// float32 score, an int32 length and the bytes. Ids 0/1/2 are <unk>, BOS,
/// EOS; 3..258 the byte-fallback pieces <0x00>..<0xFF>. Encoding follows
/// llama2.c's run.c: a leading space, one piece per UTF-8 character (bytes + 3
/// when the character has none), then merging the adjacent pair whose
/// concatenation has the best score, leftmost on ties, until none merges.
class Llama2cTokenizer : public Tokenizer {
public:
  static llvm::Expected<std::unique_ptr<Llama2cTokenizer>>
  load(llvm::StringRef path);

  std::vector<int32_t> encode(llvm::StringRef text, bool bos) override;
  std::string decode(int32_t prev, int32_t id) const override;
  int32_t vocabSize() const override { return int32_t(pieces_.size()); }
  int32_t bosId() const override { return 1; }
  int32_t eosId() const override { return 2; }
  const std::string &piece(int32_t id) const { return pieces_[id]; }

private:
  /// BPE of one chunk (text between spaces, with its leading space).
  std::vector<int32_t> encodeChunk(llvm::StringRef chunk) const;

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  llvm::StringMap<int32_t> idOf_;
  bool byteFallback_ = false;
  /// Whether no piece has a space after its first byte (see encode()).
  bool chunkable_ = true;
  std::unordered_map<std::string, std::vector<int32_t>> memo_;
};

/// Writes a llama2.c tokenizer.bin: the given pieces in id order, all with
/// score 0 unless `scores` gives them (for models and tests that make one).
llvm::Error writeLlama2cTokenizer(llvm::StringRef path,
                                  llvm::ArrayRef<std::string> pieces,
                                  llvm::ArrayRef<float> scores = {});

} // namespace sqc

#endif // SQC_FRONTEND_TOKENIZER_H
