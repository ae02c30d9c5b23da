//===- ir/TypeRules.h - The type rule of every op ---------------*- C++ -*-===//
#ifndef SQC_IR_TYPERULES_H
#define SQC_IR_TYPERULES_H

#include "ir/OpInfo.h"

namespace sqc {

#define OP(Name, Mnemonic, Operands, Results, Attrs, Rule, Doc)                \
  llvm::Error Rule(const Op &op, llvm::ArrayRef<TensorType> declared,          \
                   llvm::SmallVectorImpl<TensorType> &results);
#include "ir/Ops.def"

/// Checks what the op table alone decides: operand count, attribute names,
/// kinds, enum values and presence of required attributes.
llvm::Error checkAgainstOpTable(const Op &op);

} // namespace sqc

#endif // SQC_IR_TYPERULES_H
