//===- codegen/GemmEmitter.h - INT8 GEMM kernels as LLVM IR -----*- C++ -*-===//
//
// The first kernel generator: C[m, n] = sum_k A[m, k] * B[n, k] for s8 A
// ([M, K], rows of activations) and s8 B ([N, K], a linear's weight layout),
// accumulated in s32. Products are formed in 32 bits from sign-extended
// bytes, so the result is exact for every s8 input — no pair of products is
// ever squeezed through 16 bits, the step where AVX2's vpmaddubsw saturates.
// The K loop runs on vectors of `lanes` elements with a scalar tail; LLVM's
// instruction selection picks the ISA's multiply-add (vpmaddwd on AVX2).
// Register blocking, packing and fused epilogues come next.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_CODEGEN_GEMMEMITTER_H
#define SQC_CODEGEN_GEMMEMITTER_H

#include "llvm/IR/Module.h"

#include <string>

namespace sqc {

/// The kernel's name: what it computes, its layout and vector width,
/// e.g. `qgemm_s8s8s32_nt_v16`.
std::string int8GemmName(unsigned lanes);

/// Adds `void NAME(const int8_t *A, const int8_t *B, int32_t *C, int64_t M,
/// int64_t N, int64_t K)` to `m`. `lanes` must be a power of two.
llvm::Function *emitInt8Gemm(llvm::Module &m, unsigned lanes);

} // namespace sqc

#endif // SQC_CODEGEN_GEMMEMITTER_H
