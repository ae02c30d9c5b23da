//===- codegen/CompiledGraph.cpp - Graphs lowered onto JIT kernels --------===//
#include "codegen/CompiledGraph.h"

#include "runtime/ConstEval.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <cmath>

namespace sqc {

struct CompiledGraph::Step {
  enum Kind { Interpret, QuantizeRows, Int8Linear, F32Linear } kind = Interpret;
  const Op *op = nullptr;           // the op (Interpret), or the quantizer
  const Value *input = nullptr;     // x of a quantizer or fp32 linear
  const Value *output = nullptr;    // what a linear step defines
  const Op *quantizer = nullptr;    // Int8Linear: whose rows it reads
  float staticScale = 0;            // QuantizeRows: fixed scale, if any
  bool perTensor = false;           // QuantizeRows: one dynamic scale
  PackedWeights packed;
  std::vector<float> wScale, bias;
  std::vector<const Value *> reads; // env values the step consumes
};

namespace {

const Op *onlyUser(const Value *v) {
  return v->users().size() == 1 ? v->users().front() : nullptr;
}

/// The quantize -> int_linear -> dequantize -> mul(weight scales) chain
/// that ends at `lin`, if it has that shape.
struct Int8Chain {
  const Op *quantizer, *linear, *dequantize, *rescale;
  const Value *scales; // the rescale's constant operand
};

std::optional<Int8Chain> matchInt8Chain(const Op &lin) {
  if (lin.kind() != OpKind::IntLinear || !isCompileTimeValue(lin.operand(1)))
    return std::nullopt;
  const Op *q = lin.operand(0)->definingOp();
  if (!q || lin.operand(0)->type().dtype() != DType::I8)
    return std::nullopt;
  bool dynamic = q->kind() == OpKind::QuantizeDynamic &&
                 q->stringAttr("granularity") != "per-column" && !q->boolAttr("unsigned");
  bool fixed = q->kind() == OpKind::Quantize && q->numOperands() == 2 &&
               isCompileTimeValue(q->operand(1)) && q->operand(1)->type().rank() == 0;
  if (!dynamic && !fixed)
    return std::nullopt;
  const Op *dq = onlyUser(lin.result());
  if (!dq || dq->kind() != OpKind::Dequantize || dq->numOperands() != 2 ||
      dq->operand(1) != (dynamic ? q->result(1) : q->operand(1)))
    return std::nullopt;
  const Op *mul = onlyUser(dq->result());
  if (!mul || mul->kind() != OpKind::Mul)
    return std::nullopt;
  const Value *s = mul->operand(0) == dq->result() ? mul->operand(1) : mul->operand(0);
  int64_t N = lin.result()->type().dims().back().isStatic()
                  ? lin.result()->type().dims().back().size()
                  : -1;
  const TensorType &st = s->type();
  bool perColumn = st.isStatic() && (st.rank() == 0 || st.dims().back() == Dim(N));
  for (unsigned i = 0; perColumn && st.rank() > 0 && i + 1 < st.rank(); ++i)
    perColumn = st.dim(i) == Dim(1);
  if (!isCompileTimeValue(s) || !perColumn || st.dtype() != DType::F32)
    return std::nullopt;
  return Int8Chain{q, &lin, dq, mul, s};
}

} // namespace

CompiledGraph::~CompiledGraph() = default;

llvm::Expected<std::unique_ptr<CompiledGraph>>
CompiledGraph::compile(const Graph &g, WeightStore *weights, const JitOptions &options) {
  auto cg = std::unique_ptr<CompiledGraph>(new CompiledGraph());
  cg->graph_ = &g;
  cg->weights_ = weights;
  GemmIsa isa = options.isa.value_or(bestGemmIsa(options.target));
  auto engine = GemmEngine::create(options.target, isa);
  if (!engine)
    return engine.takeError();
  cg->engine_ = std::move(*engine);
  cg->pool_ = std::make_unique<ThreadPool>(options.threads);

  // Which chains fuse: a quantizer fuses when every use of its results is in
  // a fusable chain.
  llvm::DenseMap<const Op *, std::vector<Int8Chain>> byQuantizer;
  for (const Op &op : g.ops())
    if (auto c = matchInt8Chain(op))
      byQuantizer[c->quantizer].push_back(*c);
  llvm::DenseSet<const Op *> fused; // ops a fused step stands in for
  llvm::DenseMap<const Op *, Int8Chain> chainOf; // by int_linear
  for (auto &[q, chains] : byQuantizer) {
    size_t uses = 0;
    for (unsigned r = 0; r < q->numResults(); ++r)
      uses += q->result(r)->users().size();
    // Dynamic quantizers: each chain uses q and its scale; static: q only.
    size_t expected = chains.size() * q->numResults();
    if (uses != expected)
      continue;
    fused.insert(q);
    for (const Int8Chain &c : chains) {
      fused.insert(c.linear);
      fused.insert(c.dequantize);
      fused.insert(c.rescale);
      chainOf[c.linear] = c;
    }
  }

  ConstEvaluator eval(weights);
  auto constant = [&](const Value *v) { return eval.evaluate(v); };
  for (const Op &op : g.ops()) {
    auto step = std::make_unique<Step>();
    step->op = &op;
    if (fused.count(&op)) {
      if (op.kind() == OpKind::QuantizeDynamic || op.kind() == OpKind::Quantize) {
        step->kind = Step::QuantizeRows;
        step->input = op.operand(0);
        step->reads = {op.operand(0)};
        step->perTensor = op.kind() == OpKind::QuantizeDynamic &&
                          op.stringAttr("granularity") == "per-tensor";
        if (op.kind() == OpKind::Quantize) {
          auto s = constant(op.operand(1));
          if (!s)
            return s.takeError();
          step->staticScale = float((*s)->get(0));
        }
      } else if (op.kind() == OpKind::IntLinear) {
        const Int8Chain &c = chainOf[&op];
        auto w = constant(op.operand(1));
        if (!w)
          return w.takeError();
        auto s = constant(c.scales);
        if (!s)
          return s.takeError();
        int64_t N = (*w)->shape()[0], K = (*w)->shape()[1];
        std::vector<int8_t> codes((*w)->ints().begin(), (*w)->ints().end());
        step->kind = Step::Int8Linear;
        step->quantizer = c.quantizer;
        step->output = c.rescale->result();
        step->packed = cg->engine_->packInt8(codes.data(), N, K);
        step->wScale.resize(N);
        for (int64_t n = 0; n < N; ++n)
          step->wScale[n] = float((*s)->get((*s)->numElements() == 1 ? 0 : n));
        ++cg->int8Linears_;
      } else {
        continue; // dequantize / rescale: in the linear's epilogue
      }
      cg->steps_.push_back(std::move(step));
      continue;
    }
    bool lowerable = op.kind() == OpKind::Linear && op.operand(0)->type().dtype() == DType::F32 &&
                     isCompileTimeValue(op.operand(1)) &&
                     (op.numOperands() < 3 || isCompileTimeValue(op.operand(2)));
    if (lowerable) {
      auto w = constant(op.operand(1));
      if (!w)
        return w.takeError();
      int64_t N = (*w)->shape()[0], K = (*w)->shape()[1];
      step->kind = Step::F32Linear;
      step->input = op.operand(0);
      step->output = op.result();
      step->reads = {op.operand(0)};
      step->packed = cg->engine_->packF32((*w)->floats().data(), N, K);
      if (op.numOperands() == 3) {
        auto b = constant(op.operand(2));
        if (!b)
          return b.takeError();
        step->bias = (*b)->floats();
      }
      ++cg->f32Linears_;
      cg->steps_.push_back(std::move(step));
      continue;
    }
    step->reads.assign(op.operands().begin(), op.operands().end());
    cg->steps_.push_back(std::move(step));
  }
  // Weights and constants that only fused or packed steps read are not
  // needed at run time; everything else is interpreted.
  llvm::DenseSet<const Value *> read;
  for (const auto &s : cg->steps_)
    read.insert(s->reads.begin(), s->reads.end());
  std::vector<std::unique_ptr<Step>> kept;
  for (auto &s : cg->steps_) {
    bool isSource = s->kind == Step::Interpret &&
                    (s->op->kind() == OpKind::Weight || s->op->kind() == OpKind::Constant);
    if (isSource && !read.count(s->op->result()))
      continue;
    if (s->kind == Step::Interpret && s->op->kind() != OpKind::Return)
      ++cg->interpreted_;
    kept.push_back(std::move(s));
  }
  cg->steps_ = std::move(kept);
  return cg;
}

std::string CompiledGraph::describe() const {
  return std::to_string(int8Linears_) + " int8 and " + std::to_string(f32Linears_) +
         " fp32 linears on " + gemmIsaName(engine_->isa()).str() + " kernels, " +
         std::to_string(pool_->size()) + " threads; " + std::to_string(interpreted_) +
         " ops interpreted";
}

llvm::Expected<std::vector<Tensor>> CompiledGraph::run(std::vector<Tensor> inputs,
                                                       const ValueObserver *observe) {
  GraphRun run(*graph_, weights_, observe);
  if (llvm::Error e = run.start(std::move(inputs)))
    return e;
  for (const auto &s : steps_)
    for (const Value *v : s->reads)
      run.addUse(v);
  struct QuantizedInput {
    QuantizedRows rows;
    llvm::SmallVector<int64_t, 4> leading; // x's shape without its last dim
  };
  llvm::DenseMap<const Op *, QuantizedInput> rows; // by quantizer

  for (const auto &sp : steps_) {
    const Step &s = *sp;
    const Op &op = *s.op;
    switch (s.kind) {
    case Step::QuantizeRows: {
      const Tensor &x = run.get(s.input);
      int64_t K = x.shape().empty() ? 1 : x.shape().back();
      int64_t M = K ? x.numElements() / K : 0;
      float scale = s.staticScale;
      if (s.perTensor) {
        float mx = 0;
        for (float v : x.floats())
          mx = std::max(mx, std::fabs(v));
        scale = mx > 0 ? float(double(mx) / 127.0) : 1.0f;
      }
      QuantizedInput &q = rows[&op];
      q.leading.assign(x.shape().begin(), x.shape().end() - (x.shape().empty() ? 0 : 1));
      engine_->quantizeRows(x.floats().data(), M, K, q.rows, scale);
      run.release(s.reads);
      break;
    }
    case Step::Int8Linear: {
      const QuantizedInput &a = rows[s.quantizer];
      // The quantizer input's leading shape, with N columns.
      llvm::SmallVector<int64_t, 4> shape(a.leading);
      shape.push_back(s.packed.N);
      Tensor out(DType::F32, shape);
      engine_->int8Gemm(a.rows, s.packed, s.wScale.data(), nullptr, nullptr, out.floats().data(),
                        s.packed.N, pool_.get());
      run.define(s.output, std::move(out));
      break;
    }
    case Step::F32Linear: {
      const Tensor &x = run.get(s.input);
      int64_t K = s.packed.K, M = K ? x.numElements() / K : 0;
      llvm::SmallVector<int64_t, 4> shape(x.shape().drop_back());
      shape.push_back(s.packed.N);
      Tensor out(DType::F32, shape);
      engine_->f32Gemm(x.floats().data(), K, M, s.packed, s.bias.empty() ? nullptr : s.bias.data(),
                       nullptr, out.floats().data(), s.packed.N, pool_.get());
      run.release(s.reads);
      run.define(s.output, std::move(out));
      break;
    }
    case Step::Interpret:
      if (op.kind() == OpKind::Return)
        return run.results(op);
      if (llvm::Error e = run.interpret(op))
        return e;
      break;
    }
  }
  return run.fail(nullptr, "does not end with 'return'");
}

} // namespace sqc
