//===- codegen/HostKernels.cpp - Fast host code for the non-GEMM ops ------===//
#include "codegen/HostKernels.h"
#include "runtime/LogQuant.h"

#include "codegen/GemmEngine.h"
#include "codegen/RowMath.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

namespace sqc {

namespace {

using Shape = llvm::SmallVector<int64_t, 4>;

int64_t product(llvm::ArrayRef<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

/// Runs fn(begin, end) over [0, rows), split over `pool` when `elements`
/// are enough to pay for handing work to another thread.
void splitRows(ThreadPool *pool, int64_t rows, int64_t elements,
               const std::function<void(int64_t, int64_t)> &fn) {
  parallelForIfWorth(pool, rows, double(elements), double(1 << 15), fn);
}

/// Walks rows [r0, r1) (of the last dimension) of `shape` and calls
/// fn(row, offsets) with each operand's offset for that row, from its
/// `strides`.
template <size_t N, typename Fn>
void forEachRow(llvm::ArrayRef<int64_t> shape, const std::array<Shape, N> &strides, Fn fn,
                int64_t r0, int64_t r1) {
  if (r0 >= r1)
    return; // also keeps a zero-sized dimension out of the % below
  int lead = int(shape.size()) - 1;
  Shape idx(std::max(lead, 0), 0);
  std::array<int64_t, N> off{};
  int64_t rem = r0; // the multi-index of row r0
  for (int d = lead - 1; d >= 0; --d) {
    idx[d] = rem % shape[d];
    rem /= shape[d];
    for (size_t i = 0; i < N; ++i)
      off[i] += idx[d] * strides[i][d];
  }
  for (int64_t r = r0; r < r1; ++r) {
    fn(r, off);
    for (int d = lead - 1; d >= 0; --d) { // odometer over the leading dims
      for (size_t i = 0; i < N; ++i)
        off[i] += strides[i][d];
      if (++idx[d] < shape[d])
        break;
      for (size_t i = 0; i < N; ++i)
        off[i] -= strides[i][d] * shape[d];
      idx[d] = 0;
    }
  }
}

/// Storage of a tensor of either kind, for the dtype-agnostic copies.
template <typename T> T *data(Tensor &t);
template <> float *data<float>(Tensor &t) { return t.floats().data(); }
template <> int32_t *data<int32_t>(Tensor &t) { return t.ints().data(); }
template <typename T> const T *data(const Tensor &t) { return data<T>(const_cast<Tensor &>(t)); }

bool allF32(llvm::ArrayRef<const Tensor *> in) {
  return llvm::all_of(in, [](const Tensor *t) { return t->dtype() == DType::F32; });
}

/// The result shape of a reshape: the static dimensions of its type and at
/// most one dynamic one, inferred from the element count.
bool reshapeShape(const Op &op, int64_t elements, Shape &out) {
  int64_t known = 1, dynamic = -1;
  for (const Dim &d : op.result()->type().dims()) {
    if (!d.isStatic()) {
      if (dynamic >= 0)
        return false;
      dynamic = out.size();
      out.push_back(0);
      continue;
    }
    out.push_back(d.size());
    known *= d.size();
  }
  if (dynamic >= 0) {
    if (known == 0 || elements % known)
      return false;
    out[dynamic] = elements / known;
  }
  return product(out) == elements;
}

/// The input stride of each output dimension when `perm` transposes a
/// contiguous tensor read with shape `shape` (a reshape's view of it).
Shape transposedStrides(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> perm) {
  Shape in(shape.size(), 1), out;
  for (int d = int(shape.size()) - 2; d >= 0; --d)
    in[d] = in[d + 1] * shape[d + 1];
  for (int64_t p : perm)
    out.push_back(in[p]);
  return out;
}

template <typename T>
void transposeInto(const Tensor &x, llvm::ArrayRef<int64_t> xShape, llvm::ArrayRef<int64_t> perm,
                   Tensor &r, ThreadPool *pool) {
  Shape strides = transposedStrides(xShape, perm);
  const T *src = data<T>(x);
  T *dst = data<T>(r);
  int64_t inner = r.shape().back(), step = strides.back();
  std::array<Shape, 1> s{strides};
  splitRows(pool, r.numElements() / inner, r.numElements(), [&](int64_t r0, int64_t r1) {
    forEachRow<1>(
        r.shape(), s,
        [&](int64_t row, const std::array<int64_t, 1> &off) {
          T *d = dst + row * inner;
          if (step == 1)
            std::memcpy(d, src + off[0], inner * sizeof(T));
          else
            for (int64_t i = 0; i < inner; ++i)
              d[i] = src[off[0] + i * step];
        },
        r0, r1);
  });
}

template <typename T> void concatInto(llvm::ArrayRef<const Tensor *> in, unsigned axis, Tensor &r) {
  int64_t outer = product(r.shape().take_front(axis));
  int64_t inner = product(r.shape().drop_front(axis + 1));
  T *dst = data<T>(r);
  for (int64_t o = 0; o < outer; ++o)
    for (const Tensor *t : in) {
      int64_t n = t->shape()[axis] * inner;
      std::memcpy(dst, data<T>(*t) + o * n, n * sizeof(T));
      dst += n;
    }
}

template <typename T> void sliceInto(const Tensor &x, unsigned axis, int64_t start, Tensor &r) {
  int64_t outer = product(r.shape().take_front(axis));
  int64_t inner = product(r.shape().drop_front(axis + 1));
  int64_t n = r.shape()[axis] * inner, from = x.shape()[axis] * inner;
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(data<T>(r) + o * n, data<T>(x) + o * from + start * inner, n * sizeof(T));
}

template <typename T> bool gatherRows(const Tensor &table, const Tensor &idx, Tensor &r) {
  int64_t rows = table.shape()[0], inner = product(table.shape().drop_front());
  for (int64_t i = 0; i < idx.numElements(); ++i) {
    int64_t row = int64_t(idx.get(i));
    if (row < 0 || row >= rows)
      return false; // the interpreter reports it
    std::memcpy(data<T>(r) + i * inner, data<T>(table) + row * inner, inner * sizeof(T));
  }
  return true;
}

/// Copies between tensors of one element kind (floats or ints).
template <typename Fn> void byElementKind(const Tensor &t, Fn fn) {
  if (isFloat(t.dtype()))
    fn(float());
  else
    fn(int32_t());
}

template <typename F>
void binaryRows(const Tensor &a, const Tensor &b, Tensor &r, F f, ThreadPool *pool) {
  std::array<Shape, 2> s{broadcastStrides(a.shape(), r.shape()),
                         broadcastStrides(b.shape(), r.shape())};
  int64_t n = r.shape().empty() ? 1 : r.shape().back();
  int64_t sa = s[0].empty() ? 0 : s[0].back(), sb = s[1].empty() ? 0 : s[1].back();
  const float *pa = a.floats().data(), *pb = b.floats().data();
  float *pr = r.floats().data();
  auto rowFn = [&](int64_t row, const std::array<int64_t, 2> &off) {
    const float *x = pa + off[0], *y = pb + off[1];
    float *z = pr + row * n;
    if (sa == 1 && sb == 1)
      for (int64_t i = 0; i < n; ++i)
        z[i] = f(x[i], y[i]);
    else if (sa == 1)
      for (int64_t i = 0; i < n; ++i)
        z[i] = f(x[i], y[0]);
    else if (sb == 1)
      for (int64_t i = 0; i < n; ++i)
        z[i] = f(x[0], y[i]);
    else
      for (int64_t i = 0; i < n; ++i)
        z[i] = f(x[0], y[0]);
  };
  splitRows(pool, n ? r.numElements() / n : 0, r.numElements(),
            [&](int64_t r0, int64_t r1) { forEachRow<2>(r.shape(), s, rowFn, r0, r1); });
}

bool binary(OpKind k, const Tensor &a, const Tensor &b, std::vector<Tensor> &out,
            ThreadPool *pool) {
  Shape shape;
  if (!broadcastShapes(a.shape(), b.shape(), shape))
    return false;
  Tensor r(DType::F32, shape);
  switch (k) {
  case OpKind::Add:
    binaryRows(
        a, b, r, [](float x, float y) { return x + y; }, pool);
    break;
  case OpKind::Sub:
    binaryRows(
        a, b, r, [](float x, float y) { return x - y; }, pool);
    break;
  case OpKind::Mul:
    binaryRows(
        a, b, r, [](float x, float y) { return x * y; }, pool);
    break;
  case OpKind::Div:
    binaryRows(
        a, b, r, [](float x, float y) { return x / y; }, pool);
    break;
  case OpKind::Maximum:
    binaryRows(
        a, b, r, [](float x, float y) { return std::max(x, y); }, pool);
    break;
  case OpKind::Minimum:
    binaryRows(
        a, b, r, [](float x, float y) { return std::min(x, y); }, pool);
    break;
  default:
    return false;
  }
  out.push_back(std::move(r));
  return true;
}

bool unary(const Op &op, const Tensor &x, std::vector<Tensor> &out, ThreadPool *pool) {
  Tensor r(DType::F32, x.shape());
  const float *in = x.floats().data();
  float *o = r.floats().data();
  int64_t n = x.numElements();
  constexpr int64_t kChunk = 4096;
  auto chunks = [&](auto body) { // body(begin, end) over element ranges
    splitRows(pool, (n + kChunk - 1) / kChunk, n,
              [&](int64_t c0, int64_t c1) { body(c0 * kChunk, std::min(n, c1 * kChunk)); });
  };
  auto each = [&](auto f) {
    chunks([&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        o[i] = f(in[i]);
    });
  };
  switch (op.kind()) {
  case OpKind::Neg:
    each([](float v) { return -v; });
    break;
  case OpKind::Exp:
    each([](float v) { return std::exp(v); });
    break;
  case OpKind::Sqrt:
    each([](float v) { return std::sqrt(v); });
    break;
  case OpKind::Rsqrt:
    each([](float v) { return 1.0f / std::sqrt(v); });
    break;
  case OpKind::Tanh:
    each([](float v) { return std::tanh(v); });
    break;
  case OpKind::Sigmoid:
    each([](float v) { return 1.0f / (1.0f + std::exp(-v)); });
    break;
  case OpKind::Relu:
    each([](float v) { return v > 0 ? v : 0.0f; });
    break;
  case OpKind::Silu:
    chunks([&](int64_t b, int64_t e) { rowSilu(in + b, e - b, o + b); });
    break;
  case OpKind::Gelu:
    if (op.stringAttr("approximate") == "tanh")
      each([](float v) {
        return 0.5f * v * (1.0f + std::tanh(0.7978845608f * (v + 0.044715f * v * v * v)));
      });
    else
      each([](float v) { return 0.5f * v * (1.0f + std::erf(v * 0.70710678f)); });
    break;
  default:
    return false;
  }
  out.push_back(std::move(r));
  return true;
}

void softmaxLastAxis(const Tensor &x, Tensor &r, ThreadPool *pool) {
  int64_t n = x.shape().back(), rows = n ? x.numElements() / n : 0;
  splitRows(pool, rows, x.numElements(), [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) {
      const float *in = x.floats().data() + row * n;
      float *o = r.floats().data() + row * n;
      float mx = -INFINITY;
      for (int64_t j = 0; j < n; ++j)
        mx = std::max(mx, in[j]);
      float inv = float(1.0 / rowExpShifted(in, n, mx, o));
      for (int64_t j = 0; j < n; ++j)
        o[j] *= inv;
    }
  });
}

bool norm(const Op &op, llvm::ArrayRef<const Tensor *> in, std::vector<Tensor> &out,
          ThreadPool *pool) {
  const Tensor &x = *in[0];
  int64_t D = x.shape().back();
  if (in[1]->numElements() != D || (in.size() == 3 && in[2]->numElements() != D))
    return false;
  bool layerNorm = op.kind() == OpKind::LayerNorm;
  double eps = op.floatAttr("eps");
  Tensor r(DType::F32, x.shape());
  const float *g = in[1]->floats().data(), *b = in.size() == 3 ? in[2]->floats().data() : nullptr;
  splitRows(pool, D ? x.numElements() / D : 0, x.numElements(), [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) {
      normRow(x.floats().data() + row * D, D, g, b, layerNorm, eps, r.floats().data() + row * D);
    }
  });
  out.push_back(std::move(r));
  return true;
}

bool rope(const Op &op, const Tensor &x, const Tensor &positions, std::vector<Tensor> &out,
          ThreadPool *pool) {
  if (x.rank() < 3)
    return false;
  int64_t D = x.shape().back(), H = x.shape()[x.rank() - 2], S = x.shape()[x.rank() - 3];
  if (D % 2 || positions.numElements() != S)
    return false;
  bool half = op.stringAttr("style") == "half";
  double theta = op.floatAttr("theta");
  // cos and sin per (position, pair), shared by every head, and by every
  // rope of a run (the same positions): kept for the next call.
  struct Table {
    double theta = 0;
    int64_t D = 0;
    std::vector<double> positions;
    std::vector<float> cs, sn;
  };
  static thread_local Table t;
  std::vector<double> pos(S);
  for (int64_t s = 0; s < S; ++s)
    pos[s] = positions.get(s);
  if (t.theta != theta || t.D != D || t.positions != pos) {
    t.theta = theta;
    t.D = D;
    t.positions = pos;
    t.cs.resize(S * D / 2);
    t.sn.resize(S * D / 2);
    std::vector<double> frequency(D / 2);
    for (int64_t i = 0; i < D / 2; ++i)
      frequency[i] = std::pow(theta, -2.0 * double(i) / double(D));
    for (int64_t s = 0; s < S; ++s)
      for (int64_t i = 0; i < D / 2; ++i) {
        double angle = pos[s] * frequency[i];
        t.cs[s * D / 2 + i] = float(std::cos(angle));
        t.sn[s * D / 2 + i] = float(std::sin(angle));
      }
  }
  const std::vector<float> &cs = t.cs, &sn = t.sn;
  Tensor r(DType::F32, x.shape());
  splitRows(pool, x.numElements() / std::max<int64_t>(D, 1), x.numElements(),
            [&](int64_t r0, int64_t r1) {
              for (int64_t base = r0 * D; base < r1 * D; base += D) {
                int64_t s = (base / (D * H)) % S;
                const float *c = cs.data() + s * D / 2, *si = sn.data() + s * D / 2;
                const float *v = x.floats().data() + base;
                float *o = r.floats().data() + base;
                for (int64_t i = 0; i < D / 2; ++i) {
                  int64_t a = half ? i : 2 * i, b = half ? i + D / 2 : 2 * i + 1;
                  o[a] = v[a] * c[i] - v[b] * si[i];
                  o[b] = v[a] * si[i] + v[b] * c[i];
                }
              }
            });
  out.push_back(std::move(r));
  return true;
}

bool causalMask(const Tensor &x, std::vector<Tensor> &out) {
  if (x.rank() < 2)
    return false;
  int64_t Sk = x.shape().back(), Sq = x.shape()[x.rank() - 2];
  Tensor r = x;
  for (int64_t row = 0; Sk && row < x.numElements() / Sk; ++row) {
    int64_t firstMasked = std::max<int64_t>(row % Sq + (Sk - Sq) + 1, 0);
    float *o = r.floats().data() + row * Sk;
    for (int64_t j = firstMasked; j < Sk; ++j)
      o[j] = -INFINITY;
  }
  out.push_back(std::move(r));
  return true;
}

bool codeRange(DType t, int32_t &lo, int32_t &hi) {
  if (t == DType::I8)
    return lo = -128, hi = 127, true;
  if (t == DType::U8)
    return lo = 0, hi = 255, true;
  return false;
}

/// quantize_dynamic of a tensor of `shape` whose row r (of its last
/// dimension) starts at in + rowOffset[r] (rows of a transposed view are
/// strided in the input), or at in + r * C when rowOffset is empty.
bool quantizeDynamicRows(const Op &op, const float *in, llvm::ArrayRef<int64_t> shape,
                         llvm::ArrayRef<int64_t> rowOffset, std::vector<Tensor> &out,
                         ThreadPool *pool) {
  llvm::StringRef g = op.stringAttr("granularity");
  bool perToken = g.empty() || g == "per-token", perColumn = g == "per-column",
       perBlock = g == "per-block";
  unsigned rank = shape.size();
  if ((!perToken && !perColumn && !perBlock && g != "per-tensor") ||
      rank < (perColumn ? 2u : 1u))
    return false;
  bool isUnsigned = op.boolAttr("unsigned");
  int32_t lo = isUnsigned ? 0 : -128, hi = isUnsigned ? 255 : 127;
  double levels = isUnsigned ? 255.0 : 127.0;
  // Per token, a row is one block of all its columns.
  int64_t C = shape.back();
  int64_t block = perBlock ? op.intAttr("block") : std::max<int64_t>(C, 1);
  Shape sShape(shape);
  if (perToken)
    sShape.back() = 1;
  else if (perColumn)
    sShape[rank - 2] = 1;
  else if (perBlock)
    sShape.back() = (C + block - 1) / block;
  else
    sShape.clear();
  Tensor q(isUnsigned ? DType::U8 : DType::I8, shape), scale(DType::F32, sShape);
  float *s = scale.floats().data();
  int32_t *o = q.ints().data();
  int64_t rows = C ? q.numElements() / C : 0;
  auto row = [&](int64_t r) { return in + (rowOffset.empty() ? r * C : rowOffset[r]); };
  if (perToken || perBlock) {
    int64_t G = sShape.back();
    splitRows(pool, rows, q.numElements(), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t g = 0; g < G; ++g) {
          int64_t c0 = g * block, n = std::min(block, C - c0);
          float &sg = s[r * G + g];
          sg = dynamicScale(rowAbsMax(row(r) + c0, n), levels);
          rowCodes(row(r) + c0, n, sg, lo, hi, o + r * C + c0);
        }
    });
  } else if (perColumn) {
    int64_t R = shape[rank - 2], batches = rows / std::max<int64_t>(R, 1);
    splitRows(pool, batches, q.numElements(), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        float *sb = s + b * C;
        std::fill(sb, sb + C, 0.0f);
        for (int64_t r = 0; r < R; ++r)
          rowAbsMaxInto(row(b * R + r), C, sb);
        for (int64_t c = 0; c < C; ++c)
          sb[c] = dynamicScale(sb[c], levels);
        for (int64_t r = 0; r < R; ++r)
          rowCodesPerElement(row(b * R + r), C, sb, lo, hi, o + (b * R + r) * C);
      }
    });
  } else {
    float amax = 0;
    for (int64_t r = 0; r < rows; ++r)
      amax = std::max(amax, rowAbsMax(row(r), C));
    s[0] = dynamicScale(amax, levels);
    for (int64_t r = 0; r < rows; ++r)
      rowCodes(row(r), C, s[0], lo, hi, o + r * C);
  }
  out.push_back(std::move(q));
  out.push_back(std::move(scale));
  return true;
}

/// quantize(x, scale, zp?) and dequantize(q, scale, zp?) with scales that
/// broadcast against x.
bool quantizeOrDequantize(const Op &op, llvm::ArrayRef<const Tensor *> in,
                          std::vector<Tensor> &out) {
  const Tensor &x = *in[0];
  bool quantize = op.kind() == OpKind::Quantize;
  DType outType = op.result()->type().dtype();
  int32_t lo = 0, hi = 0;
  if (quantize ? (x.dtype() != DType::F32 || !codeRange(outType, lo, hi))
               : (isFloat(x.dtype()) || outType != DType::F32))
    return false;
  Shape shape;
  for (size_t i = 1; i < in.size(); ++i) // f32 scale, i32 zero point
    if (in[i]->dtype() != (i == 1 ? DType::F32 : DType::I32) ||
        !broadcastShapes(x.shape(), in[i]->shape(), shape) ||
        shape != llvm::ArrayRef<int64_t>(x.shape()))
      return false;
  Tensor r(outType, x.shape());
  if (quantize && in.size() == 2 && in[1]->numElements() == 1) { // static per-tensor (O3)
    rowCodes(x.floats().data(), x.numElements(), in[1]->floats()[0], lo, hi, r.ints().data());
    out.push_back(std::move(r));
    return true;
  }
  std::array<Shape, 3> s{x.strides(), broadcastStrides(in[1]->shape(), x.shape()),
                         in.size() == 3 ? broadcastStrides(in[2]->shape(), x.shape())
                                        : Shape(x.rank(), 0)};
  if (x.rank() == 0)
    for (Shape &v : s)
      v.push_back(0);
  int64_t n = x.shape().empty() ? 1 : x.shape().back();
  int64_t ss = s[1].back(), sz = s[2].back();
  static const int32_t zero = 0;
  const float *scale = in[1]->floats().data();
  const int32_t *zp = in.size() == 3 ? in[2]->ints().data() : &zero;
  Shape shapeForRows(x.shape());
  if (shapeForRows.empty())
    shapeForRows.push_back(1);
  forEachRow<3>(
      shapeForRows, s,
      [&](int64_t row, const std::array<int64_t, 3> &off) {
        for (int64_t i = 0; i < n; ++i) {
          float sc = scale[off[1] + i * ss];
          double z = zp[off[2] + i * sz];
          if (quantize)
            r.ints()[row * n + i] = int32_t(quantizationCode(x.floats()[row * n + i], sc, z, lo, hi));
          else
            r.floats()[row * n + i] = float((double(x.ints()[row * n + i]) - z) * sc);
        }
      },
      0, r.numElements() / std::max<int64_t>(n, 1));
  out.push_back(std::move(r));
  return true;
}

/// transpose `op` applied to x's elements read with shape `xShape`.
bool transposeKernel(const Op &op, const Tensor &x, llvm::ArrayRef<int64_t> xShape,
                     std::vector<Tensor> &out, ThreadPool *pool) {
  llvm::ArrayRef<int64_t> perm = op.intArrayAttr("perm");
  DType outType = op.result()->type().dtype();
  if (outType != x.dtype() || perm.size() != xShape.size() || xShape.empty())
    return false;
  Shape shape;
  for (int64_t p : perm)
    shape.push_back(xShape[p]);
  Tensor r(outType, shape);
  if (r.numElements())
    byElementKind(x, [&](auto t) { transposeInto<decltype(t)>(x, xShape, perm, r, pool); });
  out.push_back(std::move(r));
  return true;
}

} // namespace

bool runTransposeOfReshape(const Op &reshape, const Op &transpose, const Tensor &x,
                           std::vector<Tensor> &out, ThreadPool *pool) {
  Shape view;
  if (reshape.result()->type().dtype() != x.dtype() ||
      !reshapeShape(reshape, x.numElements(), view))
    return false;
  return transposeKernel(transpose, x, view, out, pool);
}

namespace {

/// The shape of transpose(reshape?(x)) and where each of its rows starts in
/// x, for a transpose that keeps the last dimension; false otherwise.
bool transposedRows(const Op &transpose, const Op *reshape, const Tensor &x, Shape &shape,
                    std::vector<int64_t> &offsets, Shape *view = nullptr) {
  Shape v;
  if (!reshape)
    v.assign(x.shape().begin(), x.shape().end());
  else if (!reshapeShape(*reshape, x.numElements(), v))
    return false;
  if (x.dtype() != DType::F32)
    return false;
  llvm::ArrayRef<int64_t> perm = transpose.intArrayAttr("perm");
  if (perm.size() != v.size() || v.empty() || perm.back() != int64_t(v.size()) - 1)
    return false; // rows must stay rows
  Shape strides = transposedStrides(v, perm);
  shape.clear();
  for (int64_t p : perm)
    shape.push_back(v[p]);
  int64_t C = shape.back(), rows = C ? product(shape) / C : 0;
  offsets.assign(rows, 0);
  std::array<Shape, 1> s{strides};
  forEachRow<1>(
      shape, s, [&](int64_t r, const std::array<int64_t, 1> &off) { offsets[r] = off[0]; }, 0,
      rows);
  if (view)
    *view = std::move(v);
  return true;
}

} // namespace

bool runQuantizeThroughTranspose(const Op &quantize, const Op &transpose, const Op *reshape,
                                 const Tensor &x, std::vector<Tensor> &out, ThreadPool *pool) {
  Shape shape;
  std::vector<int64_t> offsets;
  return quantize.kind() == OpKind::QuantizeDynamic &&
         transposedRows(transpose, reshape, x, shape, offsets) &&
         quantizeDynamicRows(quantize, x.floats().data(), shape, offsets, out, pool);
}

bool updateColumnCodes(const Op &quantize, const Op &transpose, const Op *reshape,
                       const Tensor &x, const Tensor *fixedScale, int64_t keptRows,
                       ColumnCodeCache &cache, ThreadPool *pool) {
  bool perColumn = !fixedScale && quantize.kind() == OpKind::QuantizeDynamic &&
                   quantize.stringAttr("granularity") == "per-column" &&
                   !quantize.boolAttr("unsigned");
  bool fixed = fixedScale && quantize.kind() == OpKind::Quantize &&
               fixedScale->dtype() == DType::F32 && fixedScale->numElements() == 1;
  Shape shape, view;
  std::vector<int64_t> offsets;
  if ((!perColumn && !fixed) || !transposedRows(transpose, reshape, x, shape, offsets, &view) ||
      shape.size() < 2 || transpose.intArrayAttr("perm")[shape.size() - 2] != 0 ||
      x.rank() == 0 || view[0] != x.shape()[0])
    return false; // the context must be what the codes' rows run along
  int64_t R = shape[shape.size() - 2], C = shape.back();
  int64_t batches = R > 0 && C > 0 ? product(shape) / (R * C) : 0;
  float fixedStep = fixed ? fixedScale->floats()[0] : 0.0f;
  if (keptRows > R || cache.rows != keptRows || cache.batches != batches ||
      cache.columns != C || cache.maxima.size() != size_t(fixed ? 1 : batches * C) ||
      (fixed && cache.maxima[0] != fixedStep))
    keptRows = 0;
  cache.shape.assign(shape.begin(), shape.end());
  cache.codes.resize(R * batches * C);
  const float *in = x.floats().data();
  int8_t *o = cache.codes.data();
  auto code = [&](int64_t b, int64_t r) { return o + (r * batches + b) * C; };
  if (fixed) { // the old codes stand: the new rows only
    cache.maxima.assign(1, fixedStep); // (the step they were coded with)
    splitRows(pool, batches, (R - keptRows) * batches * C, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b)
        for (int64_t r = keptRows; r < R; ++r)
          rowCodes(in + offsets[b * R + r], C, fixedStep, -128, 127, code(b, r));
    });
  } else {
    Shape sShape(shape);
    sShape[shape.size() - 2] = 1;
    cache.scales = Tensor(DType::F32, sShape);
    cache.maxima.resize(batches * C);
    float *s = cache.scales.floats().data();
    splitRows(pool, batches, product(shape), [&](int64_t b0, int64_t b1) {
      std::vector<float> fresh(C), before(C);
      for (int64_t b = b0; b < b1; ++b) {
        float *mx = cache.maxima.data() + b * C;
        std::fill(fresh.begin(), fresh.end(), 0.0f);
        for (int64_t r = keptRows; r < R; ++r)
          rowAbsMaxInto(in + offsets[b * R + r], C, fresh.data());
        std::copy(mx, mx + C, before.begin());
        if (!keptRows)
          std::fill(mx, mx + C, 0.0f);
        rowAbsMaxInto(fresh.data(), C, mx); // the same max as over every row
        for (int64_t c = 0; c < C; ++c)
          s[b * C + c] = dynamicScale(mx[c], 127.0);
        // Old codes stand in every column whose maximum (so scale) did not
        // move; the few columns whose did are coded again.
        for (int64_t c = 0; keptRows && c < C; ++c)
          if (std::memcmp(&before[c], &mx[c], sizeof(float)) != 0)
            for (int64_t r = 0; r < keptRows; ++r)
              code(b, r)[c] = int8_t(
                  quantizationCode(in[offsets[b * R + r] + c], s[b * C + c], 0, -128, 127));
        for (int64_t r = keptRows; r < R; ++r)
          rowCodesPerElement(in + offsets[b * R + r], C, s + b * C, -128, 127, code(b, r));
      }
    });
  }
  cache.rows = R;
  cache.batches = batches;
  cache.columns = C;
  return true;
}

bool broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b,
                     llvm::SmallVectorImpl<int64_t> &out) {
  out.assign(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1)
      return false;
    out[out.size() - 1 - i] = da == 1 ? db : da;
  }
  return true;
}

Shape broadcastStrides(llvm::ArrayRef<int64_t> in, llvm::ArrayRef<int64_t> out) {
  Shape s(out.size(), 0);
  int64_t stride = 1;
  for (int d = int(in.size()) - 1, o = int(out.size()) - 1; d >= 0; --d, --o) {
    s[o] = in[d] == 1 ? 0 : stride;
    stride *= in[d];
  }
  return s;
}

/// quantize_log2 / dequantize_log2, element by element (LogQuant.h).
bool logQuantElements(const Op &op, const Tensor &x, std::vector<Tensor> &out,
                      ThreadPool *pool) {
  bool quantize = op.kind() == OpKind::QuantizeLog2, sqrt2 = op.stringAttr("base") == "sqrt2";
  if (quantize ? x.dtype() != DType::F32 : x.dtype() != DType::U8)
    return false;
  Tensor r(quantize ? DType::U8 : DType::F32, x.shape());
  splitRows(pool, x.numElements(), x.numElements(), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      if (quantize)
        r.ints()[i] = logQuantCode(x.floats()[i], sqrt2);
      else
        r.floats()[i] = float(logQuantValue(x.ints()[i], sqrt2));
  });
  out.push_back(std::move(r));
  return true;
}

/// log2_matmul: each row of codes through the JIT's row kernel
/// (Log2Emitter.h), which reads each k's N values of b contiguously: a
/// transposed b is copied into that layout first, once per call.
bool log2MatMul(const Op &op, const Tensor &a, const Tensor &b, std::vector<Tensor> &out,
                ThreadPool *pool, GemmEngine::Log2RowKernel kernel) {
  bool sqrt2 = op.stringAttr("base") == "sqrt2", tb = op.boolAttr("transpose_b");
  if (!kernel || a.dtype() != DType::U8 || b.dtype() != DType::I8 || a.rank() < 2 ||
      b.rank() < 2)
    return false;
  int64_t M = a.shape()[a.rank() - 2], K = a.shape().back();
  int64_t N = tb ? b.shape()[b.rank() - 2] : b.shape().back();
  if ((tb ? b.shape().back() : b.shape()[b.rank() - 2]) != K)
    return false;
  Shape batch;
  if (!broadcastShapes(a.shape().drop_back(2), b.shape().drop_back(2), batch))
    return false;
  Shape sa = broadcastStrides(a.shape().drop_back(2), batch),
        sb = broadcastStrides(b.shape().drop_back(2), batch);
  int64_t batches = 1;
  for (int64_t d : batch)
    batches *= d;
  Shape shape = batch;
  shape.push_back(M);
  shape.push_back(N);
  Tensor r(DType::F32, shape);
  const int32_t *bData = b.ints().data();
  std::vector<int32_t> rows; // b as [..., K, N] when it came transposed
  if (tb) {
    rows.resize(b.numElements());
    for (int64_t base = 0; base < b.numElements(); base += K * N)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k)
          rows[base + k * N + n] = bData[base + n * K + k];
    bData = rows.data();
  }
  splitRows(pool, batches * M, batches * M * K * N, [&](int64_t r0, int64_t r1) {
    std::vector<int64_t> all(N), odd(N);
    for (int64_t row = r0; row < r1; ++row) {
      int64_t bi = row / M, m = row % M, offA = 0, offB = 0;
      for (int64_t d = int64_t(batch.size()) - 1, rem = bi; d >= 0; --d) {
        offA += (rem % batch[d]) * sa[d];
        offB += (rem % batch[d]) * sb[d];
        rem /= batch[d];
      }
      kernel(a.ints().data() + offA * M * K + m * K, K, bData + offB * K * N, N, N, sqrt2,
             all.data(), odd.data(), r.floats().data() + row * N);
    }
  });
  out.push_back(std::move(r));
  return true;
}

static bool isBinaryArithmetic(OpKind k) {
  return k == OpKind::Add || k == OpKind::Sub || k == OpKind::Mul || k == OpKind::Div ||
         k == OpKind::Maximum || k == OpKind::Minimum;
}

bool hostKernelCovers(const Op &op) {
  if (isBinaryArithmetic(op.kind()))
    return true;
  switch (op.kind()) {
  case OpKind::Reshape:
  case OpKind::Transpose:
  case OpKind::Concat:
  case OpKind::Slice:
  case OpKind::Gather:
  case OpKind::Neg:
  case OpKind::Exp:
  case OpKind::Sqrt:
  case OpKind::Rsqrt:
  case OpKind::Tanh:
  case OpKind::Sigmoid:
  case OpKind::Relu:
  case OpKind::Silu:
  case OpKind::Gelu:
  case OpKind::Softmax:
  case OpKind::LayerNorm:
  case OpKind::RmsNorm:
  case OpKind::Rope:
  case OpKind::CausalMask:
  case OpKind::QuantizeDynamic:
  case OpKind::Quantize:
  case OpKind::Dequantize:
  case OpKind::QuantizeLog2:
  case OpKind::DequantizeLog2:
  case OpKind::Log2MatMul:
    return true;
  default:
    return false;
  }
}

bool hostKernelIsExact(const Op &op) {
  switch (op.kind()) {
  case OpKind::Quantize:
  case OpKind::Dequantize:
  case OpKind::Add:
  case OpKind::Sub:
  case OpKind::Mul:
  case OpKind::Div:
  case OpKind::Reshape:
  case OpKind::Transpose:
    return true;
  default:
    return false;
  }
}

bool runHostKernel(const Op &op, llvm::ArrayRef<const Tensor *> in, std::vector<Tensor> &out,
                   ThreadPool *pool, const GemmEngine *engine) {
  if (!hostKernelCovers(op) || in.size() != op.numOperands() || in.empty())
    return false;
  const Tensor &x = *in[0];
  DType outType = op.result()->type().dtype();
  if (isBinaryArithmetic(op.kind()))
    return outType == DType::F32 && allF32(in) && binary(op.kind(), x, *in[1], out, pool);
  switch (op.kind()) {
  case OpKind::Reshape: {
    Shape shape;
    if (outType != x.dtype() || !reshapeShape(op, x.numElements(), shape))
      return false;
    Tensor r(outType, shape);
    byElementKind(x, [&](auto t) {
      using T = decltype(t);
      std::memcpy(data<T>(r), data<T>(x), x.numElements() * sizeof(T));
    });
    out.push_back(std::move(r));
    return true;
  }
  case OpKind::Transpose:
    return transposeKernel(op, x, x.shape(), out, pool);
  case OpKind::Concat: {
    if (x.rank() == 0)
      return false;
    unsigned axis = unsigned((op.intAttr("axis") + x.rank()) % x.rank());
    Shape shape(x.shape());
    shape[axis] = 0;
    for (const Tensor *t : in) {
      if (t->dtype() != outType || t->rank() != x.rank())
        return false;
      for (unsigned d = 0; d < x.rank(); ++d)
        if (d != axis && t->shape()[d] != x.shape()[d])
          return false;
      shape[axis] += t->shape()[axis];
    }
    Tensor r(outType, shape);
    byElementKind(x, [&](auto t) { concatInto<decltype(t)>(in, axis, r); });
    out.push_back(std::move(r));
    return true;
  }
  case OpKind::Slice: {
    if (x.rank() == 0 || outType != x.dtype())
      return false;
    unsigned axis = unsigned((op.intAttr("axis") + x.rank()) % x.rank());
    int64_t start = op.intAttr("start"), end = op.intAttr("end");
    if (start < 0 || end < start || end > x.shape()[axis])
      return false;
    Shape shape(x.shape());
    shape[axis] = end - start;
    Tensor r(outType, shape);
    byElementKind(x, [&](auto t) { sliceInto<decltype(t)>(x, axis, start, r); });
    out.push_back(std::move(r));
    return true;
  }
  case OpKind::Gather: {
    if (x.rank() == 0 || outType != x.dtype() || op.intAttr("axis") != 0)
      return false;
    Shape shape(in[1]->shape());
    shape.append(x.shape().begin() + 1, x.shape().end());
    Tensor r(outType, shape);
    bool ok = true;
    byElementKind(x, [&](auto t) { ok = gatherRows<decltype(t)>(x, *in[1], r); });
    if (ok)
      out.push_back(std::move(r));
    return ok;
  }
  case OpKind::Softmax: {
    if (outType != DType::F32 || !allF32(in) || x.rank() == 0 ||
        (op.intAttr("axis") + x.rank()) % x.rank() != x.rank() - 1)
      return false;
    Tensor r(DType::F32, x.shape());
    softmaxLastAxis(x, r, pool);
    out.push_back(std::move(r));
    return true;
  }
  case OpKind::LayerNorm:
  case OpKind::RmsNorm:
    return outType == DType::F32 && allF32(in) && x.rank() > 0 && norm(op, in, out, pool);
  case OpKind::Rope:
    return outType == DType::F32 && x.dtype() == DType::F32 && rope(op, x, *in[1], out, pool);
  case OpKind::CausalMask:
    return outType == DType::F32 && x.dtype() == DType::F32 && causalMask(x, out);
  case OpKind::QuantizeDynamic:
    return x.dtype() == DType::F32 &&
           quantizeDynamicRows(op, x.floats().data(), x.shape(), {}, out, pool);
  case OpKind::Quantize:
  case OpKind::Dequantize:
    return quantizeOrDequantize(op, in, out);
  case OpKind::QuantizeLog2:
  case OpKind::DequantizeLog2:
    return logQuantElements(op, x, out, pool);
  case OpKind::Log2MatMul:
    return log2MatMul(op, x, *in[1], out, pool, engine ? engine->log2RowKernel() : nullptr);
  default: // unary
    return outType == DType::F32 && x.dtype() == DType::F32 && unary(op, x, out, pool);
  }
}

} // namespace sqc
