//===- codegen/HostKernels.h - Fast host code for the non-GEMM ops -*- C++ -*-===//
//
// The JIT executor's implementations of the ops around the GEMMs: data
// movement (reshape, transpose, concat, slice, gather), broadcasting
// elementwise arithmetic, norms, softmax, rotary embedding, the causal mask
// and (de)quantization. The reference interpreter computes every element in
// double through a generic index walk; these walk rows, keep f32 and copy
// contiguous runs, which is what makes decode steps cheap.
//
// Results match the interpreter exactly for data movement, quantization
// codes and the four arithmetic operators (a double result rounded to float
// is the correctly rounded float result), and to float rounding (a few ulp)
// for exp, norms, softmax and rope.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_CODEGEN_HOSTKERNELS_H
#define SQC_CODEGEN_HOSTKERNELS_H

#include "ir/IR.h"
#include "runtime/Tensor.h"
#include "runtime/ThreadPool.h"

#include <vector>

namespace sqc {

class GemmEngine;

/// The broadcast of two shapes (aligned to the right), or false when they
/// do not broadcast.
bool broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b,
                     llvm::SmallVectorImpl<int64_t> &out);
/// Element strides of a tensor of shape `in` read as if broadcast to `out`:
/// 0 along the dimensions it repeats.
llvm::SmallVector<int64_t, 4> broadcastStrides(llvm::ArrayRef<int64_t> in,
                                               llvm::ArrayRef<int64_t> out);

/// Whether runHostKernel() may cover `op` (it can still decline at run time
/// for shapes it does not handle).
bool hostKernelCovers(const Op &op);
/// Whether its results for `op` are the interpreter's exactly (data
/// movement, quantization codes and the four arithmetic operators), so that
/// they may stand in for it (e.g. evaluating weight chains at compile time).
bool hostKernelIsExact(const Op &op);

/// Computes `op`'s results from `in` into `out` and returns true, or returns
/// false without touching `out` when the op, its types or these shapes are
/// not covered (the caller then interprets the op, which also reports any
/// error, e.g. a gather index out of range).
/// Large ops split their rows over `pool` (if given). log2_matmul runs on
/// `engine`'s JIT row kernel (none without an engine).
bool runHostKernel(const Op &op, llvm::ArrayRef<const Tensor *> in, std::vector<Tensor> &out,
                   ThreadPool *pool = nullptr, const GemmEngine *engine = nullptr);

/// transpose(reshape(x)) without materializing the reshape (it only
/// renames the shape); false as runHostKernel.
bool runTransposeOfReshape(const Op &reshape, const Op &transpose, const Tensor &x,
                           std::vector<Tensor> &out, ThreadPool *pool = nullptr);

/// quantize_dynamic(transpose(reshape?(x))) for a transpose that keeps the
/// last dimension: each row is quantized where it lies in x, and the codes
/// are written in transposed order (no transposed copy of the floats).
bool runQuantizeThroughTranspose(const Op &quantize, const Op &transpose, const Op *reshape,
                                 const Tensor &x, std::vector<Tensor> &out,
                                 ThreadPool *pool = nullptr);

/// What the quantizer of a growing KV cache (quantize_dynamic per column,
/// or quantize on a fixed step) produced last time, kept so that a decode
/// step quantizes only the rows it appended. A fixed step's old codes always
/// stand. A column's scale depends only on its maximum: where the new rows stay
/// within it the old codes stand, and only columns whose maximum grew are
/// coded again, so the result is the same, code for code, as quantizing the
/// whole context again. The codes are kept context-major, as the cache's
/// floats are, so that appending rows moves nothing: code (b, r, c) of the
/// op's [batches..., rows, columns] result is at codes[(r * batches + b) *
/// columns + c].
struct ColumnCodeCache {
  std::vector<int8_t> codes;
  llvm::SmallVector<int64_t, 4> shape; // of the codes, as the op's result
  Tensor scales;             // quantize_dynamic's second result
  std::vector<float> maxima; // |x| max per batch and column (fixed: the step)
  int64_t rows = 0, batches = 0, columns = 0;
};

/// quantize_dynamic {per-column}(transpose(reshape?(x))), or quantize by the
/// scalar `fixedScale` (O3's static quantizer, whose old codes always
/// stand), where x is a KV cache (context along its dimension 0, which the
/// transpose makes the second-to-last) whose first `keptRows` rows are the
/// ones `cache` was computed from. Updates `cache` to all of x; false
/// (cache untouched) when the ops or shapes are not that pattern.
bool updateColumnCodes(const Op &quantize, const Op &transpose, const Op *reshape,
                       const Tensor &x, const Tensor *fixedScale, int64_t keptRows,
                       ColumnCodeCache &cache, ThreadPool *pool = nullptr);

} // namespace sqc

#endif // SQC_CODEGEN_HOSTKERNELS_H
