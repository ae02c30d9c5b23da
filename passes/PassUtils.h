//===- passes/PassUtils.h - Small helpers the passes share ------*- C++ -*-===//
#ifndef SQC_PASSES_PASSUTILS_H
#define SQC_PASSES_PASSUTILS_H

#include "ir/IR.h"
#include "passes/Pass.h"
#include "runtime/Calibration.h"

#include <optional>

#include <vector>

namespace sqc {

/// An f32 `constant` op holding `values` (rounded to f32, the values it will
/// have when run), inserted by `b`; a scalar (no dims) prints as a splat.
inline Value *createF32Constant(OpBuilder &b, std::vector<double> values,
                                llvm::ArrayRef<Dim> dims) {
  for (double &v : values)
    v = double(float(v));
  bool splat = dims.empty() && values.size() == 1;
  return cantFail(b.value(OpKind::Constant, {},
                          {{"value", DenseElements{std::move(values), splat}}},
                          {TensorType(DType::F32, dims)}));
}

/// An integer `constant` op (i32 zero points, u8 multipliers, ...) of
/// `dtype` holding `values`, inserted by `b`; a scalar prints as a splat.
inline Value *createIntConstant(OpBuilder &b, DType dtype, std::vector<double> values,
                                llvm::ArrayRef<Dim> dims) {
  bool splat = dims.empty() && values.size() == 1;
  return cantFail(b.value(OpKind::Constant, {},
                          {{"value", DenseElements{std::move(values), splat}}},
                          {TensorType(dtype, dims)}));
}

/// `mul(v, constant)` with the constant's `dims` (f32), inserted by `b` and
/// named `name` (unless empty): how passes fold a scale into a weight or a
/// norm's parameters visibly.
inline Value *scaledByConstant(OpBuilder &b, Value *v, std::vector<double> scale,
                               llvm::ArrayRef<Dim> dims, llvm::StringRef name) {
  Value *c = createF32Constant(b, std::move(scale), dims);
  Value *r = cantFail(b.value(OpKind::Mul, {v, c}));
  if (!name.empty())
    r->setName(name.str());
  return r;
}

/// Produced by a dequantize: a quantization pass has been here already.
inline bool isDequantized(const Value *v) {
  return v->definingOp() && (v->definingOp()->kind() == OpKind::Dequantize ||
                             v->definingOp()->kind() == OpKind::DequantizeLog2);
}

/// A `linear` that rotate-qk inserted: x times its Hadamard constant (known
/// by the name the pass gives it, which survives printing and parsing).
inline bool isHadamardRotation(const Op *op) {
  if (!op || op->kind() != OpKind::Linear)
    return false;
  const Op *w = op->operand(1)->definingOp();
  return w && w->kind() == OpKind::Constant &&
         op->operand(1)->name().starts_with("hadamard");
}

/// The calibration statistics a pass should use: those in the file its
/// `calib=` option names (loaded into `storage`), else the driver's. Reports
/// a file that cannot be read and returns false.
inline bool resolveCalibration(PassContext &ctx, const std::string &path,
                               std::optional<CalibrationStats> &storage,
                               const CalibrationStats *&stats) {
  stats = ctx.calib;
  if (path.empty())
    return true;
  auto loaded = CalibrationStats::load(path);
  if (!loaded) {
    ctx.diag.error(Location::unknown(), llvm::toString(loaded.takeError()));
    return false;
  }
  storage = std::move(*loaded);
  stats = &*storage;
  return true;
}

} // namespace sqc

#endif // SQC_PASSES_PASSUTILS_H
