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

/// Computes `op`'s results from `in` into `out` and returns true, or returns
/// false without touching `out` when the op, its types or these shapes are
/// not covered (the caller then interprets the op, which also reports any
/// error, e.g. a gather index out of range).
/// Large ops split their rows over `pool` (if given).
bool runHostKernel(const Op &op, llvm::ArrayRef<const Tensor *> in, std::vector<Tensor> &out,
                   ThreadPool *pool = nullptr);

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

} // namespace sqc

#endif // SQC_CODEGEN_HOSTKERNELS_H
