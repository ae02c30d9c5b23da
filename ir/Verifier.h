//===- ir/Verifier.h - Checks a module's invariants -------------*- C++ -*-===//
//
// Checks what every pass may rely on: unique graph names, values defined
// before use within their graph, operand counts and attributes as the op
// table says, result types equal to what each op's type rule computes, and a
// single `return` at the end of each graph matching its signature. Every
// problem is reported at its op's location.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_IR_VERIFIER_H
#define SQC_IR_VERIFIER_H

#include "ir/Diagnostics.h"
#include "ir/IR.h"

#include "llvm/Support/LogicalResult.h"

namespace sqc {

llvm::LogicalResult verify(const Module &m, DiagnosticEngine &diag);
llvm::LogicalResult verify(const Graph &g, DiagnosticEngine &diag);

} // namespace sqc

#endif // SQC_IR_VERIFIER_H
