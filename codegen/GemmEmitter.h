//===- codegen/GemmEmitter.h - GEMM micro-kernels as LLVM IR ----*- C++ -*-===//
//
// One generator for the GEMMs of linear layers, with a variant per ISA. Both
// compute C = epilogue(A B^T) for activations A [M, K] and a weight B [N, K]
// that was packed at compile time into panels of `nr` columns (packGemmB in
// GemmEngine.h), one register-blocked tile of `mr` x `nr` at a time:
//
//   int8:  A holds the quantized activations; products are exact in 32 bits.
//          - AVX2 and generic: A as i16, B as s8 pairs widened in registers,
//            vpmaddwd (16-bit x 16-bit -> 32-bit pair sums: two s8 products
//            never saturate, unlike vpmaddubsw's 16-bit sums);
//          - AVX-VNNI / AVX-512 VNNI: vpdpbusd on u8 A = a + 128 and s8 B,
//            with the exact correction 128 * sum_k B[n, k] in the epilogue.
//          Epilogue: float(acc) * aScale[m] * wScale[n] (+ bias[n])
//          (+ residual[m, n]), written as f32.
//   int8, sign pairs (AVX2): vpmaddubsw's u8 x s8 pairs saturate 16 bits,
//          except when the u8 side is a magnitude |a| <= 128 and the s8 side
//          b * sign(a) with |b| <= 127 (vpsignb). A holds each k quad's four
//          codes then their magnitudes. Two k quads add in 16 bits before
//          one vpmaddwd widens them when their weights prove it safe: for
//          every 16-bit lane, 128 * sum |b| over its four k <= 32767. The
//          packer pairs quads so (GemmEngine::packInt8SignPairs); each
//          panel starts with its pair and slot counts and the slots' A
//          offsets. A -128 weight (which vpsignb cannot negate) is -127 in
//          its quad and -1 in a second slot on the same A codes.
//   fp32:  FMA on broadcast A and packed B; epilogue (+ bias) (+ residual).
//
// Kernel signature (all pointers may alias nothing; bias/residual/comp may
// be null):
//   void NAME(const void *A, i64 lda, const void *B, float *C, i64 ldc,
//             i64 M, i64 N, i64 K, i64 panelBegin, i64 panelEnd,
//             const float *aScale, const float *wScale, const float *bias,
//             const float *residual, const i32 *comp, const u8 *mult,
//             i64 groupShift)
// K is the packed depth (a multiple of the ISA's k group); [panelBegin,
// panelEnd) is the range of column panels this call computes, so threads
// split the work by panels. Int4Grouped only: each group of k is
// 2^groupShift iterations of the k loop (k step pairs), and `mult` holds a
// panel's multipliers group by group, nr bytes each.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_CODEGEN_GEMMEMITTER_H
#define SQC_CODEGEN_GEMMEMITTER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/IR/Module.h"

#include <optional>
#include <string>

namespace sqc {

enum class GemmIsa { Generic, AVX2, AVXVNNI, AVX512VNNI };

/// The shape of a variant's register tile and packed layout.
struct GemmTiling {
  unsigned lanes; // 32-bit lanes per vector register
  unsigned nr;    // columns per packed panel (a multiple of lanes)
  unsigned mr;    // rows per register tile
  unsigned kGroup; // k values one int8 multiply-add instruction consumes
};

GemmTiling gemmTiling(GemmIsa isa);
llvm::StringRef gemmIsaName(GemmIsa isa);
std::optional<GemmIsa> parseGemmIsa(llvm::StringRef name);
/// Target features a variant needs (e.g. "+avx2").
llvm::StringRef gemmIsaFeature(GemmIsa isa);

/// Int8: B holds one int8 code per byte. Int4: two codes per byte (the
/// k step pair 2j, 2j+1 in the low and high nibble of the same position),
/// sign-extended to int8 in registers: half the weight bytes, the same
/// multiply-adds. Int4Grouped: Int4 codes times a u8 multiplier in [1, 16]
/// per column and group of k (expand_groups), made INT8 codes in registers.
/// F32: floats.
/// Int8SignPairs (AVX2 only): int8 codes read with rows in sign-magnitude
/// form; see the top of this file.
enum class GemmKind { Int8, Int4, Int4Grouped, F32, Int8SignPairs };

/// Whether the generator has `kind` for `isa`.
bool gemmKindAvailable(GemmKind kind, GemmIsa isa);

/// The tile and packed layout of `kind` on `isa`.
GemmTiling gemmTiling(GemmIsa isa, GemmKind kind);

/// Bytes before an Int8SignPairs panel's B slots (k quads, some twice; the
/// packed depth K is 4 x slots): its number of slot pairs, of slots used,
/// then each slot's byte offset into an A row (pairs first, then singles),
/// padded to 32 bytes.
inline int64_t signPairsHeaderBytes(int64_t slots) { return (4 * (slots + 2) + 31) / 32 * 32; }

/// e.g. `qgemm_s8_f32out_avx2`, `sgemm_f32_avx2`.
std::string gemmKernelName(GemmKind kind, GemmIsa isa);

/// Adds the kernel to `m` (signature above).
llvm::Function *emitGemmKernel(llvm::Module &m, GemmKind kind, GemmIsa isa);

} // namespace sqc

#endif // SQC_CODEGEN_GEMMEMITTER_H
