//===- runtime/Interpreter.h - The reference interpreter --------*- C++ -*-===//
//
// Evaluates ops one at a time on host tensors, written to be obviously right
// rather than fast: it is the oracle that folded constants, passes and the
// JIT are checked against. Float math is done in double and rounded to the
// result's element type once per element.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_RUNTIME_INTERPRETER_H
#define SQC_RUNTIME_INTERPRETER_H

#include "ir/IR.h"
#include "runtime/Tensor.h"

#include "llvm/Support/Error.h"

#include <vector>

namespace sqc {

/// Whether evaluateOp() implements this kind of op.
bool interpreterSupports(OpKind kind);

/// Evaluates `op` on `inputs` (one per operand, with static shapes matching
/// the operand types' ranks). Result shapes are computed from the inputs.
llvm::Expected<std::vector<Tensor>>
evaluateOp(const Op &op, llvm::ArrayRef<const Tensor *> inputs);
/// The same, for inputs held by value.
llvm::Expected<std::vector<Tensor>> evaluateOp(const Op &op,
                                               llvm::ArrayRef<Tensor> inputs);

/// The tensor a `constant` op holds.
Tensor constantValue(const Op &constant);

} // namespace sqc

#endif // SQC_RUNTIME_INTERPRETER_H
