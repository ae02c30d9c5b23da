//===- runtime/Interpreter.cpp - The reference interpreter ----------------===//
#include "runtime/Interpreter.h"
#include "runtime/LogQuant.h"

#include "llvm/ADT/StringMap.h"

#include <cmath>

namespace sqc {

namespace {

llvm::Error fail(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

using Shape = llvm::SmallVector<int64_t, 4>;

/// Operand tensors, indexed like an array of tensors.
struct Inputs {
  llvm::ArrayRef<const Tensor *> ptrs;
  const Tensor &operator[](size_t i) const { return *ptrs[i]; }
  size_t size() const { return ptrs.size(); }
  const Tensor *begin() const = delete;
};

/// Binds the symbols of the operand types to the inputs' sizes and checks
/// that the inputs fit the types.
llvm::Error bindSymbols(const Op &op, const Inputs &inputs,
                        llvm::StringMap<int64_t> &syms) {
  if (inputs.size() != op.numOperands())
    return fail("'" + op.mnemonic() + "' got " + llvm::Twine(inputs.size()) +
                " inputs for " + llvm::Twine(op.numOperands()) + " operands");
  for (unsigned i = 0; i < inputs.size(); ++i) {
    const TensorType &t = op.operand(i)->type();
    if (t.rank() != inputs[i].rank())
      return fail("input #" + llvm::Twine(i) + " has rank " +
                  llvm::Twine(inputs[i].rank()) + ", expected " + t.str());
    for (unsigned d = 0; d < t.rank(); ++d) {
      int64_t size = inputs[i].shape()[d];
      const Dim &dim = t.dim(d);
      if (dim.isStatic() ? dim.size() != size
                         : syms.try_emplace(dim.symbol(), size).first->second != size)
        return fail("input #" + llvm::Twine(i) + " does not fit " + t.str() +
                    " (dimension " + llvm::Twine(d) + " is " +
                    llvm::Twine(size) + ")");
    }
  }
  return llvm::Error::success();
}

llvm::Expected<Shape> resultShape(const Op &op, unsigned i,
                                  const llvm::StringMap<int64_t> &syms) {
  Shape s;
  for (const Dim &d : op.result(i)->type().dims()) {
    if (d.isStatic()) {
      s.push_back(d.size());
      continue;
    }
    auto it = syms.find(d.symbol());
    if (it == syms.end())
      return fail("cannot size result dimension ?" + d.symbol());
    s.push_back(it->second);
  }
  return s;
}

/// Row-major multi-index of flat index `flat` in `shape`.
Shape unflatten(int64_t flat, llvm::ArrayRef<int64_t> shape) {
  Shape idx(shape.size());
  for (int d = int(shape.size()) - 1; d >= 0; --d) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  return idx;
}

/// Flat index into `t` of output multi-index `out`, broadcasting `t`
/// (aligned to the right; size-1 dimensions repeat).
int64_t broadcastOffset(const Tensor &t, llvm::ArrayRef<int64_t> out) {
  int64_t off = 0, stride = 1;
  for (int d = int(t.rank()) - 1, o = int(out.size()) - 1; d >= 0; --d, --o) {
    int64_t size = t.shape()[d];
    off += (size == 1 ? 0 : out[o]) * stride;
    stride *= size;
  }
  return off;
}

Shape broadcastShape(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    out[out.size() - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

double applyUnary(OpKind k, double x, const Op &op) {
  switch (k) {
  case OpKind::Neg: return -x;
  case OpKind::Exp: return std::exp(x);
  case OpKind::Sqrt: return std::sqrt(x);
  case OpKind::Rsqrt: return 1.0 / std::sqrt(x);
  case OpKind::Tanh: return std::tanh(x);
  case OpKind::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
  case OpKind::Relu: return x > 0 ? x : 0.0;
  case OpKind::Silu: return x / (1.0 + std::exp(-x));
  case OpKind::Gelu:
    if (op.stringAttr("approximate") == "tanh")
      return 0.5 * x *
             (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  default: return NAN;
  }
}

double applyBinary(OpKind k, double a, double b, DType t) {
  switch (k) {
  case OpKind::Add: return a + b;
  case OpKind::Sub: return a - b;
  case OpKind::Mul: return a * b;
  case OpKind::Div:
    if (isInteger(t)) // integer division truncates; x/0 is defined as 0 here
      return b == 0 ? 0 : std::trunc(a / b);
    return a / b;
  case OpKind::Maximum: return std::max(a, b);
  case OpKind::Minimum: return std::min(a, b);
  default: return NAN;
  }
}

/// sum_k a[k] * b[k * strideB] in double. Four partial sums break the
/// dependency chain; the order is fixed, so results are deterministic.
template <typename T>
double dot(const T *a, const T *b, int64_t n, int64_t strideB) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += double(a[k]) * double(b[k * strideB]);
    s1 += double(a[k + 1]) * double(b[(k + 1) * strideB]);
    s2 += double(a[k + 2]) * double(b[(k + 2) * strideB]);
    s3 += double(a[k + 3]) * double(b[(k + 3) * strideB]);
  }
  for (; k < n; ++k)
    s0 += double(a[k]) * double(b[k * strideB]);
  return (s0 + s1) + (s2 + s3);
}

/// Element pointer of a tensor's storage (floats or ints, by dtype).
template <typename T> const T *elems(const Tensor &t);
template <> const float *elems<float>(const Tensor &t) { return t.floats().data(); }
template <> const int32_t *elems<int32_t>(const Tensor &t) { return t.ints().data(); }

/// Batched a[..., M, K] times b[..., K, N] (or [..., N, K] with transposeB),
/// batch dimensions broadcast; `cell(aOffset, bOffset, K, bStride)` gives one
/// result element from a's row at aOffset and b's column from bOffset.
template <typename Cell>
Tensor batchedProduct(const Tensor &a, const Tensor &b, bool transposeB, DType out, Cell cell) {
  int64_t M = a.shape()[a.rank() - 2], K = a.shape()[a.rank() - 1];
  int64_t N = transposeB ? b.shape()[b.rank() - 2] : b.shape()[b.rank() - 1];
  Shape batch = broadcastShape(a.shape().drop_back(2), b.shape().drop_back(2));
  Shape outShape = batch;
  outShape.push_back(M);
  outShape.push_back(N);
  Tensor r(out, outShape);
  int64_t batches = r.numElements() / std::max<int64_t>(M * N, 1);
  // Batch offsets via broadcasting over batch-only views.
  Tensor aBatch(DType::I32, a.shape().drop_back(2)),
      bBatch(DType::I32, b.shape().drop_back(2));
  for (int64_t bi = 0; bi < batches; ++bi) {
    Shape bidx = unflatten(bi, batch);
    int64_t aOff = broadcastOffset(aBatch, bidx) * M * K;
    int64_t bOff = broadcastOffset(bBatch, bidx) * K * N;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        int64_t bStart = bOff + (transposeB ? n * K : n);
        int64_t stride = transposeB ? 1 : N;
        r.set((bi * M + m) * N + n, cell(aOff + m * K, bStart, K, stride));
      }
  }
  return r;
}

Tensor matmul(const Tensor &a, const Tensor &b, bool transposeB, DType out) {
  return batchedProduct(a, b, transposeB, out,
                        [&](int64_t ai, int64_t bi, int64_t K, int64_t stride) {
                          return isFloat(a.dtype())
                                     ? dot(elems<float>(a) + ai, elems<float>(b) + bi, K, stride)
                                     : dot(elems<int32_t>(a) + ai, elems<int32_t>(b) + bi, K,
                                           stride);
                        });
}

} // namespace

bool interpreterSupports(OpKind kind) {
  return kind != OpKind::Weight && kind != OpKind::Return;
}

Tensor constantValue(const Op &constant) {
  const TensorType &t = constant.result()->type();
  Tensor r(t.dtype(), t.staticShape());
  const DenseElements &d = constant.attr("value")->getDense();
  for (int64_t i = 0; i < r.numElements(); ++i)
    r.set(i, d.splat ? d.values[0] : d.values[i]);
  return r;
}

llvm::Expected<std::vector<Tensor>> evaluateOp(const Op &op,
                                               llvm::ArrayRef<Tensor> in) {
  std::vector<const Tensor *> ptrs;
  for (const Tensor &t : in)
    ptrs.push_back(&t);
  return evaluateOp(op, llvm::ArrayRef<const Tensor *>(ptrs));
}

llvm::Expected<std::vector<Tensor>>
evaluateOp(const Op &op, llvm::ArrayRef<const Tensor *> inPtrs) {
  Inputs in{inPtrs};
  llvm::StringMap<int64_t> syms;
  if (llvm::Error e = bindSymbols(op, in, syms))
    return e;
  OpKind k = op.kind();
  DType outType = op.numResults() ? op.result()->type().dtype() : DType::F32;
  auto sized = [&](unsigned i = 0) -> llvm::Expected<Tensor> {
    auto s = resultShape(op, i, syms);
    if (!s)
      return s.takeError();
    return Tensor(op.result(i)->type().dtype(), *s);
  };
  std::vector<Tensor> out;

  switch (k) {
  case OpKind::Constant:
    out.push_back(constantValue(op));
    return out;
  case OpKind::Weight:
    return fail("'weight' needs the module's weights file loaded");
  case OpKind::Return:
    return fail("'return' is not evaluated");

  case OpKind::Add: case OpKind::Sub: case OpKind::Mul: case OpKind::Div:
  case OpKind::Maximum: case OpKind::Minimum: {
    Tensor r(outType, broadcastShape(in[0].shape(), in[1].shape()));
    // Common cases without index arithmetic: equal shapes, scalar rhs.
    if (in[0].shape() == r.shape() &&
        (in[1].shape() == r.shape() || in[1].numElements() == 1)) {
      bool scalar = in[1].shape() != r.shape();
      for (int64_t i = 0; i < r.numElements(); ++i)
        r.set(i, applyBinary(k, in[0].get(i), in[1].get(scalar ? 0 : i), outType));
      out.push_back(std::move(r));
      return out;
    }
    for (int64_t i = 0; i < r.numElements(); ++i) {
      Shape idx = unflatten(i, r.shape());
      r.set(i, applyBinary(k, in[0].get(broadcastOffset(in[0], idx)),
                           in[1].get(broadcastOffset(in[1], idx)), outType));
    }
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::Neg: case OpKind::Exp: case OpKind::Sqrt: case OpKind::Rsqrt:
  case OpKind::Tanh: case OpKind::Sigmoid: case OpKind::Relu:
  case OpKind::Silu: case OpKind::Gelu: {
    Tensor r(outType, in[0].shape());
    for (int64_t i = 0; i < r.numElements(); ++i)
      r.set(i, applyUnary(k, in[0].get(i), op));
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::Reshape: case OpKind::Convert: {
    auto r = sized();
    if (!r) return r.takeError();
    if (r->numElements() != in[0].numElements())
      return fail("'" + op.mnemonic() + "' changes the element count");
    for (int64_t i = 0; i < r->numElements(); ++i)
      r->set(i, in[0].get(i));
    out.push_back(std::move(*r));
    return out;
  }

  case OpKind::Transpose: {
    llvm::ArrayRef<int64_t> perm = op.intArrayAttr("perm");
    Shape shape;
    for (int64_t p : perm)
      shape.push_back(in[0].shape()[p]);
    Tensor r(outType, shape);
    auto inStrides = in[0].strides();
    for (int64_t i = 0; i < r.numElements(); ++i) {
      Shape idx = unflatten(i, shape);
      int64_t src = 0;
      for (size_t d = 0; d < perm.size(); ++d)
        src += idx[d] * inStrides[perm[d]];
      r.set(i, in[0].get(src));
    }
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::Slice: {
    unsigned axis = unsigned((op.intAttr("axis") + in[0].rank()) % in[0].rank());
    int64_t start = op.intAttr("start"), end = op.intAttr("end");
    if (end > in[0].shape()[axis])
      return fail("slice end " + llvm::Twine(end) + " exceeds dimension " +
                  llvm::Twine(in[0].shape()[axis]));
    Shape shape(in[0].shape());
    shape[axis] = end - start;
    Tensor r(outType, shape);
    auto inStrides = in[0].strides();
    for (int64_t i = 0; i < r.numElements(); ++i) {
      Shape idx = unflatten(i, shape);
      idx[axis] += start;
      int64_t src = 0;
      for (size_t d = 0; d < idx.size(); ++d)
        src += idx[d] * inStrides[d];
      r.set(i, in[0].get(src));
    }
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::Concat: {
    unsigned axis = unsigned((op.intAttr("axis") + in[0].rank()) % in[0].rank());
    Shape shape(in[0].shape());
    shape[axis] = 0;
    for (size_t i = 0; i < in.size(); ++i)
      shape[axis] += in[i].shape()[axis];
    Tensor r(outType, shape);
    for (int64_t i = 0; i < r.numElements(); ++i) {
      Shape idx = unflatten(i, shape);
      size_t part = 0;
      while (idx[axis] >= in[part].shape()[axis])
        idx[axis] -= in[part++].shape()[axis];
      auto strides = in[part].strides();
      int64_t src = 0;
      for (size_t d = 0; d < idx.size(); ++d)
        src += idx[d] * strides[d];
      r.set(i, in[part].get(src));
    }
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::Linear: case OpKind::IntLinear: {
    // x[..., K] as [rows, K] times w[N, K]^T.
    int64_t K = in[0].shape().back(), N = in[1].shape()[0];
    Shape shape(in[0].shape().drop_back());
    shape.push_back(N);
    Tensor r(outType, shape);
    int64_t rows = K ? in[0].numElements() / K : r.numElements() / std::max<int64_t>(N, 1);
    bool fl = isFloat(in[0].dtype());
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t n = 0; n < N; ++n) {
        double acc = in.size() == 3 ? in[2].get(n) : 0.0;
        acc += fl ? dot(elems<float>(in[0]) + row * K, elems<float>(in[1]) + n * K, K, 1)
                  : dot(elems<int32_t>(in[0]) + row * K, elems<int32_t>(in[1]) + n * K, K, 1);
        r.set(row * N + n, acc);
      }
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::MatMul: case OpKind::IntMatMul:
    out.push_back(matmul(in[0], in[1], op.boolAttr("transpose_b"), outType));
    return out;

  case OpKind::BlockIntMatMul: {
    const Tensor &a = in[0], &scale = in[1], &b = in[2];
    int64_t K = a.shape().back(), block = op.intAttr("block"), G = scale.shape().back();
    if (G != (K + block - 1) / block)
      return fail("block_int_matmul: " + llvm::Twine(G) + " scales per row for " +
                  llvm::Twine(K) + " columns in blocks of " + llvm::Twine(block));
    out.push_back(batchedProduct(
        a, b, false, DType::F32, [&](int64_t ai, int64_t bi, int64_t, int64_t stride) {
          const float *s = scale.floats().data() + ai / std::max<int64_t>(K, 1) * G;
          double sum = 0;
          for (int64_t g = 0; g < G; ++g) {
            int64_t k0 = g * block, n = std::min(block, K - k0);
            sum += dot(elems<int32_t>(a) + ai + k0, elems<int32_t>(b) + bi + k0 * stride, n,
                       stride) * double(s[g]);
          }
          return sum;
        }));
    return out;
  }

  case OpKind::QuantizeLog2: case OpKind::DequantizeLog2: {
    bool sqrt2 = op.stringAttr("base") == "sqrt2";
    Tensor r(outType, in[0].shape());
    for (int64_t i = 0; i < r.numElements(); ++i)
      r.set(i, k == OpKind::QuantizeLog2 ? double(logQuantCode(in[0].get(i), sqrt2))
                                         : logQuantValue(int32_t(in[0].get(i)), sqrt2));
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::ExpandGroups: {
    const Tensor &q = in[0], &mult = in[1];
    int64_t N = q.shape()[0], K = q.shape()[1], G = mult.shape()[1];
    Tensor r(outType, q.shape());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        r.set(n * K + k, q.get(n * K + k) * mult.get(n * G + k / (K / G)));
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::Log2MatMul: {
    bool sqrt2 = op.stringAttr("base") == "sqrt2";
    const Tensor &a = in[0], &b = in[1];
    out.push_back(batchedProduct(a, b, op.boolAttr("transpose_b"), outType,
                                 [&](int64_t ai, int64_t bi, int64_t K, int64_t stride) {
                                   return logQuantDot(elems<int32_t>(a) + ai,
                                                      elems<int32_t>(b) + bi, K, stride, sqrt2);
                                 }));
    return out;
  }

  case OpKind::Softmax: {
    unsigned axis = unsigned((op.intAttr("axis") + in[0].rank()) % in[0].rank());
    Tensor r(outType, in[0].shape());
    int64_t len = in[0].shape()[axis], stride = in[0].strides()[axis];
    for (int64_t i = 0; i < r.numElements(); ++i) {
      if ((i / stride) % len != 0)
        continue; // visit each softmax row once, from its first element
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < len; ++j)
        mx = std::max(mx, in[0].get(i + j * stride));
      for (int64_t j = 0; j < len; ++j)
        sum += std::exp(in[0].get(i + j * stride) - mx);
      for (int64_t j = 0; j < len; ++j)
        r.set(i + j * stride, std::exp(in[0].get(i + j * stride) - mx) / sum);
    }
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::LayerNorm: case OpKind::RmsNorm: {
    Tensor r(outType, in[0].shape());
    int64_t D = in[0].shape().back();
    double eps = op.floatAttr("eps");
    for (int64_t row = 0; D && row < r.numElements() / D; ++row) {
      double mean = 0, var = 0;
      for (int64_t j = 0; j < D; ++j)
        mean += in[0].get(row * D + j);
      mean = k == OpKind::LayerNorm ? mean / D : 0.0;
      for (int64_t j = 0; j < D; ++j) {
        double c = in[0].get(row * D + j) - mean;
        var += c * c;
      }
      double inv = 1.0 / std::sqrt(var / D + eps);
      for (int64_t j = 0; j < D; ++j) {
        double y = (in[0].get(row * D + j) - mean) * inv * in[1].get(j);
        if (in.size() == 3)
          y += in[2].get(j);
        r.set(row * D + j, y);
      }
    }
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::Rope: {
    // x[..., S, H, D]; pair (i, i + D/2) for "half", (2i, 2i+1) otherwise.
    Tensor r(outType, in[0].shape());
    int64_t D = in[0].shape().back(), H = in[0].shape()[in[0].rank() - 2];
    int64_t S = in[0].shape()[in[0].rank() - 3];
    bool half = op.stringAttr("style") == "half";
    double theta = op.floatAttr("theta");
    for (int64_t base = 0; base < r.numElements(); base += D) {
      int64_t s = (base / (D * H)) % S;
      double pos = in[1].get(s);
      for (int64_t i = 0; i < D / 2; ++i) {
        double angle = pos * std::pow(theta, -2.0 * double(i) / double(D));
        int64_t a = half ? i : 2 * i, b = half ? i + D / 2 : 2 * i + 1;
        double xa = in[0].get(base + a), xb = in[0].get(base + b);
        r.set(base + a, xa * std::cos(angle) - xb * std::sin(angle));
        r.set(base + b, xa * std::sin(angle) + xb * std::cos(angle));
      }
    }
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::CausalMask: {
    Tensor r(outType, in[0].shape());
    int64_t Sk = in[0].shape().back(), Sq = in[0].shape()[in[0].rank() - 2];
    for (int64_t i = 0; i < r.numElements(); ++i) {
      int64_t key = i % Sk, query = (i / Sk) % Sq;
      r.set(i, key > query + (Sk - Sq) ? -INFINITY : in[0].get(i));
    }
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::Gather: {
    const Tensor &table = in[0], &idx = in[1];
    unsigned axis = unsigned((op.intAttr("axis") + table.rank()) % table.rank());
    Shape shape(table.shape().take_front(axis));
    shape.append(idx.shape().begin(), idx.shape().end());
    shape.append(table.shape().begin() + axis + 1, table.shape().end());
    Tensor r(outType, shape);
    auto strides = table.strides();
    for (int64_t i = 0; i < r.numElements(); ++i) {
      Shape o = unflatten(i, shape);
      int64_t src = 0;
      for (unsigned d = 0; d < axis; ++d)
        src += o[d] * strides[d];
      int64_t ii = 0;
      for (unsigned d = 0; d < idx.rank(); ++d)
        ii = ii * idx.shape()[d] + o[axis + d];
      int64_t row = int64_t(idx.get(ii));
      if (row < 0 || row >= table.shape()[axis])
        return fail("gather index " + llvm::Twine(row) + " is out of range [0, " +
                    llvm::Twine(table.shape()[axis]) + ")");
      src += row * strides[axis];
      for (unsigned d = axis + 1; d < table.rank(); ++d)
        src += o[d - 1 + idx.rank()] * strides[d];
      r.set(i, table.get(src));
    }
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::Dequantize:
    if (int64_t block = op.intAttr("block")) {
      const Tensor &q = in[0], &scale = in[1];
      int64_t C = q.shape().back(), G = scale.shape().back();
      if (G != (C + block - 1) / block)
        return fail("dequantize: " + llvm::Twine(G) + " scales per row for " +
                    llvm::Twine(C) + " columns in blocks of " + llvm::Twine(block));
      Tensor r(outType, q.shape());
      for (int64_t i = 0; i < r.numElements(); ++i)
        r.set(i, q.get(i) * scale.get(i / C * G + i % C / block));
      out.push_back(std::move(r));
      return out;
    }
    [[fallthrough]];
  case OpKind::Quantize: case OpKind::Requantize: {
    Tensor r(outType, in[0].shape());
    for (int64_t i = 0; i < r.numElements(); ++i) {
      Shape idx = unflatten(i, r.shape());
      double x = in[0].get(i), s = in[1].get(broadcastOffset(in[1], idx));
      double zp = (k != OpKind::Requantize && in.size() == 3)
                      ? in[2].get(broadcastOffset(in[2], idx)) : 0.0;
      double v = k == OpKind::Quantize   ? std::nearbyint(x / s) + zp
                 : k == OpKind::Dequantize ? (x - zp) * s
                 : x * s / in[2].get(broadcastOffset(in[2], idx));
      r.set(i, v);
    }
    out.push_back(std::move(r));
    return out;
  }

  case OpKind::QuantizeDynamic: {
    // Each element belongs to one scale group; a group of zeros (or of no
    // elements) gets scale 1.
    llvm::StringRef g = op.stringAttr("granularity");
    const Tensor &x = in[0];
    Shape sShape(x.shape());
    int64_t C = x.shape().back(), block = op.intAttr("block");
    if (g == "per-token")
      sShape.back() = 1;
    else if (g == "per-column")
      sShape[x.rank() - 2] = 1;
    else if (g == "per-block")
      sShape.back() = (C + block - 1) / block;
    else
      sShape.clear();
    bool isUnsigned = op.boolAttr("unsigned");
    double levels = isUnsigned ? 255.0 : 127.0;
    Tensor q(isUnsigned ? DType::U8 : DType::I8, x.shape()), scale(DType::F32, sShape);
    std::vector<double> amax(scale.numElements(), 0.0);
    auto group = [&](int64_t i) {
      return g == "per-block" ? i / C * sShape.back() + i % C / block
                              : broadcastOffset(scale, unflatten(i, x.shape()));
    };
    for (int64_t i = 0; i < x.numElements(); ++i) {
      double &a = amax[group(i)];
      a = std::max(a, std::fabs(x.get(i)));
    }
    for (int64_t k = 0; k < scale.numElements(); ++k)
      scale.set(k, amax[k] > 0 ? amax[k] / levels : 1.0);
    for (int64_t i = 0; i < x.numElements(); ++i)
      q.set(i, std::nearbyint(x.get(i) / scale.get(group(i))));
    out.push_back(std::move(q));
    out.push_back(std::move(scale));
    return out;
  }
  }
  return fail("the interpreter does not implement '" + op.mnemonic() + "'");
}

} // namespace sqc
