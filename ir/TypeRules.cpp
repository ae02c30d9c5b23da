//===- ir/TypeRules.cpp - The type rule of every op -----------------------===//
//
// Each rule checks operand types and attribute values and computes result
// types. Messages are phrased for the user of the textual IR: the verifier
// prefixes them with the op's location and mnemonic.
//
//===----------------------------------------------------------------------===//
#include "ir/TypeRules.h"

#include "ir/IR.h"

#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace sqc {

namespace {

llvm::Error fail(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

const TensorType &operandType(const Op &op, unsigned i) {
  return op.operand(i)->type();
}

std::string operandName(const Op &op, unsigned i) {
  const auto &names = op.info().operandNames;
  std::string n = names[std::min<size_t>(i, names.size() - 1)];
  while (!n.empty() && (n.back() == '?' || n.back() == '.'))
    n.pop_back();
  return "'" + n + "'";
}

/// Resolves a possibly negative axis against `rank`.
llvm::Expected<unsigned> resolveAxis(int64_t axis, unsigned rank) {
  int64_t a = axis < 0 ? axis + int64_t(rank) : axis;
  if (a < 0 || a >= int64_t(rank))
    return fail("axis " + llvm::Twine(axis) + " is out of range for rank " +
                llvm::Twine(rank));
  return unsigned(a);
}

llvm::Error requireFloat(const Op &op, unsigned i) {
  if (!isFloat(operandType(op, i).dtype()))
    return fail("operand " + operandName(op, i) + " must be floating point, got " +
                operandType(op, i).str());
  return llvm::Error::success();
}

llvm::Error requireRankAtLeast(const Op &op, unsigned i, unsigned rank) {
  if (operandType(op, i).rank() < rank)
    return fail("operand " + operandName(op, i) + " must have rank >= " +
                llvm::Twine(rank) + ", got " + operandType(op, i).str());
  return llvm::Error::success();
}

llvm::Error requireSameDType(const Op &op, unsigned i, unsigned j) {
  if (operandType(op, i).dtype() != operandType(op, j).dtype())
    return fail("operands " + operandName(op, i) + " and " + operandName(op, j) +
                " must have the same element type, got " +
                operandType(op, i).str() + " and " + operandType(op, j).str());
  return llvm::Error::success();
}

/// The single declared result type, for ops that cannot derive it.
llvm::Expected<TensorType> declaredResult(llvm::ArrayRef<TensorType> declared,
                                          const Op &op) {
  if (declared.size() != 1)
    return fail("needs its result type written out");
  return declared[0];
}

llvm::Error requireStatic(const TensorType &t, llvm::StringRef what) {
  if (!t.isStatic())
    return fail(what + " must have a static shape, got " + t.str());
  return llvm::Error::success();
}

/// A scale or zero point must broadcast to `target` without growing it.
llvm::Error requireBroadcastsTo(const Op &op, unsigned i,
                                const TensorType &target) {
  const TensorType &t = operandType(op, i);
  auto b = broadcastDims(t.dims(), target.dims());
  if (!b || llvm::ArrayRef<Dim>(*b) != target.dims() || t.rank() > target.rank())
    return fail("operand " + operandName(op, i) + " of type " + t.str() +
                " does not broadcast to " + target.str());
  return llvm::Error::success();
}

llvm::Error requireScale(const Op &op, unsigned i, const TensorType &target) {
  if (operandType(op, i).dtype() != DType::F32)
    return fail("operand " + operandName(op, i) + " must be f32, got " +
                operandType(op, i).str());
  return requireBroadcastsTo(op, i, target);
}

/// The scales of `x` per block of `block` elements along its last axis:
/// [..., ceil(C/block)]. A symbolic ?c has no size to divide, so the
/// count of its blocks is the symbol ?c.bBLOCK (e.g. ?ctx.b32), bound when
/// the scales are made; kernels check it against C.
llvm::Expected<TensorType> blockScaleType(const TensorType &x, int64_t block) {
  if (block <= 0 || block > (int64_t(1) << 30))
    return fail("block must be in [1, 2^30], got " + llvm::Twine(block));
  if (x.rank() == 0)
    return fail("per-block scales need rank >= 1, got " + x.str());
  llvm::SmallVector<Dim, 4> dims(x.dims());
  const Dim &c = dims.back();
  dims.back() = c.isStatic() ? Dim((c.size() + block - 1) / block)
                             : Dim::symbol(c.symbol().str() + ".b" + std::to_string(block));
  return TensorType(DType::F32, dims);
}

/// Operand `i` is f32 scales of `target` per block of `block`.
llvm::Error requireBlockScale(const Op &op, unsigned i, const TensorType &target,
                              int64_t block) {
  auto t = blockScaleType(target, block);
  if (!t) return t.takeError();
  if (operandType(op, i) != *t)
    return fail("operand " + operandName(op, i) + " must be the scales per block of " +
                llvm::Twine(block) + ", " + t->str() + ", got " + operandType(op, i).str());
  return llvm::Error::success();
}

llvm::Error requireZeroPoint(const Op &op, unsigned i) {
  const TensorType &zp = operandType(op, i);
  if (zp.dtype() != DType::I32 || zp.dims() != operandType(op, 1).dims())
    return fail("operand 'zero_point' must be i32 with the shape of 'scale', got " +
                zp.str());
  return llvm::Error::success();
}

llvm::Expected<TensorType> declaredQuantized(llvm::ArrayRef<TensorType> declared,
                                             const Op &op,
                                             llvm::ArrayRef<Dim> dims) {
  auto t = declaredResult(declared, op);
  if (!t)
    return t.takeError();
  if (!isQuantizedInt(t->dtype()))
    return fail("result must be i8, u8 or i4, got " + t->str());
  if (t->dims() != dims)
    return fail("result must have the input's shape " +
                TensorType(t->dtype(), dims).str() + ", got " + t->str());
  return t;
}

/// The shared part of matmul, int_matmul and block_int_matmul: result dims
/// of a x b, b being operand `bIndex` (transposed with transpose_b).
llvm::Expected<llvm::SmallVector<Dim, 4>> matmulDims(const Op &op, unsigned bIndex = 1) {
  if (auto e = requireRankAtLeast(op, 0, 2)) return e;
  if (auto e = requireRankAtLeast(op, bIndex, 2)) return e;
  const TensorType &a = operandType(op, 0), &b = operandType(op, bIndex);
  bool tb = op.info().findAttr("transpose_b") && op.boolAttr("transpose_b");
  const Dim &k = a.dimFromEnd(0);
  const Dim &kb = tb ? b.dimFromEnd(0) : b.dimFromEnd(1);
  const Dim &n = tb ? b.dimFromEnd(1) : b.dimFromEnd(0);
  if (k != kb)
    return fail("contraction dimensions differ: " + a.str() + " x " + b.str() +
                (tb ? " (transpose_b)" : ""));
  auto batch = broadcastDims(a.dims().drop_back(2), b.dims().drop_back(2));
  if (!batch)
    return fail("batch dimensions do not broadcast: " + a.str() + " x " + b.str());
  batch->push_back(a.dimFromEnd(1));
  batch->push_back(n);
  return *batch;
}

/// The shared part of linear and int_linear: result dims of x W^T.
llvm::Expected<llvm::SmallVector<Dim, 4>> linearDims(const Op &op) {
  if (auto e = requireRankAtLeast(op, 0, 1)) return e;
  const TensorType &x = operandType(op, 0), &w = operandType(op, 1);
  if (w.rank() != 2)
    return fail("operand 'w' must be [N,K], got " + w.str());
  if (x.dimFromEnd(0) != w.dim(1))
    return fail("input features differ: x is " + x.str() + ", w is " + w.str() +
                " (w is [out, in])");
  llvm::SmallVector<Dim, 4> dims(x.dims().drop_back());
  dims.push_back(w.dim(0));
  return dims;
}

} // namespace

//===----------------------------------------------------------------------===//
// The op table's own checks
//===----------------------------------------------------------------------===//

llvm::Error checkAgainstOpTable(const Op &op) {
  const OpInfo &info = op.info();
  unsigned n = op.numOperands();
  if (n < info.minOperands || n > info.maxOperands) {
    std::string expected =
        info.isVariadic() ? "at least " + std::to_string(info.minOperands)
        : info.minOperands == info.maxOperands
            ? std::to_string(info.minOperands)
            : std::to_string(info.minOperands) + " or " +
                  std::to_string(info.maxOperands);
    return fail("takes " + expected + " operand" +
                (expected == "1" ? "" : "s") + ", got " + llvm::Twine(n));
  }
  for (const NamedAttr &a : op.attrs()) {
    const AttrSpec *spec = info.findAttr(a.name);
    if (!spec)
      return fail("has no attribute '" + a.name + "'");
    if (a.value.kind() != spec->kind)
      return fail("attribute '" + a.name + "' must be " + spec->kindText +
                  ", got " + attrKindName(a.value.kind()));
    if (!spec->enumValues.empty() &&
        llvm::find(spec->enumValues, a.value.getString()) ==
            spec->enumValues.end())
      return fail("attribute '" + a.name + "' must be one of " +
                  llvm::join(spec->enumValues, ", ") + ", got \"" +
                  a.value.getString() + "\"");
  }
  for (const AttrSpec &spec : info.attrs)
    if (spec.required && !op.attr(spec.name))
      return fail("needs attribute '" + spec.name + "'");
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Rules
//===----------------------------------------------------------------------===//

llvm::Error ruleConstant(const Op &op, llvm::ArrayRef<TensorType> declared,
                         llvm::SmallVectorImpl<TensorType> &results) {
  auto t = declaredResult(declared, op);
  if (!t) return t.takeError();
  if (auto e = requireStatic(*t, "a constant")) return e;
  const DenseElements &d = op.attr("value")->getDense();
  if (!t->numElements())
    return fail("a constant of type " + t->str() + " has too many elements");
  int64_t n = *t->numElements();
  if (d.splat ? d.values.size() != 1 : int64_t(d.values.size()) != n)
    return fail("constant of type " + t->str() + " needs " + llvm::Twine(n) +
                (n == 1 ? " value" : " values") + ", got " +
                llvm::Twine(d.values.size()));
  if (isFloat(t->dtype())) {
    // A finite literal must not round to infinity in its type (f16 rounds
    // up to infinity from 65520 on; f32 and bf16 from just past FLT_MAX).
    for (double v : d.values)
      if (std::isfinite(v) && (t->dtype() == DType::F16 ? std::fabs(v) >= 65520.0
                                                       : std::isinf(float(v))))
        return fail("value " + formatFloat(v) + " is out of range for " +
                    dtypeName(t->dtype()));
  }
  if (isInteger(t->dtype()))
    for (double v : d.values)
      if (v != std::floor(v) || v < double(intMin(t->dtype())) ||
          v > double(intMax(t->dtype())))
        return fail("value " + formatFloat(v) + " is not representable as " +
                    dtypeName(t->dtype()));
  results.push_back(*t);
  return llvm::Error::success();
}

llvm::Error ruleWeight(const Op &op, llvm::ArrayRef<TensorType> declared,
                       llvm::SmallVectorImpl<TensorType> &results) {
  auto t = declaredResult(declared, op);
  if (!t) return t.takeError();
  if (auto e = requireStatic(*t, "a weight")) return e;
  if (op.stringAttr("name").empty())
    return fail("weight name must not be empty");
  results.push_back(*t);
  return llvm::Error::success();
}

llvm::Error ruleLinear(const Op &op, llvm::ArrayRef<TensorType>,
                       llvm::SmallVectorImpl<TensorType> &results) {
  if (auto e = requireFloat(op, 0)) return e;
  if (auto e = requireSameDType(op, 0, 1)) return e;
  auto dims = linearDims(op);
  if (!dims) return dims.takeError();
  if (op.numOperands() == 3) {
    if (auto e = requireSameDType(op, 0, 2)) return e;
    const TensorType &b = operandType(op, 2);
    if (b.rank() != 1 || b.dim(0) != dims->back())
      return fail("operand 'bias' must be [" + dims->back().str() + "], got " +
                  b.str());
  }
  results.push_back(TensorType(operandType(op, 0).dtype(), *dims));
  return llvm::Error::success();
}

llvm::Error ruleMatMul(const Op &op, llvm::ArrayRef<TensorType>,
                       llvm::SmallVectorImpl<TensorType> &results) {
  if (auto e = requireFloat(op, 0)) return e;
  if (auto e = requireSameDType(op, 0, 1)) return e;
  auto dims = matmulDims(op);
  if (!dims) return dims.takeError();
  results.push_back(TensorType(operandType(op, 0).dtype(), *dims));
  return llvm::Error::success();
}

llvm::Error ruleBinary(const Op &op, llvm::ArrayRef<TensorType>,
                       llvm::SmallVectorImpl<TensorType> &results) {
  if (auto e = requireSameDType(op, 0, 1)) return e;
  const TensorType &a = operandType(op, 0), &b = operandType(op, 1);
  auto dims = broadcastDims(a.dims(), b.dims());
  if (!dims)
    return fail("shapes do not broadcast: " + a.str() + " and " + b.str());
  results.push_back(TensorType(a.dtype(), *dims));
  return llvm::Error::success();
}

llvm::Error ruleUnaryFloat(const Op &op, llvm::ArrayRef<TensorType>,
                           llvm::SmallVectorImpl<TensorType> &results) {
  if (auto e = requireFloat(op, 0)) return e;
  results.push_back(operandType(op, 0));
  return llvm::Error::success();
}

llvm::Error ruleNorm(const Op &op, llvm::ArrayRef<TensorType>,
                     llvm::SmallVectorImpl<TensorType> &results) {
  if (auto e = requireFloat(op, 0)) return e;
  if (auto e = requireRankAtLeast(op, 0, 1)) return e;
  const TensorType &x = operandType(op, 0);
  for (unsigned i = 1; i < op.numOperands(); ++i) {
    if (auto e = requireSameDType(op, 0, i)) return e;
    const TensorType &p = operandType(op, i);
    if (p.rank() != 1 || p.dim(0) != x.dimFromEnd(0))
      return fail("operand " + operandName(op, i) + " must be [" +
                  x.dimFromEnd(0).str() + "], got " + p.str());
  }
  double eps = op.floatAttr("eps");
  if (!(eps > 0) || std::isinf(eps))
    return fail("attribute 'eps' must be positive and finite, got " +
                formatFloat(eps));
  results.push_back(x);
  return llvm::Error::success();
}

llvm::Error ruleSoftmax(const Op &op, llvm::ArrayRef<TensorType>,
                        llvm::SmallVectorImpl<TensorType> &results) {
  if (auto e = requireFloat(op, 0)) return e;
  if (auto a = resolveAxis(op.intAttr("axis"), operandType(op, 0).rank()); !a)
    return a.takeError();
  results.push_back(operandType(op, 0));
  return llvm::Error::success();
}

llvm::Error ruleRope(const Op &op, llvm::ArrayRef<TensorType>,
                     llvm::SmallVectorImpl<TensorType> &results) {
  if (auto e = requireFloat(op, 0)) return e;
  if (auto e = requireRankAtLeast(op, 0, 3)) return e;
  const TensorType &x = operandType(op, 0), &pos = operandType(op, 1);
  const Dim &d = x.dimFromEnd(0);
  if (!d.isStatic() || d.size() % 2 != 0)
    return fail("head dimension must be static and even, got " + x.str());
  if (pos.dtype() != DType::I32 || pos.rank() != 1 || pos.dim(0) != x.dimFromEnd(2))
    return fail("operand 'positions' must be i32[" + x.dimFromEnd(2).str() +
                "] (one per sequence position of x[...,S,H,D]), got " + pos.str());
  double theta = op.floatAttr("theta");
  if (!(theta > 0) || std::isinf(theta))
    return fail("attribute 'theta' must be positive and finite");
  results.push_back(x);
  return llvm::Error::success();
}

llvm::Error ruleCausalMask(const Op &op, llvm::ArrayRef<TensorType>,
                           llvm::SmallVectorImpl<TensorType> &results) {
  if (auto e = requireFloat(op, 0)) return e;
  if (auto e = requireRankAtLeast(op, 0, 2)) return e;
  results.push_back(operandType(op, 0));
  return llvm::Error::success();
}

llvm::Error ruleGather(const Op &op, llvm::ArrayRef<TensorType>,
                       llvm::SmallVectorImpl<TensorType> &results) {
  if (auto e = requireRankAtLeast(op, 0, 1)) return e;
  const TensorType &table = operandType(op, 0), &idx = operandType(op, 1);
  if (idx.dtype() != DType::I32)
    return fail("operand 'indices' must be i32, got " + idx.str());
  auto axis = resolveAxis(op.intAttr("axis"), table.rank());
  if (!axis) return axis.takeError();
  llvm::SmallVector<Dim, 4> dims(table.dims().take_front(*axis));
  dims.append(idx.dims().begin(), idx.dims().end());
  dims.append(table.dims().begin() + *axis + 1, table.dims().end());
  if (dims.size() > kMaxRank)
    return fail("result rank exceeds " + llvm::Twine(kMaxRank));
  results.push_back(TensorType(table.dtype(), dims));
  return llvm::Error::success();
}

llvm::Error ruleReshape(const Op &op, llvm::ArrayRef<TensorType> declared,
                        llvm::SmallVectorImpl<TensorType> &results) {
  auto t = declaredResult(declared, op);
  if (!t) return t.takeError();
  const TensorType &x = operandType(op, 0);
  if (t->dtype() != x.dtype())
    return fail("reshape cannot change the element type: " + x.str() + " to " +
                t->str());
  // Same static element count, same symbols with the same multiplicity.
  auto split = [](const TensorType &ty, std::map<std::string, int> &syms)
      -> std::optional<int64_t> {
    int64_t n = 1;
    for (const Dim &d : ty.dims()) {
      if (d.isSymbolic()) {
        ++syms[d.symbol().str()];
      } else {
        if (d.size() != 0 && n > INT64_MAX / d.size())
          return std::nullopt;
        n *= d.size();
      }
    }
    return n;
  };
  std::map<std::string, int> sx, st;
  auto nx = split(x, sx), nt = split(*t, st);
  if (!nx || !nt)
    return fail("element count of " + (nx ? *t : x).str() + " overflows");
  if (*nx != *nt || sx != st)
    return fail("reshape must keep the number of elements: " + x.str() +
                " to " + t->str());
  results.push_back(*t);
  return llvm::Error::success();
}

llvm::Error ruleTranspose(const Op &op, llvm::ArrayRef<TensorType>,
                          llvm::SmallVectorImpl<TensorType> &results) {
  const TensorType &x = operandType(op, 0);
  llvm::ArrayRef<int64_t> perm = op.intArrayAttr("perm");
  std::vector<bool> seen(x.rank(), false);
  if (perm.size() != x.rank())
    return fail("'perm' has " + llvm::Twine(perm.size()) +
                " entries for an input of rank " + llvm::Twine(x.rank()));
  llvm::SmallVector<Dim, 4> dims;
  for (int64_t p : perm) {
    if (p < 0 || p >= int64_t(x.rank()) || seen[p])
      return fail("'perm' is not a permutation of 0.." +
                  llvm::Twine(int64_t(x.rank()) - 1));
    seen[p] = true;
    dims.push_back(x.dim(p));
  }
  results.push_back(x.withDims(dims));
  return llvm::Error::success();
}

llvm::Error ruleSlice(const Op &op, llvm::ArrayRef<TensorType>,
                      llvm::SmallVectorImpl<TensorType> &results) {
  const TensorType &x = operandType(op, 0);
  auto axis = resolveAxis(op.intAttr("axis"), x.rank());
  if (!axis) return axis.takeError();
  int64_t start = op.intAttr("start"), end = op.intAttr("end");
  const Dim &d = x.dim(*axis);
  if (start < 0 || end < start || (d.isStatic() && end > d.size()) ||
      end > kMaxDimSize)
    return fail("slice [" + llvm::Twine(start) + ", " + llvm::Twine(end) +
                ") is out of range for dimension " + d.str());
  llvm::SmallVector<Dim, 4> dims(x.dims());
  dims[*axis] = Dim(end - start);
  results.push_back(x.withDims(dims));
  return llvm::Error::success();
}

llvm::Error ruleConcat(const Op &op, llvm::ArrayRef<TensorType> declared,
                       llvm::SmallVectorImpl<TensorType> &results) {
  if (op.numOperands() == 0)
    return fail("needs at least one operand");
  const TensorType &first = operandType(op, 0);
  auto axis = resolveAxis(op.intAttr("axis"), first.rank());
  if (!axis) return axis.takeError();
  int64_t total = 0;
  bool symbolic = false;
  for (unsigned i = 0; i < op.numOperands(); ++i) {
    const TensorType &t = operandType(op, i);
    if (t.dtype() != first.dtype() || t.rank() != first.rank())
      return fail("operand #" + llvm::Twine(i) + " " + t.str() +
                  " does not match " + first.str());
    for (unsigned d = 0; d < t.rank(); ++d)
      if (d != *axis && t.dim(d) != first.dim(d))
        return fail("operand #" + llvm::Twine(i) + " " + t.str() +
                    " differs from " + first.str() + " outside axis " +
                    llvm::Twine(*axis));
    if (t.dim(*axis).isSymbolic())
      symbolic = true;
    else
      total += t.dim(*axis).size();
  }
  llvm::SmallVector<Dim, 4> dims(first.dims());
  if (symbolic) {
    // The sum of symbols has no name of its own: the text declares one.
    auto t = declaredResult(declared, op);
    if (!t) return t.takeError();
    if (t->rank() != first.rank())
      return fail("result rank must be " + llvm::Twine(first.rank()));
    dims[*axis] = t->dim(*axis);
  } else {
    if (total > kMaxDimSize)
      return fail("concatenated dimension is too large");
    dims[*axis] = Dim(total);
  }
  results.push_back(first.withDims(dims));
  return llvm::Error::success();
}

llvm::Error ruleConvert(const Op &op, llvm::ArrayRef<TensorType> declared,
                        llvm::SmallVectorImpl<TensorType> &results) {
  auto t = declaredResult(declared, op);
  if (!t) return t.takeError();
  if (t->dims() != operandType(op, 0).dims())
    return fail("convert keeps the shape: " + operandType(op, 0).str() +
                " to " + t->str());
  results.push_back(*t);
  return llvm::Error::success();
}

llvm::Error ruleQuantize(const Op &op, llvm::ArrayRef<TensorType> declared,
                         llvm::SmallVectorImpl<TensorType> &results) {
  if (auto e = requireFloat(op, 0)) return e;
  const TensorType &x = operandType(op, 0);
  if (auto e = requireScale(op, 1, x)) return e;
  if (op.numOperands() == 3)
    if (auto e = requireZeroPoint(op, 2)) return e;
  auto t = declaredQuantized(declared, op, x.dims());
  if (!t) return t.takeError();
  results.push_back(*t);
  return llvm::Error::success();
}

llvm::Error ruleDequantize(const Op &op, llvm::ArrayRef<TensorType>,
                           llvm::SmallVectorImpl<TensorType> &results) {
  const TensorType &q = operandType(op, 0);
  if (!isQuantizedInt(q.dtype()) && q.dtype() != DType::I32)
    return fail("operand 'q' must be i8, u8, i4 or i32, got " + q.str());
  if (op.intAttr("block") != 0) {
    if (op.numOperands() == 3)
      return fail("block scales take no zero point");
    if (auto e = requireBlockScale(op, 1, q, op.intAttr("block"))) return e;
  } else if (auto e = requireScale(op, 1, q)) {
    return e;
  }
  if (op.numOperands() == 3)
    if (auto e = requireZeroPoint(op, 2)) return e;
  results.push_back(q.withDType(DType::F32));
  return llvm::Error::success();
}

llvm::Error ruleRequantize(const Op &op, llvm::ArrayRef<TensorType> declared,
                           llvm::SmallVectorImpl<TensorType> &results) {
  const TensorType &x = operandType(op, 0);
  if (!isQuantizedInt(x.dtype()) && x.dtype() != DType::I32)
    return fail("operand 'x' must be i32, i8, u8 or i4, got " + x.str());
  if (auto e = requireScale(op, 1, x)) return e;
  if (auto e = requireScale(op, 2, x)) return e;
  auto t = declaredQuantized(declared, op, x.dims());
  if (!t) return t.takeError();
  results.push_back(*t);
  return llvm::Error::success();
}

llvm::Error ruleQuantizeDynamic(const Op &op, llvm::ArrayRef<TensorType>,
                                llvm::SmallVectorImpl<TensorType> &results) {
  if (auto e = requireFloat(op, 0)) return e;
  if (auto e = requireRankAtLeast(op, 0, 1)) return e;
  const TensorType &x = operandType(op, 0);
  results.push_back(x.withDType(op.boolAttr("unsigned") ? DType::U8 : DType::I8));
  llvm::StringRef g = op.stringAttr("granularity");
  if (g == "per-token") {
    llvm::SmallVector<Dim, 4> dims(x.dims().drop_back());
    dims.push_back(Dim(1));
    results.push_back(TensorType(DType::F32, dims));
  } else if (g == "per-column") {
    if (x.rank() < 2)
      return fail("per-column needs rank >= 2, got " + x.str());
    llvm::SmallVector<Dim, 4> dims(x.dims());
    dims[x.rank() - 2] = Dim(1);
    results.push_back(TensorType(DType::F32, dims));
  } else if (g == "per-block") {
    auto t = blockScaleType(x, op.intAttr("block"));
    if (!t) return t.takeError();
    results.push_back(*t);
  } else {
    results.push_back(TensorType(DType::F32, {}));
  }
  return llvm::Error::success();
}

llvm::Error ruleIntLinear(const Op &op, llvm::ArrayRef<TensorType>,
                          llvm::SmallVectorImpl<TensorType> &results) {
  DType x = operandType(op, 0).dtype(), w = operandType(op, 1).dtype();
  if (x != DType::I8 && x != DType::U8)
    return fail("operand 'x' must be i8 or u8, got " + operandType(op, 0).str());
  if (w != DType::I8 && w != DType::I4)
    return fail("operand 'w' must be i8 or i4, got " + operandType(op, 1).str());
  auto dims = linearDims(op);
  if (!dims) return dims.takeError();
  results.push_back(TensorType(DType::I32, *dims));
  return llvm::Error::success();
}

llvm::Error ruleIntMatMul(const Op &op, llvm::ArrayRef<TensorType>,
                          llvm::SmallVectorImpl<TensorType> &results) {
  for (unsigned i = 0; i < 2; ++i) {
    DType t = operandType(op, i).dtype();
    if (t != DType::I8 && t != DType::U8)
      return fail("operand " + operandName(op, i) + " must be i8 or u8, got " +
                  operandType(op, i).str());
  }
  auto dims = matmulDims(op);
  if (!dims) return dims.takeError();
  results.push_back(TensorType(DType::I32, *dims));
  return llvm::Error::success();
}

llvm::Error ruleBlockIntMatMul(const Op &op, llvm::ArrayRef<TensorType>,
                               llvm::SmallVectorImpl<TensorType> &results) {
  const TensorType &a = operandType(op, 0), &b = operandType(op, 2);
  if (a.dtype() != DType::I8 && a.dtype() != DType::U8)
    return fail("operand 'a' must be i8 or u8, got " + a.str());
  if (b.dtype() != DType::I8)
    return fail("operand 'b' must be i8, got " + b.str());
  auto dims = matmulDims(op, 2);
  if (!dims) return dims.takeError();
  if (auto e = requireBlockScale(op, 1, a, op.intAttr("block"))) return e;
  results.push_back(TensorType(DType::F32, *dims));
  return llvm::Error::success();
}

llvm::Error ruleExpandGroups(const Op &op, llvm::ArrayRef<TensorType>,
                             llvm::SmallVectorImpl<TensorType> &results) {
  const TensorType &q = operandType(op, 0), &m = operandType(op, 1);
  if (q.dtype() != DType::I4 || q.rank() != 2 || !q.isStatic())
    return fail("operand 'q' must be a static i4[N,K], got " + q.str());
  if (m.dtype() != DType::U8 || m.rank() != 2 || !m.isStatic() || m.dim(0) != q.dim(0) ||
      m.dim(1).size() == 0 || q.dim(1).size() % m.dim(1).size() != 0)
    return fail("operand 'multipliers' must be u8[" + q.dim(0).str() +
                ",G] with G dividing " + q.dim(1).str() + ", got " + m.str());
  results.push_back(q.withDType(DType::I8));
  return llvm::Error::success();
}

llvm::Error ruleQuantizeLog2(const Op &op, llvm::ArrayRef<TensorType>,
                             llvm::SmallVectorImpl<TensorType> &results) {
  if (auto e = requireFloat(op, 0)) return e;
  results.push_back(operandType(op, 0).withDType(DType::U8));
  return llvm::Error::success();
}

llvm::Error ruleDequantizeLog2(const Op &op, llvm::ArrayRef<TensorType>,
                               llvm::SmallVectorImpl<TensorType> &results) {
  if (operandType(op, 0).dtype() != DType::U8)
    return fail("operand 'q' must be u8, got " + operandType(op, 0).str());
  results.push_back(operandType(op, 0).withDType(DType::F32));
  return llvm::Error::success();
}

llvm::Error ruleLog2MatMul(const Op &op, llvm::ArrayRef<TensorType>,
                           llvm::SmallVectorImpl<TensorType> &results) {
  if (operandType(op, 0).dtype() != DType::U8)
    return fail("operand 'a' must be u8 (quantize_log2 codes), got " +
                operandType(op, 0).str());
  if (operandType(op, 1).dtype() != DType::I8)
    return fail("operand 'b' must be i8, got " + operandType(op, 1).str());
  auto dims = matmulDims(op);
  if (!dims) return dims.takeError();
  results.push_back(TensorType(DType::F32, *dims));
  return llvm::Error::success();
}

llvm::Error ruleReturn(const Op &, llvm::ArrayRef<TensorType>,
                       llvm::SmallVectorImpl<TensorType> &) {
  // Matching the graph's signature is the verifier's job: it needs the graph.
  return llvm::Error::success();
}

} // namespace sqc
