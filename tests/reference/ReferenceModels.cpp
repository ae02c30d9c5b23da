//===- tests/reference/ReferenceModels.cpp - HF reference models ----------===//
//
// Naive double-precision re-statement of the math in Hugging Face's
// modeling_opt.py (OPTForCausalLM) and modeling_gpt2.py (GPT2LMHeadModel).
// Independent of sqc on purpose: this is the oracle sqc is checked against.
//
// Activations are kept as Mat = vector of rows, one row per token, so every
// formula below reads like the textbook version.
//
//===----------------------------------------------------------------------===//
#include "tests/reference/ReferenceModels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>

namespace sqc::ref {
namespace {

using Vec = std::vector<double>;
using Mat = std::vector<Vec>; // [rows][cols]

[[noreturn]] void fail(const std::string &msg) {
  throw std::runtime_error("reference model: " + msg);
}

std::string shapeStr(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

/// Fetches `name` and checks that it has exactly `shape` (and that its data
/// matches the shape), so a wrong importer-side name or layout is reported
/// here rather than producing silently different numbers.
const RefTensor &get(const WeightMap &w, const std::string &name,
                     const std::vector<int64_t> &shape) {
  auto it = w.find(name);
  if (it == w.end())
    fail("missing tensor '" + name + "'");
  const RefTensor &t = it->second;
  if (t.shape != shape)
    fail("tensor '" + name + "' has shape " + shapeStr(t.shape) +
         ", expected " + shapeStr(shape));
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  if (static_cast<int64_t>(t.data.size()) != n)
    fail("tensor '" + name + "' has " + std::to_string(t.data.size()) +
         " elements, its shape " + shapeStr(shape) + " needs " +
         std::to_string(n));
  return t;
}

/// Element (r, c) of a 2-D row-major tensor, widened to double.
double at(const RefTensor &t, int64_t r, int64_t c) {
  return static_cast<double>(t.data[r * t.shape[1] + c]);
}

/// nn.Linear: weight is [out, in], y = x W^T + b.
Mat linear(const Mat &x, const RefTensor &weight, const RefTensor &bias) {
  int64_t out = weight.shape[0], in = weight.shape[1];
  Mat y(x.size(), Vec(out));
  for (size_t t = 0; t < x.size(); ++t)
    for (int64_t o = 0; o < out; ++o) {
      double acc = bias.data[o];
      for (int64_t i = 0; i < in; ++i)
        acc += x[t][i] * at(weight, o, i);
      y[t][o] = acc;
    }
  return y;
}

/// GPT-2's Conv1D (pytorch_utils.Conv1D): weight is [in, out] -- the
/// transpose of nn.Linear's layout -- and y = x W + b.
Mat conv1d(const Mat &x, const RefTensor &weight, const RefTensor &bias) {
  int64_t in = weight.shape[0], out = weight.shape[1];
  Mat y(x.size(), Vec(out));
  for (size_t t = 0; t < x.size(); ++t)
    for (int64_t o = 0; o < out; ++o) {
      double acc = bias.data[o];
      for (int64_t i = 0; i < in; ++i)
        acc += x[t][i] * at(weight, i, o);
      y[t][o] = acc;
    }
  return y;
}

/// nn.LayerNorm over the last dimension: biased (divide-by-N) variance, eps
/// inside the square root, then elementwise affine.
Mat layerNorm(const Mat &x, const RefTensor &gamma, const RefTensor &beta,
              double eps) {
  Mat y(x.size());
  for (size_t t = 0; t < x.size(); ++t) {
    const Vec &row = x[t];
    double n = static_cast<double>(row.size());
    double mean = 0;
    for (double v : row)
      mean += v;
    mean /= n;
    double var = 0;
    for (double v : row)
      var += (v - mean) * (v - mean);
    var /= n;
    double inv = 1.0 / std::sqrt(var + eps);
    y[t].resize(row.size());
    for (size_t i = 0; i < row.size(); ++i)
      y[t][i] = (row[i] - mean) * inv * gamma.data[i] + beta.data[i];
  }
  return y;
}

Mat add(const Mat &a, const Mat &b) {
  Mat y = a;
  for (size_t t = 0; t < y.size(); ++t)
    for (size_t i = 0; i < y[t].size(); ++i)
      y[t][i] += b[t][i];
  return y;
}

/// Multi-head causal self-attention on already-projected q, k, v (each
/// [T, D]). Head h owns columns [h*hd, (h+1)*hd), which is what HF's
/// view(..., heads, head_dim) split means. Score(i, j) = scoreScale * q_i.k_j
/// for j <= i; later keys are excluded entirely (HF adds the dtype minimum,
/// whose exp underflows to exactly 0, so this is the same). The result is
/// the heads concatenated back into [T, D].
Mat causalAttention(const Mat &q, const Mat &k, const Mat &v, int64_t heads,
                    double scoreScale) {
  size_t T = q.size();
  int64_t D = T ? static_cast<int64_t>(q[0].size()) : 0;
  int64_t hd = D / heads;
  Mat out(T, Vec(D, 0.0));
  for (int64_t h = 0; h < heads; ++h) {
    int64_t c0 = h * hd;
    for (size_t i = 0; i < T; ++i) {
      Vec score(i + 1);
      double maxScore = -std::numeric_limits<double>::infinity();
      for (size_t j = 0; j <= i; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < hd; ++c)
          dot += q[i][c0 + c] * k[j][c0 + c];
        score[j] = dot * scoreScale;
        maxScore = std::max(maxScore, score[j]);
      }
      // Softmax, shifted by the max for stability (mathematically a no-op).
      double denom = 0;
      for (size_t j = 0; j <= i; ++j) {
        score[j] = std::exp(score[j] - maxScore);
        denom += score[j];
      }
      for (size_t j = 0; j <= i; ++j)
        for (int64_t c = 0; c < hd; ++c)
          out[i][c0 + c] += score[j] / denom * v[j][c0 + c];
    }
  }
  return out;
}

/// logits[t][v] = h[t] . head[v]; `head` is [vocab, D] (nn.Linear layout,
/// no bias), which is also the layout of a tied embedding table.
std::vector<float> lmHead(const Mat &h, const RefTensor &head) {
  int64_t V = head.shape[0], D = head.shape[1];
  std::vector<float> logits;
  logits.reserve(h.size() * V);
  for (size_t t = 0; t < h.size(); ++t)
    for (int64_t v = 0; v < V; ++v) {
      double acc = 0;
      for (int64_t i = 0; i < D; ++i)
        acc += h[t][i] * at(head, v, i);
      logits.push_back(static_cast<float>(acc));
    }
  return logits;
}

void checkConfig(int64_t dim, int64_t layers, int64_t heads, int64_t vocab,
                 int64_t positions) {
  if (dim <= 0 || layers < 0 || heads <= 0 || vocab <= 0 || positions <= 0)
    fail("config has a non-positive size");
  if (dim % heads != 0)
    fail("hidden size " + std::to_string(dim) +
         " is not divisible by the head count " + std::to_string(heads));
}

void checkTokens(const std::vector<int32_t> &tokens, int64_t vocab,
                 int64_t positions) {
  if (static_cast<int64_t>(tokens.size()) > positions)
    fail("sequence of " + std::to_string(tokens.size()) +
         " tokens exceeds the " + std::to_string(positions) +
         " position embeddings");
  for (int32_t tok : tokens)
    if (tok < 0 || tok >= vocab)
      fail("token id " + std::to_string(tok) + " outside vocabulary of " +
           std::to_string(vocab));
}

/// Rows of an embedding table: out[t] = table[rows[t]].
Mat gatherRows(const RefTensor &table, const std::vector<int64_t> &rows) {
  int64_t D = table.shape[1];
  Mat out(rows.size(), Vec(D));
  for (size_t t = 0; t < rows.size(); ++t)
    for (int64_t i = 0; i < D; ++i)
      out[t][i] = at(table, rows[t], i);
  return out;
}

} // namespace

//===----------------------------------------------------------------------===//
// OPT
//===----------------------------------------------------------------------===//

std::vector<float> optForward(const OptConfig &cfg, const WeightMap &w,
                              const std::vector<int32_t> &tokens) {
  const int64_t D = cfg.hidden, F = cfg.ffn, V = cfg.vocab;
  checkConfig(D, cfg.layers, cfg.heads, V, cfg.maxPositions);
  if (F <= 0)
    fail("config has a non-positive ffn size");
  checkTokens(tokens, V, cfg.maxPositions);

  const std::string dec = "model.decoder.";
  const RefTensor &embedTokens = get(w, dec + "embed_tokens.weight", {V, D});
  // OPTLearnedPositionalEmbedding allocates max_position_embeddings + 2 rows
  // and looks up position p at row p + 2 (a fairseq padding_idx legacy).
  const RefTensor &embedPositions =
      get(w, dec + "embed_positions.weight", {cfg.maxPositions + 2, D});

  // Validate every tensor up front so a bad map fails with a name even when
  // `tokens` is empty.
  auto vecD = std::vector<int64_t>{D};
  for (int64_t l = 0; l < cfg.layers; ++l) {
    std::string p = dec + "layers." + std::to_string(l) + ".";
    for (const char *ln : {"self_attn_layer_norm.", "final_layer_norm."}) {
      get(w, p + ln + "weight", vecD);
      get(w, p + ln + "bias", vecD);
    }
    for (const char *proj : {"q_proj.", "k_proj.", "v_proj.", "out_proj."}) {
      get(w, p + "self_attn." + proj + "weight", {D, D});
      get(w, p + "self_attn." + proj + "bias", vecD);
    }
    get(w, p + "fc1.weight", {F, D});
    get(w, p + "fc1.bias", {F});
    get(w, p + "fc2.weight", {D, F});
    get(w, p + "fc2.bias", vecD);
  }
  const RefTensor &lnFw = get(w, dec + "final_layer_norm.weight", vecD);
  const RefTensor &lnFb = get(w, dec + "final_layer_norm.bias", vecD);
  // OPTForCausalLM's lm_head (nn.Linear, no bias) is tied to embed_tokens by
  // default. A checkpoint that carries its own lm_head.weight (e.g. saved
  // with tie_word_embeddings=False) uses that one instead.
  const RefTensor &head = w.count("lm_head.weight")
                              ? get(w, "lm_head.weight", {V, D})
                              : embedTokens;

  // Embeddings: token + learned position (no embedding scale in OPT). With no
  // padding, HF's cumsum(attention_mask) - 1 gives positions 0..T-1.
  std::vector<int64_t> tokRows, posRows;
  for (size_t t = 0; t < tokens.size(); ++t) {
    tokRows.push_back(tokens[t]);
    posRows.push_back(static_cast<int64_t>(t) + 2);
  }
  Mat h = add(gatherRows(embedTokens, tokRows),
              gatherRows(embedPositions, posRows));

  const double scaling = 1.0 / std::sqrt(static_cast<double>(D / cfg.heads));
  for (int64_t l = 0; l < cfg.layers; ++l) {
    std::string p = dec + "layers." + std::to_string(l) + ".";
    auto W = [&](const std::string &name) -> const RefTensor & {
      return w.at(p + name); // shapes were validated above
    };

    // Pre-LN attention block: h = h + out_proj(attn(LN(h))).
    Mat x = layerNorm(h, W("self_attn_layer_norm.weight"),
                      W("self_attn_layer_norm.bias"), cfg.eps);
    // OPTAttention multiplies the projected query (bias included) by
    // head_dim^-0.5 and then calls attention with scaling 1.0; we keep that
    // order.
    Mat q = linear(x, W("self_attn.q_proj.weight"), W("self_attn.q_proj.bias"));
    for (Vec &row : q)
      for (double &v : row)
        v *= scaling;
    Mat k = linear(x, W("self_attn.k_proj.weight"), W("self_attn.k_proj.bias"));
    Mat v = linear(x, W("self_attn.v_proj.weight"), W("self_attn.v_proj.bias"));
    Mat a = causalAttention(q, k, v, cfg.heads, /*scoreScale=*/1.0);
    h = add(h, linear(a, W("self_attn.out_proj.weight"),
                      W("self_attn.out_proj.bias")));

    // Pre-LN MLP block: h = h + fc2(relu(fc1(LN(h)))).
    x = layerNorm(h, W("final_layer_norm.weight"), W("final_layer_norm.bias"),
                  cfg.eps);
    Mat f = linear(x, W("fc1.weight"), W("fc1.bias"));
    for (Vec &row : f)
      for (double &val : row)
        val = std::max(val, 0.0);
    h = add(h, linear(f, W("fc2.weight"), W("fc2.bias")));
  }

  // do_layer_norm_before=True models have a final LayerNorm on the decoder
  // output; project_out is absent because word_embed_proj_dim == hidden.
  h = layerNorm(h, lnFw, lnFb, cfg.eps);
  return lmHead(h, head);
}

//===----------------------------------------------------------------------===//
// GPT-2
//===----------------------------------------------------------------------===//

std::vector<float> gpt2Forward(const Gpt2Config &cfg, const WeightMap &w,
                               const std::vector<int32_t> &tokens) {
  const int64_t D = cfg.embd, V = cfg.vocab, F = 4 * cfg.embd;
  checkConfig(D, cfg.layers, cfg.heads, V, cfg.positions);
  checkTokens(tokens, V, cfg.positions);

  const std::string tr = "transformer.";
  const RefTensor &wte = get(w, tr + "wte.weight", {V, D});
  const RefTensor &wpe = get(w, tr + "wpe.weight", {cfg.positions, D});

  auto vecD = std::vector<int64_t>{D};
  for (int64_t l = 0; l < cfg.layers; ++l) {
    std::string p = tr + "h." + std::to_string(l) + ".";
    for (const char *ln : {"ln_1.", "ln_2."}) {
      get(w, p + ln + "weight", vecD);
      get(w, p + ln + "bias", vecD);
    }
    // Conv1D weights are [in, out].
    get(w, p + "attn.c_attn.weight", {D, 3 * D});
    get(w, p + "attn.c_attn.bias", {3 * D});
    get(w, p + "attn.c_proj.weight", {D, D});
    get(w, p + "attn.c_proj.bias", vecD);
    get(w, p + "mlp.c_fc.weight", {D, F});
    get(w, p + "mlp.c_fc.bias", {F});
    get(w, p + "mlp.c_proj.weight", {F, D});
    get(w, p + "mlp.c_proj.bias", vecD);
  }
  const RefTensor &lnFw = get(w, tr + "ln_f.weight", vecD);
  const RefTensor &lnFb = get(w, tr + "ln_f.bias", vecD);

  // Embeddings: wte[token] + wpe[position], positions 0..T-1.
  std::vector<int64_t> tokRows, posRows;
  for (size_t t = 0; t < tokens.size(); ++t) {
    tokRows.push_back(tokens[t]);
    posRows.push_back(static_cast<int64_t>(t));
  }
  Mat h = add(gatherRows(wte, tokRows), gatherRows(wpe, posRows));

  // GPT2Attention._attn divides the raw scores by sqrt(head_dim)
  // (value.size(-1) ** 0.5), after q.k.
  const double scoreScale =
      1.0 / std::sqrt(static_cast<double>(D / cfg.heads));
  const double kGeluC = std::sqrt(2.0 / std::numbers::pi);
  for (int64_t l = 0; l < cfg.layers; ++l) {
    std::string p = tr + "h." + std::to_string(l) + ".";
    auto W = [&](const std::string &name) -> const RefTensor & {
      return w.at(p + name); // shapes were validated above
    };

    // h = h + c_proj(attn(ln_1(h))), with c_attn's 3D outputs split as
    // [q | k | v] (split(split_size=D, dim=2)).
    Mat x = layerNorm(h, W("ln_1.weight"), W("ln_1.bias"), cfg.eps);
    Mat qkv = conv1d(x, W("attn.c_attn.weight"), W("attn.c_attn.bias"));
    Mat q(qkv.size()), k(qkv.size()), v(qkv.size());
    for (size_t t = 0; t < qkv.size(); ++t) {
      q[t].assign(qkv[t].begin(), qkv[t].begin() + D);
      k[t].assign(qkv[t].begin() + D, qkv[t].begin() + 2 * D);
      v[t].assign(qkv[t].begin() + 2 * D, qkv[t].end());
    }
    Mat a = causalAttention(q, k, v, cfg.heads, scoreScale);
    h = add(h, conv1d(a, W("attn.c_proj.weight"), W("attn.c_proj.bias")));

    // h = h + c_proj(gelu_new(c_fc(ln_2(h)))).
    x = layerNorm(h, W("ln_2.weight"), W("ln_2.bias"), cfg.eps);
    Mat f = conv1d(x, W("mlp.c_fc.weight"), W("mlp.c_fc.bias"));
    for (Vec &row : f)
      for (double &z : row)
        z = 0.5 * z * (1.0 + std::tanh(kGeluC * (z + 0.044715 * z * z * z)));
    h = add(h, conv1d(f, W("mlp.c_proj.weight"), W("mlp.c_proj.bias")));
  }

  h = layerNorm(h, lnFw, lnFb, cfg.eps);
  // GPT2LMHeadModel's lm_head (no bias) is tied to wte.
  return lmHead(h, wte);
}

} // namespace sqc::ref
