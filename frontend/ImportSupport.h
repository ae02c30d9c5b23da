//===- frontend/ImportSupport.h - What the model importers share -*- C++ -*-===//
//
// Every decoder importer emits the same graph signature (see Model.h) and the
// same attention with a KV cache; they differ in norms, positions and MLPs.
// This header holds the shared pieces: a builder that names every value (the
// names key calibration statistics), the attention block, and config.json
// readers whose errors name the file.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_FRONTEND_IMPORTSUPPORT_H
#define SQC_FRONTEND_IMPORTSUPPORT_H

#include "ir/IR.h"
#include "runtime/Weights.h"

#include "llvm/Support/Error.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace sqc {

llvm::Error importError(const llvm::Twine &msg);

/// Builds ops at the end of a graph, naming each result; keeps the first
/// error so building code reads straight through.
class GraphWriter {
public:
  explicit GraphWriter(Graph &g) : g_(g), b_(OpBuilder::atEnd(g)) {}

  Value *op(OpKind kind, std::vector<Value *> operands, llvm::StringRef name,
            std::vector<NamedAttr> attrs = {}, std::vector<TensorType> types = {});
  /// A `weight` op for the named f32 tensor.
  Value *weight(llvm::StringRef tensor, llvm::ArrayRef<Dim> dims,
                llvm::StringRef valueName);
  /// A scalar f32 constant.
  Value *scalar(double v, llvm::StringRef name);
  /// linear(x, W) or linear(x, W, b), with the weights named `prefix.weight`
  /// and `prefix.bias` (bias only when `bias`).
  Value *linear(Value *x, llvm::StringRef prefix, int64_t out, int64_t in,
                bool bias, llvm::StringRef name);
  /// layer_norm(x, `tensor`.weight, `tensor`.bias) over `dim` features; `eps`
  /// absent keeps the op's default.
  Value *layerNorm(Value *x, llvm::StringRef tensor, int64_t dim, llvm::StringRef name,
                   std::optional<double> eps = std::nullopt);
  /// Ends the graph: return `results`, which become its signature.
  void finish(llvm::ArrayRef<Value *> results);
  llvm::Error takeError() { return err_ ? std::move(*err_) : llvm::Error::success(); }
  Graph &graph() { return g_; }

private:
  Graph &g_;
  OpBuilder b_;
  std::optional<llvm::Error> err_;
};

/// The arguments every decoder graph takes: tokens, positions and a K and a
/// V cache per layer, each [?past, kvHeads, headSize].
struct DecoderInputs {
  Value *tokens, *positions;
  std::vector<Value *> pastK, pastV;
};
DecoderInputs addDecoderArguments(Graph &g, int64_t layers, int64_t kvHeads,
                                  int64_t headSize);

/// Causal attention over [cache; new] keys and values. q is [?seq, H, hs],
/// k and v [?seq, KV, hs] (already rotated where the model rotates); query
/// head h reads KV head h / (H / KV). Appends the new caches to `newK`,
/// `newV` and returns the output [?seq, H * hs].
Value *attention(GraphWriter &w, llvm::StringRef prefix, Value *q, Value *k,
                 Value *v, Value *pastK, Value *pastV, Value *scale,
                 int64_t heads, int64_t kvHeads, int64_t headSize,
                 std::vector<Value *> &newK, std::vector<Value *> &newV);

/// Ends a decoder graph: return (logits, k.0, v.0, k.1, v.1, ...).
void finishDecoder(GraphWriter &w, Value *logits, const std::vector<Value *> &newK,
                   const std::vector<Value *> &newV);

/// `dir`/`name`.
std::string joinPath(llvm::StringRef dir, llvm::StringRef name);

/// config.json readers. A missing required key, or a value of the wrong
/// kind, is an error naming the file and the key.
class ConfigReader {
public:
  ConfigReader(const nlohmann::json &j, std::string file) : j_(j), file_(std::move(file)) {}
  /// `fallback` nullopt means required.
  llvm::Error get(const char *key, int64_t &out, std::optional<int64_t> fallback = {});
  llvm::Error get(const char *key, double &out, std::optional<double> fallback = {});
  llvm::Error get(const char *key, bool &out, std::optional<bool> fallback = {});
  llvm::Error get(const char *key, std::string &out,
                  std::optional<std::string> fallback = {});
  llvm::Error error(const llvm::Twine &msg) const {
    return importError(file_ + ": " + msg);
  }
  const nlohmann::json &json() const { return j_; }

private:
  const nlohmann::json &j_;
  std::string file_;
};

llvm::Expected<nlohmann::json> readJsonFile(llvm::StringRef path);

/// Every weight op must find a tensor of its declared shape; the error names
/// the file and the tensor.
llvm::Error checkWeights(const Module &m, WeightStore &store);

} // namespace sqc

#endif // SQC_FRONTEND_IMPORTSUPPORT_H
