//===- codegen/CompiledGraph.cpp - Graphs lowered onto JIT kernels --------===//
#include "codegen/CompiledGraph.h"

#include "codegen/HostKernels.h"
#include "codegen/RowMath.h"
#include "runtime/ConstEval.h"
#include "runtime/Interpreter.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <mutex>
#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace sqc {

/// int_matmul(a, b) -> dequantize(., row scales) -> mul(., column scales),
/// or block_int_matmul(a, scales per row and block, b) -> mul(., column
/// scales): attention's quantized batched matmuls. Scale shapes are
/// checked when they are known, at run time.
struct MatMulChain {
  const Op *matmul, *dequantize, *rescale; // dequantize: null with blocks
  const Value *colScale;

  bool blocks() const { return !dequantize; }
  const Value *a() const { return matmul->operand(0); }
  const Value *b() const { return matmul->operand(blocks() ? 2 : 1); }
  const Value *rowScale() const {
    return blocks() ? matmul->operand(1) : dequantize->operand(1);
  }
  /// The row-scaled products before the column scales.
  const Value *scaled() const { return (blocks() ? matmul : dequantize)->result(); }
};

namespace {
/// Runs of at least this many rows use a linear's sign pairs (AVX2).
/// Prefill gains from them; decode (one row) streams weights from memory,
/// where the pmaddwd kernel's layout measured 1.5x faster.
constexpr int64_t kSignPairRows = 8;
} // namespace

struct CompiledGraph::Step {
  enum Kind {
    Interpret,   // the reference interpreter
    Host,        // a host kernel (HostKernels.h), else the interpreter
    QuantizeRows,
    Int8Linear,
    F32Linear,
    Int8MatMul,  // (block_)int_matmul -> dequantize? -> mul: batched int8 GEMMs
    F32MatMul,   // matmul: batched fp32 GEMMs
  } kind = Interpret;
  const Op *op = nullptr;           // the op (Interpret, Host, F32MatMul),
                                    // the quantizer or the int_matmul
  const Value *input = nullptr;     // x of a quantizer or fp32 linear
  const Value *output = nullptr;    // what a linear step defines
  const Op *quantizer = nullptr;    // Int8Linear: whose rows it reads
  float staticScale = 0;            // QuantizeRows: fixed scale, if any
  std::optional<int32_t> zeroPoint; // QuantizeRows: u8 codes with this zero point
  bool perTensor = false;           // QuantizeRows: one dynamic scale
  // QuantizeRows: whether none, some or all of the linears reading its
  // rows have sign pairs (the layouts to make for many rows).
  enum { NoSignPairs, SomeSignPairs, AllSignPairs } signPairReaders = NoSignPairs;
  PackedWeights packed;
  // Int8Linear on AVX2: the weights again as sign pairs, for runs of
  // kSignPairRows rows or more (prefill); fewer rows (decode) stream the
  // packed ones, which the pmaddwd kernel reads faster from memory.
  std::optional<PackedWeights> signPairs;
  std::vector<float> wScale, bias;
  const Value *residual = nullptr;  // Int8Linear: added in the epilogue
  // QuantizeRows: a norm whose rows it makes as it quantizes them (input is
  // then the norm's input), with its gamma and beta.
  const Op *norm = nullptr;
  std::vector<float> gamma, beta;
  // Int8Linear: the results the epilogue's adds stand in for (the rescale,
  // then the bias add if a residual follows), for observers to see.
  llvm::SmallVector<const Value *, 2> withinEpilogue;
  std::vector<int32_t> zeroComp;    // Int8Linear of u8 codes: z * sum_k w[n, k]
  std::vector<const Value *> reads; // env values the step consumes
  const Op *viewOf = nullptr;       // Host: the reshape it reads through
  const Op *throughTranspose = nullptr; // Host quantizer: the transpose it reads through
  // Host quantizer of a KV cache whose codes only an int8 matmul reads
  // (keepsCodes): its codes from the last run, and the cache they were made
  // from, which comes back as this run's past if it is the same buffer with
  // the same last row. The codes stay in columnCodes (not in the run's
  // values) when codesCurrent. (A pointer and mutable members through a
  // const Step: they change run by run.)
  std::unique_ptr<ColumnCodeCache> columnCodes;
  mutable const float *codedCache = nullptr;
  mutable std::vector<float> codedLastRow;
  mutable bool codesCurrent = false;
  const Step *codesFrom = nullptr; // Int8MatMul: the step whose columnCodes are b
  std::optional<MatMulChain> chain; // Int8MatMul: what it stands in for
};

namespace {

const Op *onlyUser(const Value *v) {
  return v->users().size() == 1 ? v->users().front() : nullptr;
}

/// The quantize -> int_linear -> dequantize -> mul(weight scales) chain
/// that ends at `lin`, if it has that shape. With a zero point (repq's u8
/// quantizer) the dequantize subtracts z * sum_k w per column and carries
/// its own per-column scales.
struct Int8Chain {
  const Op *quantizer, *linear, *dequantize, *rescale;
  const Value *scales; // the rescale's constant operand
  bool zeroPoint = false;
};

std::optional<Int8Chain> matchInt8Chain(const Op &lin) {
  if (lin.kind() != OpKind::IntLinear || !isCompileTimeValue(lin.operand(1)))
    return std::nullopt;
  const Op *q = lin.operand(0)->definingOp();
  if (!q)
    return std::nullopt;
  DType xt = lin.operand(0)->type().dtype();
  bool dynamic = xt == DType::I8 && q->kind() == OpKind::QuantizeDynamic &&
                 llvm::is_contained({"per-token", "per-tensor"}, q->stringAttr("granularity")) &&
                 !q->boolAttr("unsigned");
  bool fixed = xt == DType::I8 && q->kind() == OpKind::Quantize && q->numOperands() == 2 &&
               isCompileTimeValue(q->operand(1)) && q->operand(1)->type().rank() == 0;
  bool zeroPoint = xt == DType::U8 && q->kind() == OpKind::Quantize &&
                   q->numOperands() == 3 && isCompileTimeValue(q->operand(1)) &&
                   q->operand(1)->type().rank() == 0 && isCompileTimeValue(q->operand(2)) &&
                   q->operand(2)->type().rank() == 0;
  if (!dynamic && !fixed && !zeroPoint)
    return std::nullopt;
  const Op *dq = onlyUser(lin.result());
  if (!dq || dq->kind() != OpKind::Dequantize)
    return std::nullopt;
  if (zeroPoint ? dq->numOperands() != 3 || !isCompileTimeValue(dq->operand(1)) ||
                      !isCompileTimeValue(dq->operand(2)) ||
                      dq->operand(1)->type().rank() != 1
                : dq->numOperands() != 2 ||
                      dq->operand(1) != (dynamic ? q->result(1) : q->operand(1)))
    return std::nullopt;
  const Op *mul = onlyUser(dq->result());
  if (!mul || mul->kind() != OpKind::Mul)
    return std::nullopt;
  const Value *s = mul->operand(0) == dq->result() ? mul->operand(1) : mul->operand(0);
  int64_t N = lin.result()->type().dims().back().isStatic()
                  ? lin.result()->type().dims().back().size()
                  : -1;
  const TensorType &st = s->type();
  bool perColumn = st.isStatic() && (st.rank() == 0 || st.dims().back() == Dim(N));
  for (unsigned i = 0; perColumn && st.rank() > 0 && i + 1 < st.rank(); ++i)
    perColumn = st.dim(i) == Dim(1);
  if (!isCompileTimeValue(s) || !perColumn || st.dtype() != DType::F32)
    return std::nullopt;
  return Int8Chain{q, &lin, dq, mul, s, zeroPoint};
}

std::optional<MatMulChain> matchInt8MatMul(const Op &mm) {
  bool blocks = mm.kind() == OpKind::BlockIntMatMul;
  if ((mm.kind() != OpKind::IntMatMul && !blocks) ||
      mm.operand(blocks ? 2 : 1)->type().dtype() != DType::I8)
    return std::nullopt;
  const Op *dq = blocks ? nullptr : onlyUser(mm.result());
  if (!blocks && (!dq || dq->kind() != OpKind::Dequantize || dq->numOperands() != 2 ||
                  dq->intAttr("block") != 0 || dq->operand(0) != mm.result()))
    return std::nullopt;
  const Value *scaled = blocks ? mm.result() : dq->result();
  const Op *mul = onlyUser(scaled);
  if (!mul || mul->kind() != OpKind::Mul || mul->operand(0) == mul->operand(1))
    return std::nullopt;
  return MatMulChain{&mm, dq, mul, mul->operand(0) == scaled ? mul->operand(1) : mul->operand(0)};
}

/// The adds an int8 linear's epilogue takes after its rescale: a bias (a
/// compile-time vector of N floats), then a residual (a value of the
/// result's type defined before `lin` runs, per `before`). `last` is the op
/// whose result the fused step defines.
struct Epilogue {
  const Op *last = nullptr;
  const Value *bias = nullptr, *residual = nullptr;
  llvm::SmallVector<const Op *, 2> adds;
};

Epilogue matchEpilogue(const Int8Chain &c, const std::function<bool(const Value *)> &before) {
  Epilogue e;
  e.last = c.rescale;
  // The fused step's result has the linear's rank (a rescale that
  // broadcasts to more dimensions keeps its adds).
  if (c.rescale->result()->type().rank() != c.linear->result()->type().rank())
    return e;
  auto other = [](const Op *add, const Value *v) {
    return add->operand(0) == v ? add->operand(1) : add->operand(0);
  };
  const Op *u = onlyUser(c.rescale->result());
  const TensorType &t = c.rescale->result()->type();
  if (u && u->kind() == OpKind::Add && u->operand(0) != u->operand(1)) {
    const Value *b = other(u, e.last->result());
    const TensorType &bt = b->type();
    if (isCompileTimeValue(b) && bt.dtype() == DType::F32 && bt.rank() == 1 && t.rank() >= 1 &&
        bt.dim(0) == t.dims().back() && u->result()->type() == t) {
      e.bias = b;
      e.adds.push_back(u);
      e.last = u;
      u = onlyUser(u->result());
    }
  }
  if (u && u->kind() == OpKind::Add && u->operand(0) != u->operand(1)) {
    const Value *r = other(u, e.last->result());
    if (!isCompileTimeValue(r) && r->type() == t && u->result()->type() == t && before(r)) {
      e.residual = r;
      e.adds.push_back(u);
      e.last = u;
    }
  }
  return e;
}

/// Whether `q` quantizes a KV cache for one int8 matmul, so that its codes
/// can be kept between runs (ColumnCodeCache): quantize_dynamic per column,
/// or quantize by a fixed scalar scale, of transpose(reshape?(concat)).
bool keepsCodes(const Op &q) {
  bool perColumn = q.kind() == OpKind::QuantizeDynamic &&
                   q.stringAttr("granularity") == "per-column" && !q.boolAttr("unsigned");
  bool fixed = q.kind() == OpKind::Quantize && q.numOperands() == 2 &&
               isCompileTimeValue(q.operand(1)) && q.operand(1)->type().rank() == 0 &&
               q.result()->type().dtype() == DType::I8;
  if (!perColumn && !fixed)
    return false;
  // The context (the concat's axis 0) must become the codes' rows.
  const Op *t = q.operand(0)->definingOp();
  if (!t || t->kind() != OpKind::Transpose)
    return false;
  llvm::ArrayRef<int64_t> perm = t->intArrayAttr("perm");
  if (perm.size() < 2 || perm[perm.size() - 2] != 0 || perm.back() != int64_t(perm.size()) - 1)
    return false;
  const Op *source = t->operand(0)->definingOp();
  if (source && source->kind() == OpKind::Reshape)
    source = source->operand(0)->definingOp();
  const Op *mm = onlyUser(q.result(0));
  if (!source || source->kind() != OpKind::Concat || source->intAttr("axis") != 0 || !mm)
    return false;
  auto c = matchInt8MatMul(*mm);
  return c && c->b() == q.result(0) && c->a() != q.result(0);
}

/// The reference interpreter's result for a chain batchedMatMul declines;
/// `in` holds what the fused step reads. `dequantizedOnly` stops before the
/// column scales (at what an observer of the chain's middle sees).
llvm::Expected<std::vector<Tensor>> interpretChain(const MatMulChain &c,
                                                   llvm::ArrayRef<const Tensor *> in,
                                                   bool dequantizedOnly = false) {
  const Op &mm = *c.matmul;
  llvm::Expected<std::vector<Tensor>> deq = std::vector<Tensor>();
  if (c.blocks()) {
    const Tensor *mmIn[] = {in[0], in[2], in[1]};
    deq = evaluateOp(mm, llvm::ArrayRef<const Tensor *>(mmIn));
  } else {
    auto acc = evaluateOp(mm, in.take_front(2));
    if (!acc)
      return acc.takeError();
    const Tensor *dqIn[] = {&acc->front(), in[2]};
    deq = evaluateOp(*c.dequantize, llvm::ArrayRef<const Tensor *>(dqIn));
  }
  if (!deq || dequantizedOnly)
    return deq;
  bool first = c.rescale->operand(0) == c.scaled();
  const Tensor *mulIn[] = {first ? &deq->front() : in[3], first ? in[3] : &deq->front()};
  return evaluateOp(*c.rescale, llvm::ArrayRef<const Tensor *>(mulIn));
}

/// b of batchedMatMul: a tensor, or int8 codes a ColumnCodeCache keeps.
struct MatMulB {
  const Tensor *tensor = nullptr;
  const ColumnCodeCache *codes = nullptr;
  llvm::SmallVector<int64_t, 4> shape;
  // Element (batch, r, c) of b as [batches, R, C] is at batch * batchStride
  // + r * rowStride + c.
  int64_t batchStride = 0, rowStride = 0;

  explicit MatMulB(const Tensor &t) : tensor(&t), shape(t.shape()) {
    if (t.rank() >= 2) {
      rowStride = shape.back();
      batchStride = shape[shape.size() - 2] * rowStride;
    }
  }
  explicit MatMulB(const ColumnCodeCache &c)
      : codes(&c), shape(c.shape), batchStride(c.columns), rowStride(c.batches * c.columns) {}
  DType dtype() const { return tensor ? tensor->dtype() : DType::I8; }
  /// The codes: int32 in a tensor, int8 in a ColumnCodeCache.
  const int32_t *ints() const { return tensor->ints().data(); }
  const int8_t *bytes() const { return codes->codes.data(); }
};

/// The op's result that `c` keeps context-major, as a dense tensor (for
/// the reference path).
Tensor codesAsTensor(const ColumnCodeCache &c) {
  MatMulB view(c);
  Tensor t(DType::I8, view.shape);
  for (int64_t b = 0; b < c.batches; ++b)
    for (int64_t r = 0; r < c.rows; ++r)
      std::copy_n(c.codes.data() + b * view.batchStride + r * view.rowStride, c.columns,
                  t.ints().data() + (b * c.rows + r) * c.columns);
  return t;
}

/// out[..., M, N] = a[..., M, K] b (b as [..., N, K] when `transposeB`, else
/// [..., K, N]), batch dimensions broadcast. Int8 codes (a int8 or u8, b
/// int8) are scaled by rowScale[..., m, 0] * colScale[..., 0, n] in the
/// epilogue; f32 takes no scales. With `block` > 0 (not transposed),
/// rowScale[..., m, g] scales the sum over the g-th block of that many k
/// (block_int_matmul). False for shapes it does not handle.
bool batchedMatMul(const GemmEngine &engine, ThreadPool *pool, const Tensor &a, const MatMulB &b,
                   bool transposeB, const Tensor *rowScale, const Tensor *colScale,
                   Tensor &out, int64_t block = 0) {
  bool int8 = rowScale != nullptr;
  bool types = int8 ? (a.dtype() == DType::I8 || a.dtype() == DType::U8) && b.dtype() == DType::I8
                    : a.dtype() == DType::F32 && b.dtype() == DType::F32;
  if (!types || a.rank() < 2 || b.shape.size() < 2 || (block && (transposeB || !int8)))
    return false;
  llvm::ArrayRef<int64_t> bShape = b.shape;
  int64_t M = a.shape()[a.rank() - 2], K = a.shape().back();
  int64_t N = transposeB ? bShape[bShape.size() - 2] : bShape.back();
  if ((transposeB ? bShape.back() : bShape[bShape.size() - 2]) != K)
    return false;
  // Row scales per row and block of k (one block of all K without blocks).
  int64_t G = block ? (K + block - 1) / block : 1, span = block ? block : K;
  // Where b's (n, k) is: row r and column c of b's matrices.
  int64_t sn = transposeB ? b.rowStride : 1, sk = transposeB ? 1 : b.rowStride;
  llvm::SmallVector<int64_t, 4> batch, shape, check;
  if (!broadcastShapes(a.shape().drop_back(2), bShape.drop_back(2), batch))
    return false;
  shape = batch;
  shape.push_back(M);
  shape.push_back(N);
  llvm::SmallVector<int64_t, 4> rs, cs; // scale strides over their shapes
  if (int8) {
    llvm::SmallVector<int64_t, 4> rowShape(shape);
    rowShape.back() = G;
    auto fits = [&](const Tensor *t, llvm::ArrayRef<int64_t> want) {
      return t->dtype() == DType::F32 && broadcastShapes(want, t->shape(), check) &&
             check == want;
    };
    // Block scales come one per block (the interpreter checks as much).
    if (!fits(rowScale, rowShape) || !fits(colScale, shape) ||
        (block && rowScale->shape().back() != G))
      return false;
    rs = broadcastStrides(rowScale->shape(), rowShape);
    cs = broadcastStrides(colScale->shape(), shape);
    unsigned r = shape.size();
    if ((!block && rs[r - 1] != 0 && N > 1) || (cs[r - 2] != 0 && M > 1))
      return false;
  }
  out = Tensor(DType::F32, shape);
  int64_t batches = 1;
  for (int64_t d : batch)
    batches *= d;
  if (out.numElements() == 0 || K == 0) // (sums of nothing)
    return true;
  // Matrix offsets of each output batch in a, b and the scales.
  auto as = broadcastStrides(a.shape().drop_back(2), batch);
  auto bs = broadcastStrides(bShape.drop_back(2), batch);
  std::vector<int64_t> aOff(batches), bOff(batches), rOff(batches), cOff(batches);
  for (int64_t bi = 0; bi < batches; ++bi)
    for (int64_t d = int64_t(batch.size()) - 1, rest = bi; d >= 0; --d) {
      int64_t i = rest % batch[d];
      rest /= batch[d];
      aOff[bi] += i * as[d] * M * K;
      bOff[bi] += i * bs[d] * b.batchStride;
      if (int8) {
        rOff[bi] += i * rs[d];
        cOff[bi] += i * cs[d];
      }
    }
  double macs = double(batches) * M * N * K;
  auto parallel = [&](int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
    parallelForIfWorth(pool, n, macs, 8e6, fn);
  };
  unsigned r = shape.size();
  // aScale[m * G + g]: row m's scale for block g.
  auto scalesOf = [&](int64_t bi, float *aScale, float *wScale) {
    for (int64_t m = 0; m < M; ++m)
      for (int64_t g = 0; g < G; ++g)
        aScale[m * G + g] = rowScale->floats()[rOff[bi] + m * rs[r - 2] + g * rs[r - 1]];
    for (int64_t n = 0; n < N; ++n)
      wScale[n] = colScale->floats()[cOff[bi] + n * cs[r - 1]];
  };
  // Int32 sums run over one block of k at most.
  bool exactInt32 = double(std::min(span, K)) * 255 * 128 < 2147483647.0;
  // A few rows (decode) against context-major codes: walk the context once,
  // every head's part of a row together, in the order they lie in memory.
  if (M <= 4 && int8 && b.codes && exactInt32) {
    parallel(batches, [&](int64_t b0, int64_t b1) {
      int64_t nb = b1 - b0;
      std::vector<int32_t> acc(nb * M * N, 0);
      // Blocks add up in double, as in the interpreter: long contexts have
      // thousands of them.
      std::vector<double> sum(nb * M * N, 0.0);
      std::vector<float> aScale(nb * M * G), wScale(nb * N);
      for (int64_t bi = b0; bi < b1; ++bi)
        scalesOf(bi, aScale.data() + (bi - b0) * M * G, wScale.data() + (bi - b0) * N);
      auto accOf = [&](int64_t bi, int64_t m) { return acc.data() + ((bi - b0) * M + m) * N; };
      auto rowOf = [&](int64_t bi, int64_t m) { return a.ints().data() + aOff[bi] + m * K; };
      // Adds the int32 sums, times their rows' scales for block g, to `sum`.
      auto flush = [&](int64_t g) {
        for (int64_t i = 0; i < nb * M; ++i) {
          float s = aScale[i * G + g];
          for (int64_t n = 0; n < N; ++n)
            sum[i * N + n] += double(float(acc[i * N + n]) * s);
        }
        std::fill(acc.begin(), acc.end(), 0);
      };
      for (int64_t r = 0; r < (transposeB ? N : K); ++r) {
        for (int64_t bi = b0; bi < b1; ++bi)
          for (int64_t m = 0; m < M; ++m) {
            const int8_t *B = b.bytes() + bOff[bi] + r * b.rowStride;
            if (transposeB)
              accOf(bi, m)[r] = dotI32(rowOf(bi, m), B, K);
            else
              axpyI32(rowOf(bi, m)[r], B, N, accOf(bi, m));
          }
        if (block && (r + 1) % block == 0 && r + 1 < K)
          flush(r / block);
      }
      if (G > 0)
        flush(G - 1);
      for (int64_t bi = b0; bi < b1; ++bi) {
        float *c = out.floats().data() + bi * M * N;
        const double *sb = sum.data() + (bi - b0) * M * N;
        const float *ws = wScale.data() + (bi - b0) * N;
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n)
            c[m * N + n] = float(sb[m * N + n]) * ws[n];
      }
    });
    return true;
  }
  // A few rows (decode): dot products and row updates straight from the
  // operands cost less than packing them. Int8 sums stay exact in int32.
  if (M <= 4 && !b.codes && (!int8 || exactInt32)) {
    parallel(batches, [&](int64_t b0, int64_t b1) {
      std::vector<float> aScale(M * G), wScale(N);
      std::vector<double> sum(N);
      std::vector<int32_t> acc(N);
      for (int64_t bi = b0; bi < b1; ++bi) {
        float *c = out.floats().data() + bi * M * N;
        if (int8)
          scalesOf(bi, aScale.data(), wScale.data());
        for (int64_t m = 0; m < M; ++m) {
          if (int8) {
            const int32_t *A = a.ints().data() + aOff[bi] + m * K, *B = b.ints() + bOff[bi];
            std::fill(sum.begin(), sum.end(), 0.0);
            if (transposeB) {
              for (int64_t n = 0; n < N; ++n)
                acc[n] = dotI32(A, B + n * sn, K);
            }
            for (int64_t g = 0; g < G; ++g) {
              if (!transposeB) {
                std::fill(acc.begin(), acc.end(), 0);
                for (int64_t k = g * span; k < std::min(K, (g + 1) * span); ++k)
                  axpyI32(A[k], B + k * sk, N, acc.data());
              }
              for (int64_t n = 0; n < N; ++n)
                sum[n] += double(float(acc[n]) * aScale[m * G + g]);
            }
            for (int64_t n = 0; n < N; ++n)
              c[m * N + n] = float(sum[n]) * wScale[n];
            continue;
          }
          const float *A = a.floats().data() + aOff[bi] + m * K,
                      *B = b.tensor->floats().data() + bOff[bi];
          if (transposeB) {
            for (int64_t n = 0; n < N; ++n)
              c[m * N + n] = dotF32(A, B + n * sn, K);
          } else {
            std::fill(c + m * N, c + (m + 1) * N, 0.0f);
            for (int64_t k = 0; k < K; ++k)
              axpyF32(A[k], B + k * sk, N, c + m * N);
          }
        }
      }
    });
    return true;
  }
  // The GEMM kernels sum in int32 too: longer sums go to the reference.
  if (int8 && !exactInt32)
    return false;
  // Pack each distinct b matrix once (grouped-query heads share theirs), a
  // panel per block of k.
  std::vector<int64_t> distinct(bOff);
  llvm::sort(distinct);
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  std::vector<PackedWeights> packed(distinct.size() * G);
  parallel(int64_t(packed.size()), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      int64_t k0 = i % G * span, kn = std::min(span, K - k0), at = distinct[i / G] + k0 * sk;
      packed[i] = !int8    ? engine.packF32(b.tensor->floats().data() + at, N, kn, sn, sk)
                  : b.codes ? engine.packInt8(b.bytes() + at, N, kn, sn, sk)
                            : engine.packInt8(b.ints() + at, N, kn, sn, sk);
    }
  });
  parallel(batches, [&](int64_t b0, int64_t b1) {
    QuantizedRows rows;
    std::vector<float> aScale(M * G), wScale(N), blockScale, part;
    std::vector<double> total;
    std::vector<int32_t> slice;
    for (int64_t bi = b0; bi < b1; ++bi) {
      const PackedWeights *w =
          &packed[(std::lower_bound(distinct.begin(), distinct.end(), bOff[bi]) -
                   distinct.begin()) * G];
      float *c = out.floats().data() + bi * M * N;
      const int32_t *A = int8 ? a.ints().data() + aOff[bi] : nullptr;
      if (!int8) {
        engine.f32Gemm(a.floats().data() + aOff[bi], K, M, *w, nullptr, nullptr, c, N, nullptr);
        continue;
      }
      scalesOf(bi, aScale.data(), wScale.data());
      if (!block) {
        engine.loadRows(A, aScale.data(), M, K, a.dtype() == DType::U8, rows);
        engine.int8Gemm(rows, *w, wScale.data(), nullptr, nullptr, c, N, nullptr);
        continue;
      }
      // One GEMM per block of k, added up in double. Rows whose codes in a
      // block are all zero before the first that is not (the causal mask's
      // upper triangle) skip it.
      total.assign(M * N, 0.0);
      for (int64_t g = 0; g < G; ++g) {
        int64_t k0 = g * span, kn = std::min(span, K - k0), m0 = 0;
        while (m0 < M && std::all_of(A + m0 * K + k0, A + m0 * K + k0 + kn,
                                     [](int32_t v) { return v == 0; }))
          ++m0;
        int64_t rowsLeft = M - m0;
        if (!rowsLeft)
          continue;
        slice.resize(rowsLeft * kn);
        blockScale.resize(rowsLeft);
        for (int64_t m = 0; m < rowsLeft; ++m) {
          std::copy_n(A + (m0 + m) * K + k0, kn, slice.data() + m * kn);
          blockScale[m] = aScale[(m0 + m) * G + g];
        }
        engine.loadRows(slice.data(), blockScale.data(), rowsLeft, kn, a.dtype() == DType::U8,
                        rows);
        part.resize(rowsLeft * N);
        engine.int8Gemm(rows, w[g], wScale.data(), nullptr, nullptr, part.data(), N, nullptr);
        double *tm = total.data() + m0 * N;
        for (int64_t i = 0; i < rowsLeft * N; ++i)
          tm[i] += part[i];
      }
      for (int64_t i = 0; i < M * N; ++i)
        c[i] = float(total[i]);
    }
  });
  return true;
}

} // namespace

/// A run allocates and frees the same large tensors at every step. glibc
/// maps blocks of 128 KiB and more afresh each time and returns freed heap
/// tops to the system, so every step page-faults its memory in again, which
/// cost more than the arithmetic of a decode step. Keep freed memory for
/// reuse instead (process-wide, once).
void keepFreedMemory() {
#ifdef __GLIBC__
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  });
#endif
}

CompiledGraph::~CompiledGraph() = default;

llvm::Expected<std::unique_ptr<CompiledGraph>>
CompiledGraph::compile(const Graph &g, WeightStore *weights, const JitOptions &options) {
  keepFreedMemory();
  auto cg = std::unique_ptr<CompiledGraph>(new CompiledGraph());
  cg->graph_ = &g;
  cg->weights_ = weights;
  GemmIsa isa = options.isa.value_or(bestGemmIsa(options.target));
  // Kernels for a CPU with more than this one would die of an illegal
  // instruction on their first call.
  if (auto lacking = featuresTheHostLacks(options.target); !lacking.empty())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "kernels for the target cannot run on this CPU (" + TargetSpec::host().cpu +
            "), which lacks " + llvm::join(lacking, ", ") +
            "; `sqc-run --emit=asm` prints them without running");
  auto engine = GemmEngine::shared(options.target, isa);
  if (!engine)
    return engine.takeError();
  cg->engine_ = std::move(*engine);
  cg->pool_ = std::make_unique<ThreadPool>(options.threads);
  cg->profiling_ = options.profile;

  // Which chains fuse: a quantizer fuses when every use of its results is in
  // a fusable chain.
  llvm::DenseMap<const Op *, std::vector<Int8Chain>> byQuantizer;
  for (const Op &op : g.ops())
    if (auto c = matchInt8Chain(op))
      byQuantizer[c->quantizer].push_back(*c);
  llvm::DenseSet<const Op *> fused; // ops a fused step stands in for
  llvm::DenseMap<const Op *, Int8Chain> chainOf; // by int_linear
  for (auto &[q, chains] : byQuantizer) {
    size_t uses = 0;
    for (unsigned r = 0; r < q->numResults(); ++r)
      uses += q->result(r)->users().size();
    // Dynamic quantizers: each chain uses q and its scale; static: q only.
    size_t expected = chains.size() * q->numResults();
    if (uses != expected)
      continue;
    fused.insert(q);
    for (const Int8Chain &c : chains) {
      fused.insert(c.linear);
      fused.insert(c.dequantize);
      fused.insert(c.rescale);
      chainOf[c.linear] = c;
    }
  }

  // A norm read only by a fused per-token quantizer (the q/k/v or gate/up
  // inputs) is computed row by row inside it: its floats are never stored.
  llvm::DenseMap<const Op *, const Op *> normOf; // quantizer -> norm
  for (const Op *q : fused) {
    bool perToken = (q->kind() == OpKind::QuantizeDynamic &&
                     q->stringAttr("granularity") != "per-tensor") ||
                    (q->kind() == OpKind::Quantize && q->numOperands() == 2);
    const Op *n = perToken ? q->operand(0)->definingOp() : nullptr;
    if (n && (n->kind() == OpKind::RmsNorm || n->kind() == OpKind::LayerNorm) &&
        onlyUser(n->result()) == q && n->operand(0)->type().dtype() == DType::F32 &&
        llvm::all_of(n->operands().drop_front(), [](const Value *v) {
          return isCompileTimeValue(v) && v->type().rank() == 1;
        }))
      normOf[q] = n;
  }
  for (auto &[q, n] : normOf)
    fused.insert(n);

  // Attention's int8 matmuls run where their rescale is: every operand is
  // defined by then (the column scales often come after the matmul).
  llvm::DenseMap<const Op *, MatMulChain> matMulAt; // by rescale
  for (const Op &op : g.ops())
    if (auto c = matchInt8MatMul(op)) {
      fused.insert(c->matmul);
      if (c->dequantize)
        fused.insert(c->dequantize);
      matMulAt[c->rescale] = *c;
    }

  // A transpose of a reshape read by nothing else reads the reshape's input
  // as the reshaped shape: one copy instead of two (attention's heads).
  llvm::DenseMap<const Op *, const Op *> viewOf; // transpose -> reshape
  for (const Op &op : g.ops())
    if (op.kind() == OpKind::Transpose)
      if (const Op *r = op.operand(0)->definingOp();
          r && r->kind() == OpKind::Reshape && onlyUser(r->result()) == &op) {
        fused.insert(r);
        viewOf[&op] = r;
      }

  // quantize_dynamic of a transpose that keeps rows (attention's heads)
  // quantizes each row where it lies: the transposed floats are never made.
  // So do the quantizers whose codes are kept between runs (keepsCodes).
  llvm::DenseMap<const Op *, const Op *> quantizeThrough; // quantize -> transpose
  llvm::DenseSet<const Op *> keptCodes;                   // quantizers
  for (const Op &op : g.ops()) {
    bool kept = keepsCodes(op);
    // (An int8 linear's row quantizer reads its input whole: not these.)
    if ((op.kind() == OpKind::QuantizeDynamic || kept) && !fused.count(&op))
      if (const Op *t = op.operand(0)->definingOp();
          t && t->kind() == OpKind::Transpose && onlyUser(t->result()) == &op &&
          !t->intArrayAttr("perm").empty() &&
          t->intArrayAttr("perm").back() == int64_t(t->intArrayAttr("perm").size()) - 1) {
        fused.insert(t);
        quantizeThrough[&op] = t;
        if (kept)
          keptCodes.insert(&op);
      }
  }

  // Compile-time values read only by fused steps (the weights of a fused
  // linear, grouped INT4 expansions, an fp32 linear's weight and bias, as
  // fake-quantized weights are before fuse-qdq) are evaluated once at
  // packing: no step.
  auto f32Lowerable = [](const Op &op) {
    return op.kind() == OpKind::Linear && op.operand(0)->type().dtype() == DType::F32 &&
           isCompileTimeValue(op.operand(1)) &&
           (op.numOperands() < 3 || isCompileTimeValue(op.operand(2)));
  };
  llvm::DenseSet<const Op *> packedOnly;
  std::vector<const Op *> order;
  for (const Op &op : g.ops())
    order.push_back(&op);
  for (const Op *op : llvm::reverse(order))
    if (op->numResults() == 1 && isCompileTimeValue(op->result()) &&
        op->result()->hasUses() &&
        llvm::all_of(op->result()->users(), [&](const Op *u) {
          // Only what packing reads: a fused int_linear's weight.
          bool weight = (u->kind() == OpKind::IntLinear && chainOf.count(u)) ||
                        f32Lowerable(*u);
          return (weight && u->operand(0) != op->result()) || packedOnly.count(u);
        }))
      packedOnly.insert(op);

  ConstEvaluator eval(weights);
  // Weight chains (fake-quantized weights before fuse-qdq, smoothing
  // products) on the host kernels where those are exact.
  eval.setFastPath([&](const Op &op, llvm::ArrayRef<const Tensor *> in,
                       std::vector<Tensor> &out) {
    return hostKernelIsExact(op) && runHostKernel(op, in, out, cg->pool_.get());
  });
  auto constant = [&](const Value *v) { return eval.evaluate(v); };
  // A compile-time weight's int8 codes, straight from the weights file
  // when it is a stored i8/i4 tensor (no int32 Tensor made and cached).
  auto codesOf = [&](const Value *w) -> llvm::Expected<std::vector<int8_t>> {
    if (const Op *d = w->definingOp(); d && d->kind() == OpKind::Weight && weights)
      if (auto codes = weights->readCodes(d->stringAttr("name"), w->type()))
        return std::move(*codes);
    auto t = constant(w);
    if (!t)
      return t.takeError();
    return std::vector<int8_t>((*t)->ints().begin(), (*t)->ints().end());
  };
  auto matrixDims = [](const Value *w) {
    return std::pair<int64_t, int64_t>(w->type().dims()[0].size(), w->type().dims()[1].size());
  };
  llvm::DenseMap<const Op *, size_t> position;
  for (const Op &op : g.ops())
    position[&op] = position.size();
  llvm::DenseMap<const Op *, const Step *> codesStep; // quantizers with columnCodes
  for (const Op &op : g.ops()) {
    auto step = std::make_unique<Step>();
    step->op = &op;
    if (packedOnly.count(&op))
      continue;
    if (fused.count(&op)) {
      if (op.kind() == OpKind::QuantizeDynamic || op.kind() == OpKind::Quantize) {
        step->kind = Step::QuantizeRows;
        step->input = op.operand(0);
        if (const Op *n = normOf.lookup(&op)) {
          step->norm = n;
          step->input = n->operand(0);
          for (unsigned i = 1; i < n->numOperands(); ++i) {
            auto t = constant(n->operand(i));
            if (!t)
              return t.takeError();
            (i == 1 ? step->gamma : step->beta) = (*t)->floats();
          }
        }
        step->reads = {step->input};
        step->perTensor = op.kind() == OpKind::QuantizeDynamic &&
                          op.stringAttr("granularity") == "per-tensor";
        if (op.kind() == OpKind::Quantize) {
          auto s = constant(op.operand(1));
          if (!s)
            return s.takeError();
          step->staticScale = float((*s)->get(0));
          if (op.numOperands() == 3) {
            auto z = constant(op.operand(2));
            if (!z)
              return z.takeError();
            step->zeroPoint = int32_t((*z)->get(0));
          }
        }
      } else if (op.kind() == OpKind::IntLinear) {
        const Int8Chain &c = chainOf[&op];
        // 4-bit codes stay 4-bit in memory: the kernel unpacks them (and
        // multiplies grouped ones by their group's multiplier).
        bool packed = false;
        const Op *expand = op.operand(1)->definingOp();
        if (expand && expand->kind() == OpKind::ExpandGroups) {
          auto q = codesOf(expand->operand(0));
          if (!q)
            return q.takeError();
          auto mult = constant(expand->operand(1));
          if (!mult)
            return mult.takeError();
          std::vector<uint8_t> m((*mult)->ints().begin(), (*mult)->ints().end());
          auto [N, K] = matrixDims(expand->operand(0));
          if (auto p = cg->engine_->packInt4Grouped(q->data(), m.data(), N, K,
                                                    (*mult)->shape()[1])) {
            step->packed = std::move(*p);
            packed = true;
            ++cg->groupedLinears_;
          }
        }
        if (!packed) {
          auto codes = codesOf(op.operand(1));
          if (!codes)
            return codes.takeError();
          auto [N, K] = matrixDims(op.operand(1));
          bool int4 = op.operand(1)->type().dtype() == DType::I4;
          step->packed = int4 ? cg->engine_->packInt4(codes->data(), N, K)
                              : cg->engine_->packInt8(codes->data(), N, K);
          // Signed rows on AVX2 take the sign-pair kernel in prefill.
          if (!int4 && !c.zeroPoint)
            step->signPairs = cg->engine_->packInt8SignPairs(codes->data(), N, K);
          cg->int4Linears_ += int4;
          cg->signPairLinears_ += step->signPairs.has_value();
        }
        int64_t N = step->packed.N;
        auto s = constant(c.scales);
        if (!s)
          return s.takeError();
        step->kind = Step::Int8Linear;
        step->quantizer = c.quantizer;
        // Bias and residual adds after the rescale run in the epilogue.
        Epilogue e = matchEpilogue(c, [&](const Value *v) {
          const Op *d = v->definingOp();
          return !d || position.lookup(d) < position.lookup(&op);
        });
        for (const Op *add : e.adds) {
          fused.insert(add);
          step->withinEpilogue.push_back(add == e.adds.front() ? c.rescale->result()
                                                               : e.adds.front()->result());
        }
        step->output = e.last->result();
        if (e.bias) {
          auto b = constant(e.bias);
          if (!b)
            return b.takeError();
          step->bias = (*b)->floats();
        }
        if ((step->residual = e.residual))
          step->reads = {e.residual};
        step->wScale.resize(N);
        for (int64_t n = 0; n < N; ++n)
          step->wScale[n] = float((*s)->get((*s)->numElements() == 1 ? 0 : n));
        if (c.zeroPoint) {
          // (acc - zp[n]) * dqScale[n] * wScale[n]; the rows carry scale 1.
          auto ds = constant(c.dequantize->operand(1));
          if (!ds)
            return ds.takeError();
          auto zp = constant(c.dequantize->operand(2));
          if (!zp)
            return zp.takeError();
          if ((*ds)->numElements() != N || (*zp)->numElements() != N)
            return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                           "dequantize of a zero-point int_linear needs one "
                                           "scale and zero point per output column");
          step->zeroComp.assign(step->packed.panels * cg->engine_->tiling().nr, 0);
          for (int64_t n = 0; n < N; ++n) {
            step->zeroComp[n] = int32_t((*zp)->get(n));
            step->wScale[n] = float(double(step->wScale[n]) * (*ds)->get(n));
          }
        }
        ++cg->int8Linears_;
      } else {
        continue; // dequantize / rescale: in the linear's epilogue
      }
      cg->steps_.push_back(std::move(step));
      continue;
    }
    if (f32Lowerable(op)) {
      auto w = constant(op.operand(1));
      if (!w)
        return w.takeError();
      int64_t N = (*w)->shape()[0], K = (*w)->shape()[1];
      step->kind = Step::F32Linear;
      step->input = op.operand(0);
      step->output = op.result();
      step->reads = {op.operand(0)};
      step->packed = cg->engine_->packF32((*w)->floats().data(), N, K);
      if (op.numOperands() == 3) {
        auto b = constant(op.operand(2));
        if (!b)
          return b.takeError();
        step->bias = (*b)->floats();
      }
      ++cg->f32Linears_;
      cg->steps_.push_back(std::move(step));
      continue;
    }
    if (auto it = matMulAt.find(&op); it != matMulAt.end()) {
      const MatMulChain &c = it->second;
      step->kind = Step::Int8MatMul;
      step->op = c.matmul;
      step->chain = c;
      step->output = op.result();
      step->reads = {c.a(), c.b(), c.rowScale(), c.colScale};
      // b straight from the quantizer's kept codes (when it has them).
      if ((step->codesFrom = codesStep.lookup(c.b()->definingOp())))
        step->reads.erase(step->reads.begin() + 1);
      ++cg->int8MatMuls_;
      cg->steps_.push_back(std::move(step));
      continue;
    }
    step->reads.assign(op.operands().begin(), op.operands().end());
    const Op *through = quantizeThrough.lookup(&op);
    if (through) {
      step->throughTranspose = through;
      step->reads = {through->operand(0)};
    }
    if (auto it = viewOf.find(through ? through : &op); it != viewOf.end()) {
      step->viewOf = it->second;
      step->reads = {it->second->operand(0)};
    }
    if (keptCodes.count(&op)) {
      step->columnCodes = std::make_unique<ColumnCodeCache>();
      codesStep[&op] = step.get();
      if (op.kind() == OpKind::Quantize) // its fixed scale
        step->reads.push_back(op.operand(1));
    }
    if (op.kind() == OpKind::MatMul) {
      step->kind = Step::F32MatMul;
      ++cg->f32MatMuls_;
    } else if (hostKernelCovers(op)) {
      step->kind = Step::Host;
    }
    cg->steps_.push_back(std::move(step));
  }
  // Each quantizer makes the row layouts of the linears that read it.
  llvm::DenseMap<const Op *, std::pair<bool, bool>> readBy; // (sign pairs, others)
  for (const auto &s : cg->steps_)
    if (s->kind == Step::Int8Linear) {
      auto &[signPairs, others] = readBy[s->quantizer];
      (s->signPairs ? signPairs : others) = true;
    }
  for (auto &s : cg->steps_)
    if (s->kind == Step::QuantizeRows) {
      auto [signPairs, others] = readBy.lookup(s->op);
      s->signPairReaders = !signPairs ? Step::NoSignPairs
                           : others   ? Step::SomeSignPairs
                                      : Step::AllSignPairs;
    }
  // Weights and constants that only fused or packed steps read are not
  // needed at run time; everything else is interpreted.
  llvm::DenseSet<const Value *> read;
  for (const auto &s : cg->steps_)
    read.insert(s->reads.begin(), s->reads.end());
  std::vector<std::unique_ptr<Step>> kept;
  for (auto &s : cg->steps_) {
    bool isSource = s->kind == Step::Interpret &&
                    (s->op->kind() == OpKind::Weight || s->op->kind() == OpKind::Constant);
    if (isSource && !read.count(s->op->result()))
      continue;
    if (s->kind == Step::Interpret && s->op->kind() != OpKind::Return)
      ++cg->interpreted_;
    if (s->kind == Step::Host)
      ++cg->hostOps_;
    cg->keptCodes_ += bool(s->columnCodes);
    kept.push_back(std::move(s));
  }
  cg->steps_ = std::move(kept);
  // The kernels the steps call, compiled now rather than in the first run.
  const GemmEngine &e = *cg->engine_;
  if (cg->int8Linears_ > cg->int4Linears_ + cg->groupedLinears_ || cg->int8MatMuls_)
    e.prepare(GemmKind::Int8);
  if (cg->signPairLinears_)
    e.prepare(GemmKind::Int8SignPairs);
  if (cg->int4Linears_)
    e.prepare(GemmKind::Int4);
  if (cg->groupedLinears_)
    e.prepare(GemmKind::Int4Grouped);
  if (cg->f32Linears_ || cg->f32MatMuls_)
    e.prepare(GemmKind::F32);
  if (llvm::any_of(g.ops(), [](const Op &op) { return op.kind() == OpKind::Log2MatMul; }))
    e.prepareLog2();
  return cg;
}

std::string CompiledGraph::describe() const {
  // Integer linears with 4-bit weights count as int8 too (the same kernels,
  // their weights unpacked in registers).
  std::string detail;
  if (int4Linears_ || groupedLinears_)
    detail = std::to_string(int4Linears_ + groupedLinears_) + " of them int4" +
             (groupedLinears_ ? ", " + std::to_string(groupedLinears_) + " in groups" : "");
  if (signPairLinears_)
    detail += (detail.empty() ? "" : ", ") + std::to_string(signPairLinears_) + " also as sign pairs";
  return std::to_string(int8Linears_) + " int8" + (detail.empty() ? "" : " (" + detail + ")") +
         " and " + std::to_string(f32Linears_) +
         " fp32 linears, " + std::to_string(int8MatMuls_) + " int8 and " +
         std::to_string(f32MatMuls_) + " fp32 batched matmuls on " +
         gemmIsaName(engine_->isa()).str() + " kernels, " + std::to_string(pool_->size()) +
         " threads; " + std::to_string(hostOps_) + " ops on host kernels, " +
         std::to_string(interpreted_) + " interpreted" +
         (keptCodes_ ? "; int8 codes of " + std::to_string(keptCodes_) +
                           " KV caches kept between runs"
                     : "");
}

namespace {

/// Runs step `s`, a quantizer of a KV cache (keepsCodes), on its
/// kept codes: when the cache's past rows (`pastRows` of them, in buffer
/// `past`) are the rows coded last run, in the same buffer and with the same
/// last row, only the appended rows are quantized. False: run it as usual.
bool quantizeGrownCache(const CompiledGraph::Step &s, GraphRun &run, const float *past,
                        int64_t pastRows, ThreadPool *pool) {
  s.codesCurrent = false;
  const Tensor &x = run.get(s.reads[0]);
  if (x.dtype() != DType::F32 || x.rank() == 0 || x.shape()[0] == 0)
    return false;
  int64_t width = x.numElements() / x.shape()[0];
  bool same = past && past == s.codedCache && pastRows > 0 && pastRows <= x.shape()[0] &&
              int64_t(s.codedLastRow.size()) == width &&
              std::memcmp(s.codedLastRow.data(), x.floats().data() + (pastRows - 1) * width,
                          width * sizeof(float)) == 0;
  const Tensor *fixedScale = s.op->kind() == OpKind::Quantize ? &run.get(s.reads[1]) : nullptr;
  s.codesCurrent = updateColumnCodes(*s.op, *s.throughTranspose, s.viewOf, x, fixedScale,
                                     same ? pastRows : 0, *s.columnCodes, pool);
  if (!s.codesCurrent)
    return false;
  s.codedCache = x.floats().data();
  s.codedLastRow.assign(x.floats().end() - width, x.floats().end());
  run.release(s.reads);
  if (!fixedScale)
    run.lend(s.op->result(1), &s.columnCodes->scales);
  return true;
}

} // namespace

llvm::Expected<std::vector<Tensor>> CompiledGraph::run(std::vector<Tensor> inputs,
                                                       const ValueObserver *observe) {
  GraphRun run(*graph_, weights_, observe);
  if (llvm::Error e = run.start(std::move(inputs)))
    return e;
  for (const auto &s : steps_)
    for (const Value *v : s->reads)
      run.addUse(v);
  struct QuantizedInput {
    QuantizedRows rows;
    llvm::SmallVector<int64_t, 4> leading; // x's shape without its last dim
  };
  llvm::DenseMap<const Op *, QuantizedInput> rows; // by quantizer
  struct Grown {
    const float *past = nullptr; // the buffer the past rows were in
    int64_t pastRows = 0;
  };
  llvm::DenseMap<const Value *, Grown> grown; // caches extended in place

  using Clock = std::chrono::steady_clock;
  for (const auto &sp : steps_) {
    const Step &s = *sp;
    const Op &op = *s.op;
    Clock::time_point t0 = profiling_ ? Clock::now() : Clock::time_point();
    switch (s.kind) {
    case Step::QuantizeRows: {
      const Tensor *in = &run.get(s.input);
      int64_t K = in->shape().empty() ? 1 : in->shape().back();
      GemmEngine::RowPrologue norm;
      if (s.norm) {
        if (int64_t(s.gamma.size()) != K || (!s.beta.empty() && int64_t(s.beta.size()) != K))
          return run.fail(s.norm, "norm weights do not match the last dimension " +
                                      std::to_string(K));
        bool layerNorm = s.norm->kind() == OpKind::LayerNorm;
        double eps = s.norm->floatAttr("eps");
        norm = [&, layerNorm, eps, K](const float *v, float *o) {
          normRow(v, K, s.gamma.data(), s.beta.empty() ? nullptr : s.beta.data(), layerNorm, eps,
                  o);
        };
      }
      // The norm's result is made whole only for an observer, which must
      // see it.
      Tensor made;
      if (s.norm && observe) {
        made = Tensor(DType::F32, in->shape());
        for (int64_t r = 0; K && r < in->numElements() / K; ++r)
          norm(in->floats().data() + r * K, made.floats().data() + r * K);
        (*observe)(*s.norm->result(), made);
        in = &made;
      }
      bool prologue = s.norm && !observe;
      const Tensor &x = *in;
      int64_t M = K ? x.numElements() / K : 0;
      float scale = s.staticScale;
      if (s.perTensor) {
        scale = dynamicScale(rowAbsMax(x.floats().data(), x.numElements()), 127.0);
      }
      QuantizedInput &q = rows[&op];
      q.leading.assign(x.shape().begin(), x.shape().end() - (x.shape().empty() ? 0 : 1));
      if (s.zeroPoint) {
        // u8 codes round(x / s) + z, the interpreter's; the scale goes to
        // the epilogue with the weight scales.
        std::vector<int32_t> codes(x.numElements());
        for (size_t i = 0; i < codes.size(); ++i)
          codes[i] = int32_t(quantizationCode(x.floats()[i], scale, *s.zeroPoint, 0, 255));
        std::vector<float> ones(M, 1.0f);
        engine_->loadRows(codes.data(), ones.data(), M, K, /*isUnsigned=*/true, q.rows);
      } else {
        engine_->quantizeRows(x.floats().data(), M, K, q.rows, scale, pool_.get(),
                              prologue ? &norm : nullptr,
                              M < kSignPairRows || s.signPairReaders == Step::NoSignPairs
                                  ? GemmEngine::RowReaders::Others
                              : s.signPairReaders == Step::AllSignPairs
                                  ? GemmEngine::RowReaders::SignPairs
                                  : GemmEngine::RowReaders::All);
      }
      run.release(s.reads);
      break;
    }
    case Step::Int8Linear: {
      const QuantizedInput &a = rows[s.quantizer];
      // The quantizer input's leading shape, with N columns.
      llvm::SmallVector<int64_t, 4> shape(a.leading);
      shape.push_back(s.packed.N);
      Tensor out(DType::F32, shape);
      const Tensor *residual = s.residual ? &run.get(s.residual) : nullptr;
      if (residual && residual->shape() != out.shape())
        return run.fail(s.output->definingOp(), "residual " + residual->type().str() +
                                                    " does not match the linear's result " +
                                                    out.type().str());
      // An observer sees every result the fused adds stand in for: the adds
      // then run one by one after the GEMM (the same float sums), each
      // result shown to it as it is made (nothing else reads them).
      bool apart = observe && !s.withinEpilogue.empty();
      const PackedWeights &w =
          s.signPairs && a.rows.M >= kSignPairRows ? *s.signPairs : s.packed;
      engine_->int8Gemm(a.rows, w, s.wScale.data(),
                        s.bias.empty() || apart ? nullptr : s.bias.data(),
                        residual && !apart ? residual->floats().data() : nullptr,
                        out.floats().data(), s.packed.N, pool_.get(),
                        s.zeroComp.empty() ? nullptr : s.zeroComp.data());
      if (apart) {
        std::vector<float> &o = out.floats();
        size_t next = 0;
        if (!s.bias.empty()) {
          (*observe)(*s.withinEpilogue[next++], out);
          for (size_t i = 0; i < o.size(); ++i)
            o[i] += s.bias[i % s.bias.size()];
        }
        if (residual) {
          (*observe)(*s.withinEpilogue[next++], out);
          for (size_t i = 0; i < o.size(); ++i)
            o[i] += residual->floats()[i];
        }
      }
      run.release(s.reads);
      run.define(s.output, std::move(out));
      break;
    }
    case Step::F32Linear: {
      const Tensor &x = run.get(s.input);
      int64_t K = s.packed.K, M = K ? x.numElements() / K : 0;
      llvm::SmallVector<int64_t, 4> shape(x.shape().drop_back());
      shape.push_back(s.packed.N);
      Tensor out(DType::F32, shape);
      engine_->f32Gemm(x.floats().data(), K, M, s.packed, s.bias.empty() ? nullptr : s.bias.data(),
                       nullptr, out.floats().data(), s.packed.N, pool_.get());
      run.release(s.reads);
      run.define(s.output, std::move(out));
      break;
    }
    case Step::Int8MatMul:
    case Step::F32MatMul: {
      bool int8 = s.kind == Step::Int8MatMul;
      std::vector<const Tensor *> in;
      for (const Value *v : s.reads)
        in.push_back(&run.get(v));
      // b in the quantizer's kept codes; else in the run (its fallback).
      const ColumnCodeCache *codes =
          s.codesFrom && s.codesFrom->codesCurrent ? s.codesFrom->columnCodes.get() : nullptr;
      const std::optional<MatMulChain> &chain = s.chain;
      Tensor denseCodes;
      if (s.codesFrom)
        in.insert(in.begin() + 1, codes ? &denseCodes : &run.get(chain->b()));
      Tensor out;
      bool blocks = chain && chain->blocks();
      bool done = batchedMatMul(*engine_, pool_.get(), *in[0],
                                codes ? MatMulB(*codes) : MatMulB(*in[1]),
                                !blocks && op.boolAttr("transpose_b"), int8 ? in[2] : nullptr,
                                int8 ? in[3] : nullptr, out, blocks ? op.intAttr("block") : 0);
      // The reference (when the kernels decline, or for an observer) reads
      // b whole.
      if (codes && (!done || (int8 && observe)))
        denseCodes = codesAsTensor(*codes);
      if (!done) {
        auto r = int8 ? interpretChain(*chain, in)
                      : evaluateOp(op, llvm::ArrayRef<const Tensor *>(in));
        if (!r)
          return run.fail(&op, llvm::toString(r.takeError()));
        out = std::move(r->front());
      }
      // An observer also sees the dequantized products before the rescale
      // (the scores, with keys per channel): the reference makes them.
      if (int8 && observe) {
        auto d = interpretChain(*chain, in, /*dequantizedOnly=*/true);
        if (!d)
          return run.fail(&op, llvm::toString(d.takeError()));
        (*observe)(*chain->scaled(), d->front());
      }
      run.release(s.reads);
      run.define(int8 ? s.output : op.result(), std::move(out));
      break;
    }
    case Step::Host: {
      // A cache growing by concat along dim 0: extend the old one in place.
      if (op.kind() == OpKind::Concat && op.numOperands() == 2 &&
          (op.intAttr("axis") + int64_t(op.result()->type().rank())) %
                  std::max<int64_t>(op.result()->type().rank(), 1) == 0 &&
          op.operand(0) != op.operand(1) && run.lastUse(op.operand(0)) &&
          run.get(op.operand(0)).canAppendRows(run.get(op.operand(1)))) {
        Tensor cache = run.take(op.operand(0));
        grown[op.result()] = {cache.floats().data(), cache.shape()[0]};
        cache.appendRows(run.get(op.operand(1)));
        run.release(s.reads);
        run.define(op.result(), std::move(cache));
        break;
      }
      if (s.columnCodes) {
        Grown g = grown.lookup(s.reads[0]);
        if (quantizeGrownCache(s, run, g.past, g.pastRows, pool_.get()))
          break;
      }
      std::vector<const Tensor *> in;
      for (const Value *v : s.reads)
        in.push_back(&run.get(v));
      std::vector<Tensor> out;
      if (s.viewOf || s.throughTranspose) {
        bool done = s.throughTranspose
                        ? runQuantizeThroughTranspose(op, *s.throughTranspose, s.viewOf, *in[0],
                                                      out, pool_.get())
                        : runTransposeOfReshape(*s.viewOf, op, *in[0], out, pool_.get());
        if (!done) { // the reference, op by op
          out = {*in[0]};
          for (const Op *o : {s.viewOf, s.throughTranspose, &op}) {
            if (!o)
              continue;
            if (o == &op) // a fixed quantizer's scale
              for (size_t i = 1; i < in.size(); ++i)
                out.push_back(*in[i]);
            auto r = evaluateOp(*o, llvm::ArrayRef<Tensor>(out));
            if (!r)
              return run.fail(o, llvm::toString(r.takeError()));
            out = std::move(*r);
          }
        }
      } else if (!runHostKernel(op, in, out, pool_.get(), engine_.get())) {
        if (llvm::Error e = run.interpret(op))
          return e;
        break;
      }
      run.release(s.reads);
      for (unsigned i = 0; i < op.numResults(); ++i)
        run.define(op.result(i), std::move(out[i]));
      break;
    }
    case Step::Interpret:
      if (op.kind() == OpKind::Return)
        return run.results(op);
      if (llvm::Error e = run.interpret(op))
        return e;
      break;
    }
    if (profiling_) {
      static const char *const kinds[] = {"interpret ", "host ", "quantize rows",
                                          "int8 linear", "fp32 linear", "int8 matmul",
                                          "fp32 matmul"};
      std::string label = kinds[s.kind];
      if (s.kind == Step::Interpret || s.kind == Step::Host)
        label += op.mnemonic().str();
      auto &[seconds, count] = profile_[label];
      seconds += std::chrono::duration<double>(Clock::now() - t0).count();
      ++count;
    }
  }
  return run.fail(nullptr, "does not end with 'return'");
}

std::string CompiledGraph::profileReport() const {
  std::vector<std::pair<double, std::string>> rows;
  double total = 0;
  for (const auto &[label, t] : profile_) {
    total += t.first;
    rows.push_back({t.first, label});
  }
  std::sort(rows.rbegin(), rows.rend());
  std::string out;
  llvm::raw_string_ostream os(out);
  os << "step                                 ms       %      count\n";
  for (const auto &[seconds, label] : rows)
    os << llvm::format("%-28s %10.2f %6.1f%% %10lld\n", label.c_str(), seconds * 1e3,
                       100 * seconds / std::max(total, 1e-12),
                       (long long)profile_.at(label).second);
  return out;
}

} // namespace sqc
