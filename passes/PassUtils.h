//===- passes/PassUtils.h - Small helpers the passes share ------*- C++ -*-===//
#ifndef SQC_PASSES_PASSUTILS_H
#define SQC_PASSES_PASSUTILS_H

#include "ir/IR.h"

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

} // namespace sqc

#endif // SQC_PASSES_PASSUTILS_H
