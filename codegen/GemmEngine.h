//===- codegen/GemmEngine.h - JIT-compiled GEMMs, packing, threads -*- C++ -*-===//
//
// Compiles the int8, int4 (plain and grouped) and fp32 GEMM kernels of one
// ISA variant, and log2_matmul's row kernel, each at its first use (ORC
// JIT, tuned for the target); packs weights into the layout they read,
// quantizes activation rows into the form the int8 kernel broadcasts, and
// splits each GEMM's column panels over a thread pool.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_CODEGEN_GEMMENGINE_H
#define SQC_CODEGEN_GEMMENGINE_H

#include "codegen/GemmEmitter.h"
#include "codegen/Jit.h"
#include "runtime/ThreadPool.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace sqc {

/// A weight [N, K] in a kernel's panel layout.
struct PackedWeights {
  int64_t N = 0, K = 0; // logical shape
  int64_t Kp = 0;       // packed depth (K rounded up to the k group; sign pairs: 4 x slots)
  int64_t panels = 0;
  std::vector<int8_t> bytes;  // int8 panels
  std::vector<float> floats;  // fp32 panels
  std::vector<int32_t> comp;  // u8 variants: 128 * sum_k B[n, k]
  GemmKind kind = GemmKind::Int8; // the kernel that reads this layout
  // Grouped INT4 (GemmKind::Int4Grouped): per panel, per group of k, nr u8
  // multipliers; a group is 2^groupShift k step pairs.
  std::vector<uint8_t> multipliers;
  int64_t groupShift = 0;
};

/// Quantized activation rows in the form the int8 kernel broadcasts.
struct QuantizedRows {
  int64_t M = 0, Kp = 0;
  std::vector<int16_t> i16; // pmaddwd variants: [M, Kp]
  // AVX2, signed codes: per k quad its four codes, then their magnitudes,
  // for Int8SignPairs weights [M, 2 Kp].
  std::vector<int8_t> signMag;
  std::vector<uint8_t> u8;  // vpdpbusd variants: [M, Kp], value + 128
  std::vector<float> scale; // per row
  bool unsignedCodes = false; // u8 codes (softmax outputs): no +128 shift
};

/// Whether `target` has every feature `isa` needs.
bool targetRuns(const TargetSpec &target, GemmIsa isa);
/// The variant the target can run best.
GemmIsa bestGemmIsa(const TargetSpec &target);

class GemmEngine {
public:
  /// An engine of `isa`'s kernels (int8, int4, fp32 GEMMs and the log2 row
  /// kernel) for `target`, each compiled at its first use.
  static llvm::Expected<std::unique_ptr<GemmEngine>> create(const TargetSpec &target,
                                                            GemmIsa isa);
  /// The engine for (target, isa), compiled on first use and kept for the
  /// process: every graph compiled after the first (model variants, probes)
  /// skips compiling the kernels again. Safe from any thread.
  static llvm::Expected<std::shared_ptr<const GemmEngine>> shared(const TargetSpec &target,
                                                                  GemmIsa isa);
  /// Adds the kernels an engine of `isa` compiles to `m` (for --emit).
  static void emitKernels(llvm::Module &m, GemmIsa isa);
  GemmIsa isa() const { return isa_; }
  const GemmTiling &tiling() const { return tiling_; }

  PackedWeights packInt8(const int8_t *w, int64_t N, int64_t K) const;
  /// The Int8SignPairs layout (AVX2 only; see GemmEmitter.h): each panel's
  /// k quads paired where no 16-bit sum of the pair can overflow; nullopt
  /// on other ISAs. Rows multiplied by it must be signed codes.
  std::optional<PackedWeights> packInt8SignPairs(const int8_t *w, int64_t N, int64_t K) const;
  PackedWeights packF32(const float *w, int64_t N, int64_t K) const;
  /// Codes in [-8, 7] packed two per byte: half the bytes of packInt8, run
  /// by the Int4 kernel, which unpacks them in registers.
  PackedWeights packInt4(const int8_t *w, int64_t N, int64_t K) const;
  /// expand_groups(q, multipliers) kept as 4-bit codes: q [N, K] in [-8, 7]
  /// and multipliers [N, G] in [1, 16], each for K / G consecutive codes of
  /// its row, run by the Int4Grouped kernel, which multiplies them into
  /// INT8 codes in registers. nullopt when the groups do not fit its loop
  /// (K / G must be 2^j whole k step pairs) or a multiplier is out of range:
  /// expand the codes and use packInt8 instead.
  std::optional<PackedWeights> packInt4Grouped(const int8_t *q, const uint8_t *multipliers,
                                               int64_t N, int64_t K, int64_t G) const;
  /// The same from a run-time operand whose element (n, k) is at
  /// w[n * strideN + k * strideK] (int8 codes kept as int32, as tensors
  /// hold them): the B side of attention's batched matmuls.
  PackedWeights packInt8(const int32_t *w, int64_t N, int64_t K, int64_t strideN,
                         int64_t strideK) const;
  PackedWeights packInt8(const int8_t *w, int64_t N, int64_t K, int64_t strideN,
                         int64_t strideK) const;
  PackedWeights packF32(const float *w, int64_t N, int64_t K, int64_t strideN,
                        int64_t strideK) const;

  /// Symmetric INT8 per row (scale max|row| / 127), or with one fixed
  /// `staticScale` for every row when it is > 0; rows split over `pool`.
  /// With a `prologue`, each row is what it makes of x's row (e.g. a norm),
  /// never stored whole. `readers`: the weights that will read the rows,
  /// so that only the layouts they need are made.
  enum class RowReaders { All, SignPairs, Others };
  using RowPrologue = std::function<void(const float *in, float *out)>;
  void quantizeRows(const float *x, int64_t M, int64_t K, QuantizedRows &out,
                    float staticScale = 0, ThreadPool *pool = nullptr,
                    const RowPrologue *prologue = nullptr,
                    RowReaders readers = RowReaders::All) const;
  /// Rows already in int8 (the reference's codes) with their scales, in
  /// every layout the ISA's kernels read.
  void loadRows(const int8_t *q, const float *scales, int64_t M, int64_t K,
                QuantizedRows &out) const;
  /// Rows of codes kept as int32: int8, or u8 when `isUnsigned` (the
  /// product stays exact: u8 fits the i16 path and is fed to vpdpbusd as is),
  /// for weights packed by packInt8 (not sign pairs).
  void loadRows(const int32_t *q, const float *scales, int64_t M, int64_t K, bool isUnsigned,
                QuantizedRows &out) const;

  /// C[M, N] = (A W^T - zeroComp[n]) * aScale[m] * wScale[n] (+ bias)
  /// (+ residual), with the integer product exact. `ldc` is C's (and
  /// residual's) row stride. `zeroComp` (unsigned codes with a zero point z:
  /// z * sum_k W[n, k], padded to whole panels) may be null.
  void int8Gemm(const QuantizedRows &a, const PackedWeights &w, const float *wScale,
                const float *bias, const float *residual, float *c, int64_t ldc,
                ThreadPool *pool, const int32_t *zeroComp = nullptr) const;
  /// C[M, N] = A[M, K] W^T (+ bias) (+ residual); `lda` is A's row stride.
  void f32Gemm(const float *a, int64_t lda, int64_t M, const PackedWeights &w,
               const float *bias, const float *residual, float *c, int64_t ldc,
               ThreadPool *pool) const;

  /// log2_matmul's row kernel (Log2Emitter.h).
  using Log2RowKernel = void (*)(const int32_t *codes, int64_t K, const int32_t *b,
                                 int64_t ldb, int64_t N, int64_t sqrt2, int64_t *all,
                                 int64_t *odd, float *out);
  Log2RowKernel log2RowKernel() const;

  /// Each kernel is compiled at its first use. These compile one now, so
  /// that a graph's compile time includes the kernels it will call.
  void prepare(GemmKind kind) const { kernel(unsigned(kind)); }
  void prepareLog2() const { kernel(kKernels - 1); }

private:
  using Kernel = void (*)(const void *, int64_t, const void *, float *, int64_t, int64_t,
                          int64_t, int64_t, int64_t, int64_t, const float *, const float *,
                          const float *, const float *, const int32_t *, const uint8_t *,
                          int64_t);
  GemmIsa isa_ = GemmIsa::Generic;
  GemmTiling tiling_{};
  std::unique_ptr<Jit> jit_;
  // The GEMM kinds in GemmKind's order, then log2_matmul's row kernel.
  static constexpr unsigned kKernels = 6;
  /// Adds kernel `which` to `m`; false for a kind `isa` does not have.
  static bool emitKernel(llvm::Module &m, unsigned which, GemmIsa isa);
  static std::string kernelName(unsigned which, GemmIsa isa);
  /// Kernel `which`, compiled on its first use (from any thread).
  void *kernel(unsigned which) const;
  Kernel gemmKernel(GemmKind kind) const {
    return reinterpret_cast<Kernel>(kernel(unsigned(kind)));
  }
  mutable std::once_flag compiled_[kKernels];
  mutable void *kernels_[kKernels] = {};
};

} // namespace sqc

#endif // SQC_CODEGEN_GEMMENGINE_H
