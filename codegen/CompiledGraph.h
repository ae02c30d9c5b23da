//===- codegen/CompiledGraph.h - Graphs lowered onto JIT kernels -*- C++ -*-===//
//
// Lowers a graph for execution: every linear layer becomes a call of a JIT
// GEMM kernel with its weight packed once, at compile time.
//
//  - int8: quantize_dynamic | quantize(x, constant) -> int_linear(q, w) ->
//    dequantize(acc, xs) -> mul(., weight scales) becomes one fused step:
//    quantize the rows of x (once, however many linears read them), integer
//    GEMM, dequantize in the epilogue.
//  - fp32: linear(x, w, bias?) with a compile-time weight becomes the fp32
//    kernel with the bias in its epilogue.
//  - attention: int_matmul -> dequantize -> mul(column scales) becomes
//    batched int8 GEMMs with the scales in the epilogue (block_int_matmul
//    -> mul: one GEMM per block of the context, added up), and fp32 matmul
//    batched fp32 GEMMs; the run-time operand is packed per call, once per
//    distinct matrix (grouped-query heads share theirs), or not at all for
//    a few rows (decode: dot products on the operands).
//
// Norms, softmax, rope, elementwise ops, (de)quantization and data movement
// run on host kernels (HostKernels.h), split over the threads when large.
// A reshape read only by a transpose, and a row-keeping transpose read only
// by quantize_dynamic, are not materialized: their reader reads through
// them. A KV cache concat at the old cache's last use appends in place.
// Keys and values quantized for an int8 matmul (per channel over the
// context at O1, on a fixed step at O3) keep their codes from run to run: a
// decode step codes only its new rows and, at O1, the columns whose maximum
// they raised. That takes a cache passed back in the buffer the last run
// returned, with the length and last row it had, to be that cache
// unchanged. A caller that changes a cache in place otherwise (edits rows
// before the last, or assigns another sequence's cache into it, as a beam
// search reordering its beams would) must pass a fresh tensor instead.
// Results are the same code for code either way.
// Anything the host kernels do not cover runs on the reference interpreter,
// op by op. `describe()` says what went where; with JitOptions::profile,
// profileReport() says where the time went. Intermediate tensors are freed
// after their last use.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_CODEGEN_COMPILEDGRAPH_H
#define SQC_CODEGEN_COMPILEDGRAPH_H

#include "codegen/GemmEngine.h"
#include "ir/IR.h"
#include "runtime/Executor.h"
#include "runtime/Weights.h"

#include <map>
#include <memory>

namespace sqc {

struct JitOptions {
  TargetSpec target = TargetSpec::host();
  std::optional<GemmIsa> isa; // default: the best the target runs
  unsigned threads = 0;       // 0: one per hardware thread
  bool profile = false;       // time every step (see profileReport)
};

class CompiledGraph {
public:
  static llvm::Expected<std::unique_ptr<CompiledGraph>>
  compile(const Graph &g, WeightStore *weights, const JitOptions &options);
  ~CompiledGraph();

  llvm::Expected<std::vector<Tensor>> run(std::vector<Tensor> inputs,
                                          const ValueObserver *observe = nullptr);
  /// e.g. "12 int8 linears and 1 fp32 linear on avx512vnni kernels, 2
  /// threads; 140 ops interpreted".
  std::string describe() const;
  /// With JitOptions::profile: time per kind of step over every run so far
  /// (e.g. "int8 linear", "host softmax"), largest first.
  std::string profileReport() const;
  /// Forget the times so far (to profile one phase, e.g. decode, alone).
  void resetProfile() { profile_.clear(); }

  struct Step;

private:
  CompiledGraph() = default;
  const Graph *graph_ = nullptr;
  WeightStore *weights_ = nullptr;
  std::shared_ptr<const GemmEngine> engine_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<std::unique_ptr<Step>> steps_;
  // Linears by kernel: int8 counts the int4 ones (plain or in groups) too.
  unsigned int8Linears_ = 0, int4Linears_ = 0, groupedLinears_ = 0, f32Linears_ = 0;
  unsigned signPairLinears_ = 0; // int8 linears with sign pairs too (AVX2 prefill)
  unsigned int8MatMuls_ = 0, f32MatMuls_ = 0;
  unsigned hostOps_ = 0, interpreted_ = 0, keptCodes_ = 0;
  bool profiling_ = false;
  std::map<std::string, std::pair<double, int64_t>> profile_; // seconds, steps
};

} // namespace sqc

#endif // SQC_CODEGEN_COMPILEDGRAPH_H
