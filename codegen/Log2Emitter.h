//===- codegen/Log2Emitter.h - log2_matmul's row kernel as LLVM IR -*- C++ -*-===//
//
// P x V with P in logarithmic codes (LogQuant.h) is shifts and adds: a row
// of codes times b [K, N] is, for each k whose code stands for 2^-s, b's
// row k shifted left by 40 - s and added in i64, into `odd` for the odd
// codes of base sqrt 2 and into `all` otherwise; then
//   out[n] = float((all[n] + odd[n] + (sqrt 2 - 1) odd[n]) * 2^-40)
// in double, the interpreter's arithmetic to the bit. Zero codes and shifts
// past 40 add nothing. Signature:
//   void NAME(const i32 *codes, i64 K, const i32 *b, i64 ldb, i64 N,
//             i64 sqrt2, i64 *all, i64 *odd, float *out)
// with b's row k at b + k * ldb, its N values contiguous; `all` and `odd`
// are N scratch i64s.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_CODEGEN_LOG2EMITTER_H
#define SQC_CODEGEN_LOG2EMITTER_H

#include "codegen/GemmEmitter.h"

namespace sqc {

/// e.g. `log2_matmul_row_avx2`.
std::string log2KernelName(GemmIsa isa);

/// Adds the kernel to `m`, in vectors of the ISA's width.
llvm::Function *emitLog2MatMulRowKernel(llvm::Module &m, GemmIsa isa);

} // namespace sqc

#endif // SQC_CODEGEN_LOG2EMITTER_H
