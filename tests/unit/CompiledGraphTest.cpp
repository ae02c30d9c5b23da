//===- tests/unit/CompiledGraphTest.cpp - JIT execution vs interpreter ----===//
//
// Whole graphs on real weights (stories260K): the logits of the JIT path
// (linears on compiled kernels, the rest interpreted) against the reference
// interpreter, for the FP32 model and its W8A8 integer graph, prefill and
// token-by-token decode. Integer GEMMs are exact; what may differ is float
// rounding (f32 vs the interpreter's double accumulation, and the order of
// the two dequantizing multiplies), stated as tolerances below.
//
//===----------------------------------------------------------------------===//
#include "ModelTestUtil.h"

#include "llvm/Support/FileSystem.h"

#include "TestUtil.h"

#include "codegen/CompiledGraph.h"
#include "runtime/Executor.h"

#include <cmath>
#include <map>
#include <random>

#include <gtest/gtest.h>

using namespace sqc;

namespace {

const char *kModel = test::kStoriesModel;

/// `ir` parsed and verified, and its first graph compiled; a failure is
/// recorded and leaves `jit` null.
struct CompiledIR {
  std::unique_ptr<Module> module;
  const Graph *graph = nullptr;
  std::unique_ptr<CompiledGraph> jit;
};

CompiledIR compileIR(const std::string &ir, const JitOptions &options = JitOptions()) {
  CompiledIR c;
  std::string errors;
  c.module = test::parseAndVerify(ir, errors);
  if (!c.module) {
    ADD_FAILURE() << errors;
    return c;
  }
  c.graph = c.module->graphs().front().get();
  auto jit = CompiledGraph::compile(*c.graph, nullptr, options);
  if (!jit) {
    ADD_FAILURE() << llvm::toString(jit.takeError());
    return c;
  }
  c.jit = std::move(*jit);
  return c;
}

/// Logits of a prefill of `toks`, then of decoding two more tokens one by one.
std::vector<Tensor> run(LoadedModel &m, const std::vector<int32_t> &toks) {
  std::vector<Tensor> out, cache;
  auto prefill = runForward(m, toks, 0, cache);
  EXPECT_TRUE(bool(prefill)) << (prefill ? "" : llvm::toString(prefill.takeError()));
  if (!prefill)
    return out;
  out.push_back(std::move(*prefill));
  for (int32_t t : {5, 17}) {
    auto step = runForward(m, {t}, int64_t(toks.size() + out.size() - 1), cache);
    EXPECT_TRUE(bool(step));
    if (step)
      out.push_back(std::move(*step));
  }
  return out;
}

/// `wantLinears`: how describe() counts the integer linears ("35 int8").
void compareEngines(const char *pipeline, double tolerance, const std::string &wantLinears,
                    const JitOptions &options = {}) {
  auto m = loadModel(kModel);
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  std::vector<int32_t> toks =
      m->tokenizer->encode("Once upon a time, a little fox found a shiny stone.", true);
  if (*pipeline) {
    CalibrationStats stats = test::calibrateOn(*m, toks);
    ASSERT_TRUE(test::runPipelineOn(*m, pipeline, &stats));
  }
  std::vector<Tensor> interp = run(*m, toks);
  ASSERT_FALSE(bool(compileModel(*m, options)));
  std::string what = m->compiled->describe();
  EXPECT_NE(what.find(wantLinears), std::string::npos) << what;
  std::vector<Tensor> jit = run(*m, toks);
  ASSERT_EQ(interp.size(), jit.size());
  for (size_t i = 0; i < jit.size(); ++i)
    EXPECT_LT(test::maxRelativeDiff(interp[i], jit[i]), tolerance) << "run " << i << ": " << what;
}

TEST(CompiledGraphTest, Fp32LogitsMatchInterpreter) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  compareEngines("", 1e-5, "0 int8");
}

TEST(CompiledGraphTest, W8A8LogitsMatchInterpreter) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  // 5 layers x 7 linears; the LM head stays FP32.
  compareEngines("quantize{bmm=true},fuse-qdq,cse,dce", 1e-3, "35 int8");
}

/// AVX2's linears: the prefill (more than kSignPairRows tokens) on sign
/// pairs, the two decode steps on the pmaddwd packing (the host has AVX2
/// wherever these tests run: the build targets x86-64 with it).
TEST(CompiledGraphTest, W8A8OnAvx2SignPairsMatchesInterpreter) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  JitOptions avx2;
  avx2.isa = GemmIsa::AVX2;
  if (!targetRuns(avx2.target, GemmIsa::AVX2))
    GTEST_SKIP() << "this CPU has no AVX2";
  compareEngines("quantize{bmm=true},fuse-qdq,cse,dce", 1e-3, "35 int8 (35 also as sign pairs)",
                 avx2);
  compareEngines("quantize{bmm=true},mixed-precision{avg-bits=6,fp32=false},fuse-qdq,cse,dce",
                 1e-3, " also as sign pairs)", avx2);
}

TEST(CompiledGraphTest, PerTensorScalesFuseToo) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  compareEngines("quantize{acts=per-tensor-dynamic},fuse-qdq,cse,dce", 1e-3, "35 int8");
}

TEST(CompiledGraphTest, MixedInt4Int8WeightsMatchInterpreter) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  // 6 bits on average, FP32 not allowed: some linears 4-bit, the rest
  // 8-bit, all on the integer kernels.
  compareEngines("quantize{bmm=true},mixed-precision{avg-bits=6,fp32=false},fuse-qdq,cse,dce",
                 1e-3, "35 int8");
}

TEST(CompiledGraphTest, GroupedInt4WeightsMatchInterpreter) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  // Every linear 4-bit with scales per 32 input channels where 32 divides
  // them (K = 64: q, k, v, o, gate, up), else per row (K = 172: down); the
  // grouped ones are multiplied into INT8 codes in registers.
  compareEngines("quantize{bmm=true},mixed-precision{avg-bits=4,group=32},fuse-qdq,cse,dce",
                 1e-3, "35 int8 (35 of them int4, 30 in groups)");
}

TEST(CompiledGraphTest, GroupsTheKernelCannotLoopOverRunExpanded) {
  if (!llvm::sys::fs::exists(kModel))
    GTEST_SKIP() << "../shared/data is not present";
  // Groups of 43 inputs (only the down projections, K = 172, divide): not
  // whole k step pairs on any variant, so their codes are expanded to INT8
  // at packing and run on the int8 kernel (on AVX2, sign pairs), still
  // matching.
  compareEngines("quantize{bmm=true},mixed-precision{avg-bits=4,group=43,assign=uniform},"
                 "fuse-qdq,cse,dce",
                 1e-3, "35 int8 (30 of them int4");
}

} // namespace

namespace {

// Decode attention over a KV cache with keys and values quantized per
// channel over the context: the JIT keeps their codes between runs and
// quantizes only the appended rows (re-coding the columns whose maximum
// grew). Every run must equal the interpreter's, which quantizes the whole
// context each time, including runs where the cache does not come back as
// the one the codes were made from. The probabilities are quantized per
// block of 4 along the context in O1's form (so the contexts here span
// several blocks) and per row in O3's.
const char *kKvHeader = R"(
graph @decode(%past_k: f32[?p,2,8], %past_v: f32[?p,2,8], %k: f32[?s,2,8], %v: f32[?s,2,8], %q: f32[2,2,?s,8]) -> (f32[2,2,?s,8], f32[?c,2,8], f32[?c,2,8]) {
)";

// The caches grow by concat and are read per head: what both forms share.
const char *kKvCacheHeads = R"(
  %kc = concat %past_k, %k {axis = 0} : f32[?c,2,8]
  %vc = concat %past_v, %v {axis = 0} : f32[?c,2,8]
  %kg = reshape %kc : f32[?c,2,1,8]
  %vg = reshape %vc : f32[?c,2,1,8]
  %kt = transpose %kg {perm = [1, 2, 0, 3]} : f32[2,1,?c,8]
  %vt = transpose %vg {perm = [1, 2, 0, 3]} : f32[2,1,?c,8]
)";

/// The decode graph with `constants`, the cache part, then `attention`.
std::string kvGraph(const char *constants, const char *attention) {
  return std::string(kKvHeader) + constants + kKvCacheHeads + attention +
         "  return %o, %kc, %vc\n}\n";
}

const char *kKvConstants = "  %half = constant {value = dense<0.5>} : f32[]\n";
const char *kKvAttention = R"(
  %kq, %ks = quantize_dynamic %kt {granularity = "per-column"} : i8[2,1,?c,8], f32[2,1,1,8]
  %qs = mul %q, %ks : f32[2,2,?s,8]
  %qq, %qscale = quantize_dynamic %qs : i8[2,2,?s,8], f32[2,2,?s,1]
  %sacc = int_matmul %qq, %kq {transpose_b = true} : i32[2,2,?s,?c]
  %sd = dequantize %sacc, %qscale : f32[2,2,?s,?c]
  %scores = mul %sd, %half : f32[2,2,?s,?c]
  %masked = causal_mask %scores : f32[2,2,?s,?c]
  %p = softmax %masked : f32[2,2,?s,?c]
  %pq, %ps = quantize_dynamic %p {granularity = "per-block", unsigned = true, block = 4} : u8[2,2,?s,?c], f32[2,2,?s,?c.b4]
  %vq, %vs = quantize_dynamic %vt {granularity = "per-column"} : i8[2,1,?c,8], f32[2,1,1,8]
  %ob = block_int_matmul %pq, %ps, %vq {block = 4} : f32[2,2,?s,8]
  %o = mul %ob, %vs : f32[2,2,?s,8]
)";

// O3's form: keys and values on fixed steps, so old codes always stand.
const char *kKvFixedConstants = R"(
  %ks = constant {value = dense<0.05>} : f32[]
  %vs = constant {value = dense<0.04>} : f32[]
  %qs = constant {value = dense<0.03>} : f32[]
)";
const char *kKvAttentionFixed = R"(
  %kq = quantize %kt, %ks : i8[2,1,?c,8]
  %qq = quantize %q, %qs : i8[2,2,?s,8]
  %sacc = int_matmul %qq, %kq {transpose_b = true} : i32[2,2,?s,?c]
  %sd = dequantize %sacc, %qs : f32[2,2,?s,?c]
  %scores = mul %sd, %ks : f32[2,2,?s,?c]
  %masked = causal_mask %scores : f32[2,2,?s,?c]
  %p = softmax %masked : f32[2,2,?s,?c]
  %pq, %ps = quantize_dynamic %p {unsigned = true} : u8[2,2,?s,?c], f32[2,2,?s,1]
  %vq = quantize %vt, %vs : i8[2,1,?c,8]
  %oacc = int_matmul %pq, %vq : i32[2,2,?s,8]
  %od = dequantize %oacc, %ps : f32[2,2,?s,8]
  %o = mul %od, %vs : f32[2,2,?s,8]
)";

Tensor randomRows(int64_t rows, llvm::ArrayRef<int64_t> inner, std::mt19937 &rng,
                  float spread = 1.0f) {
  llvm::SmallVector<int64_t, 4> shape{rows};
  shape.append(inner.begin(), inner.end());
  Tensor t(DType::F32, shape);
  std::normal_distribution<float> normal(0, spread);
  for (float &v : t.floats())
    v = normal(rng);
  return t;
}

struct Sequence {
  Tensor k{DType::F32, {0, 2, 8}}, v{DType::F32, {0, 2, 8}};
};

/// One step of `seq` with `n` new rows on both engines; the JIT's cache
/// becomes the sequence's, as a caller would keep it.
/// With `observed`, both engines also show their values to an observer,
/// which must see the same dequantized scores and outputs (the names the
/// per-layer report reads).
void step(const Graph &g, CompiledGraph &jit, Sequence &seq, int64_t n, std::mt19937 &rng,
          float spread, const char *what, bool observed = false) {
  Tensor k = randomRows(n, {2, 8}, rng, spread), v = randomRows(n, {2, 8}, rng, spread);
  Tensor q(DType::F32, {2, 2, n, 8});
  std::normal_distribution<float> normal(0, 1);
  for (float &x : q.floats())
    x = normal(rng);
  std::map<std::string, Tensor> seen, ref;
  ValueObserver jitSees = [&](const Value &v, const Tensor &t) { seen[v.name().str()] = t; };
  ValueObserver interpSees = [&](const Value &v, const Tensor &t) { ref[v.name().str()] = t; };
  auto want = runGraph(g, {seq.k, seq.v, k, v, q}, nullptr, observed ? &interpSees : nullptr);
  ASSERT_TRUE(bool(want)) << llvm::toString(want.takeError());
  std::vector<Tensor> in; // moved in (a braced list would copy the cache)
  in.push_back(std::move(seq.k));
  in.push_back(std::move(seq.v));
  for (Tensor *t : {&k, &v, &q})
    in.push_back(std::move(*t));
  auto got = jit.run(std::move(in), observed ? &jitSees : nullptr);
  ASSERT_TRUE(bool(got)) << llvm::toString(got.takeError());
  EXPECT_LT(test::maxRelativeDiff((*want)[0], (*got)[0]), 1e-6) << what;
  for (const char *name : {"sd", "o"})
    if (observed) {
      ASSERT_TRUE(seen.count(name)) << what << ": " << name;
      EXPECT_LT(test::maxRelativeDiff(ref[name], seen[name]), 1e-6) << what << ": " << name;
    }
  seq.k = std::move((*got)[1]);
  seq.v = std::move((*got)[2]);
}

void checkKeptCodes(const std::string &graph) {
  for (unsigned threads : {1u, 2u}) {
    JitOptions o;
    o.threads = threads;
    CompiledIR c = compileIR(graph, o);
    ASSERT_TRUE(c.jit);
    const Graph &g = *c.graph;
    auto &jit = c.jit;
    EXPECT_NE(jit->describe().find("codes of 2 KV caches kept"), std::string::npos)
        << jit->describe();
    std::mt19937 rng(threads);
    Sequence a, b;
    step(g, *jit, a, 5, rng, 1.0f, "prefill");
    for (int i = 0; i < 4; ++i)
      step(g, *jit, a, 1, rng, 0.5f, "decode within the maxima", /*observed=*/i == 1);
    step(g, *jit, a, 1, rng, 8.0f, "decode past the maxima");
    step(g, *jit, a, 2, rng, 1.0f, "two rows");
    // Another sequence in between: its cache is not the one coded last.
    step(g, *jit, b, 6, rng, 1.0f, "second sequence", /*observed=*/true);
    step(g, *jit, a, 1, rng, 1.0f, "back to the first");
    step(g, *jit, b, 1, rng, 1.0f, "back to the second");
    // The first sequence rewound by two rows, in the same buffer.
    for (Tensor *t : {&a.k, &a.v}) {
      llvm::SmallVector<int64_t, 4> shape(t->shape());
      shape[0] -= 2;
      t->resize(shape);
    }
    step(g, *jit, a, 1, rng, 1.0f, "after a rewind");
    // The last row changed in place (a cache that is not the one coded).
    a.k.floats()[a.k.numElements() - 3] += 0.25f;
    step(g, *jit, a, 1, rng, 1.0f, "after an edit of the last row");
  }
}

TEST(CompiledGraphTest, KvCacheCodesKeptBetweenRunsMatchInterpreter) {
  checkKeptCodes(kvGraph(kKvConstants, kKvAttention));
}

TEST(CompiledGraphTest, FixedStepKvCacheCodesKeptBetweenRunsMatchInterpreter) {
  checkKeptCodes(kvGraph(kKvFixedConstants, kKvAttentionFixed));
}

} // namespace

namespace {

// An int8 linear's bias and the residual added after it run in the GEMM's
// epilogue: one step, the same numbers as the interpreter's three ops.
/// An int8 linear of `x` (f32[?s,8]) to %m (f32[?s,4]): per-token codes,
/// int32 products, dequantized by the row and weight scales.
std::string int8Linear(const char *x) {
  return std::string(R"(
  %w = constant {value = dense<[1, -2, 3, -4, 5, -6, 7, -8, 127, -127, 0, 1, 2, 3, 4, 5, -1, -1, -1, -1, 9, 9, 9, 9, 60, -70, 80, -90, 100, -110, 120, -127]>} : i8[4,8]
  %ws = constant {value = dense<[0.01, 0.02, 0.03, 0.04]>} : f32[4]
  %xq, %xs = quantize_dynamic )") +
         x + R"( : i8[?s,8], f32[?s,1]
  %acc = int_linear %xq, %w : i32[?s,4]
  %d = dequantize %acc, %xs : f32[?s,4]
  %m = mul %d, %ws : f32[?s,4]
)";
}

const std::string kLinearEpilogue = R"(
graph @block(%x: f32[?s,8], %res: f32[?s,4]) -> (f32[?s,4]) {
  %b = constant {value = dense<[0.5, -0.25, 1.0, 2.0]>} : f32[4])" +
                                    int8Linear("%x") + R"(  %y = add %m, %b : f32[?s,4]
  %out = add %res, %y : f32[?s,4]
  return %out
}
)";

// P V with P's scales per block of 5 along the context (V not a cache,
// so b comes from the run): a few rows take the row-update path, more rows
// one GEMM per block; grouped-query heads share V.
const char *kBlockScaledPV = R"(
graph @pv(%p: f32[2,2,?s,?c], %v: f32[2,1,?c,8]) -> (f32[2,2,?s,8]) {
  %pq, %ps = quantize_dynamic %p {granularity = "per-block", unsigned = true, block = 5} : u8[2,2,?s,?c], f32[2,2,?s,?c.b5]
  %vq, %vs = quantize_dynamic %v {granularity = "per-column"} : i8[2,1,?c,8], f32[2,1,1,8]
  %ob = block_int_matmul %pq, %ps, %vq {block = 5} : f32[2,2,?s,8]
  %o = mul %ob, %vs : f32[2,2,?s,8]
  return %o
}
)";

TEST(CompiledGraphTest, BlockScaledProductsMatchInterpreter) {
  CompiledIR c = compileIR(kBlockScaledPV);
  ASSERT_TRUE(c.jit);
  const Graph &g = *c.graph;
  auto &jit = c.jit;
  EXPECT_NE(jit->describe().find("1 int8 and 0 fp32 batched"), std::string::npos)
      << jit->describe();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> unit(0, 1);
  for (auto [rows, ctx] : {std::pair{1, 13}, {3, 10}, {6, 23}, {9, 4}}) {
    // Probabilities spanning orders of magnitude; a causal-like zero corner.
    Tensor p(DType::F32, {2, 2, rows, ctx});
    for (int64_t i = 0; i < p.numElements(); ++i) {
      int64_t r = i / ctx % rows, c = i % ctx;
      p.floats()[i] = c > r + ctx - rows ? 0.0f : std::pow(unit(rng), 6.0f);
    }
    Tensor v = randomRows(2, {1, ctx, 8}, rng, 1.0f);
    auto want = runGraph(g, {p, v}, nullptr);
    ASSERT_TRUE(bool(want)) << llvm::toString(want.takeError());
    auto got = jit->run({p, v});
    ASSERT_TRUE(bool(got)) << llvm::toString(got.takeError());
    EXPECT_LT(test::maxRelativeDiff((*want)[0], (*got)[0]), 1e-6) << rows << "x" << ctx;
  }
}

// A context so long that u8 x i8 sums leave int32 (255 * 127 * 70000 >
// 2^31): int_matmul's i32 result saturates in the interpreter, and the
// kernels, which would wrap around, decline. Per block of the context the
// sums stay small and the product is exact.
TEST(CompiledGraphTest, LongInt8SumsMatchInterpreter) {
  const char *ir = R"(
graph @pv(%p: f32[1,?s,?c], %v: f32[1,?c,2]) -> (f32[1,?s,2], f32[1,?s,2]) {
  %pq, %ps = quantize_dynamic %p {unsigned = true} : u8[1,?s,?c], f32[1,?s,1]
  %vq, %vs = quantize_dynamic %v {granularity = "per-column"} : i8[1,?c,2], f32[1,1,2]
  %acc = int_matmul %pq, %vq : i32[1,?s,2]
  %d = dequantize %acc, %ps : f32[1,?s,2]
  %o = mul %d, %vs : f32[1,?s,2]
  %bq, %bs = quantize_dynamic %p {granularity = "per-block", unsigned = true, block = 32} : u8[1,?s,?c], f32[1,?s,?c.b32]
  %ob = block_int_matmul %bq, %bs, %vq {block = 32} : f32[1,?s,2]
  %o2 = mul %ob, %vs : f32[1,?s,2]
  return %o, %o2
}
)";
  CompiledIR c = compileIR(ir);
  ASSERT_TRUE(c.jit);
  const Graph &g = *c.graph;
  auto &jit = c.jit;
  for (int64_t rows : {1, 5}) {
    int64_t ctx = 70000;
    Tensor p(DType::F32, {1, rows, ctx}), v(DType::F32, {1, ctx, 2});
    std::fill(p.floats().begin(), p.floats().end(), 1.0f / ctx);
    std::fill(v.floats().begin(), v.floats().end(), 0.5f);
    auto want = runGraph(g, {p, v}, nullptr);
    ASSERT_TRUE(bool(want)) << llvm::toString(want.takeError());
    auto got = jit->run({p, v});
    ASSERT_TRUE(bool(got)) << llvm::toString(got.takeError());
    EXPECT_LT(test::maxRelativeDiff((*want)[0], (*got)[0]), 1e-6) << rows << " rows";
    EXPECT_LT(test::maxRelativeDiff((*want)[1], (*got)[1]), 1e-6) << rows << " rows";
    for (float x : (*got)[1].floats())
      EXPECT_NEAR(x, 0.5f, 1e-5f) << rows << " rows";
  }
}

// An int8 linear's row quantizer reading a row-keeping transpose (as
// --rotate-qk's rotation of the heads does): the transpose is made, not
// skipped as for quantizers that read rows where they lie.
TEST(CompiledGraphTest, RowQuantizerOfATransposeMatchesInterpreter) {
  CompiledIR c = compileIR(R"(
graph @rows(%x: f32[?s,8]) -> (f32[?s,4]) {
  %t = transpose %x {perm = [0, 1]} : f32[?s,8])" + std::string(int8Linear("%t")) +
                           R"(  return %m
}
)");
  ASSERT_TRUE(c.jit);
  std::mt19937 rng(7);
  for (int64_t rows : {1, 6}) {
    Tensor x = randomRows(rows, {8}, rng, 2.0f);
    auto want = runGraph(*c.graph, {x}, nullptr);
    ASSERT_TRUE(bool(want)) << llvm::toString(want.takeError());
    auto got = c.jit->run({x});
    ASSERT_TRUE(bool(got)) << llvm::toString(got.takeError());
    EXPECT_LT(test::maxRelativeDiff((*want)[0], (*got)[0]), 1e-6) << rows << " rows";
  }
}

TEST(CompiledGraphTest, BiasAndResidualRunInTheInt8Epilogue) {
  CompiledIR c = compileIR(kLinearEpilogue);
  ASSERT_TRUE(c.jit);
  const Graph &g = *c.graph;
  auto &jit = c.jit;
  // Nothing left for host kernels: the adds are in the linear's step.
  EXPECT_NE(jit->describe().find("1 int8"), std::string::npos) << jit->describe();
  EXPECT_NE(jit->describe().find(" 0 ops on host kernels"), std::string::npos)
      << jit->describe();
  std::mt19937 rng(3);
  for (int64_t rows : {1, 5, 13}) {
    Tensor x = randomRows(rows, {8}, rng, 2.0f), res = randomRows(rows, {4}, rng, 1.0f);
    auto want = runGraph(g, {x, res}, nullptr);
    ASSERT_TRUE(bool(want)) << llvm::toString(want.takeError());
    auto got = jit->run({x, res});
    ASSERT_TRUE(bool(got)) << llvm::toString(got.takeError());
    EXPECT_LT(test::maxRelativeDiff((*want)[0], (*got)[0]), 1e-6) << rows << " rows";
    // An observer (the per-layer report) still sees what the adds stand in
    // for, the same values as the interpreter's.
    std::map<std::string, Tensor> seen, ref;
    ValueObserver jitSees = [&](const Value &v, const Tensor &t) { seen[v.name().str()] = t; };
    ValueObserver interpSees = [&](const Value &v, const Tensor &t) { ref[v.name().str()] = t; };
    ASSERT_TRUE(bool(runGraph(g, {x, res}, nullptr, &interpSees)));
    auto observed = jit->run({x, res}, &jitSees);
    ASSERT_TRUE(bool(observed)) << llvm::toString(observed.takeError());
    EXPECT_LT(test::maxRelativeDiff((*want)[0], (*observed)[0]), 1e-6);
    for (const char *name : {"m", "y", "out"}) {
      ASSERT_TRUE(seen.count(name)) << name;
      EXPECT_LT(test::maxRelativeDiff(ref[name], seen[name]), 1e-6) << name;
    }
  }
}

} // namespace

namespace {

// A norm read only by an int8 linear's per-token quantizer runs row by row
// inside the quantizer: its floats are never stored (unless an observer
// asks for them).
const std::string kNormedLinears = R"(
graph @rms(%x: f32[?s,8]) -> (f32[?s,4]) {
  %g = constant {value = dense<[1.0, 0.5, 2.0, -1.0, 0.25, 1.5, 1.0, 3.0]>} : f32[8]
  %n = rms_norm %x, %g {eps = 1.0e-05} : f32[?s,8])" +
                                   int8Linear("%n") + R"(  return %m
}
graph @ln(%x: f32[?s,8]) -> (f32[?s,4]) {
  %g = constant {value = dense<[1.0, 0.5, 2.0, -1.0, 0.25, 1.5, 1.0, 3.0]>} : f32[8]
  %b = constant {value = dense<[0.1, 0.2, -0.3, 0.0, 1.0, -1.0, 0.5, 0.25]>} : f32[8]
  %n = layer_norm %x, %g, %b {eps = 1.0e-05} : f32[?s,8])" +
                                   int8Linear("%n") + R"(  return %m
}
)";

TEST(CompiledGraphTest, NormRunsInsideTheQuantizer) {
  std::string errors;
  auto m = test::parseAndVerify(kNormedLinears, errors);
  ASSERT_TRUE(m) << errors;
  for (const auto &g : m->graphs()) {
    auto jit = CompiledGraph::compile(*g, nullptr, JitOptions());
    ASSERT_TRUE(bool(jit)) << llvm::toString(jit.takeError());
    EXPECT_NE((*jit)->describe().find(" 0 ops on host kernels"), std::string::npos)
        << (*jit)->describe();
    std::mt19937 rng(5);
    for (int64_t rows : {1, 7}) {
      Tensor x = randomRows(rows, {8}, rng, 2.0f);
      std::map<std::string, Tensor> seen, ref;
      ValueObserver jitSees = [&](const Value &v, const Tensor &t) { seen[v.name().str()] = t; };
      ValueObserver interpSees = [&](const Value &v, const Tensor &t) {
        ref[v.name().str()] = t;
      };
      auto want = runGraph(*g, {x}, nullptr, &interpSees);
      ASSERT_TRUE(bool(want)) << llvm::toString(want.takeError());
      // The norm differs from the interpreter's by float rounding, which
      // may move a code by one: 1e-3 of the output's range.
      auto got = (*jit)->run({x});
      ASSERT_TRUE(bool(got)) << llvm::toString(got.takeError());
      EXPECT_LT(test::maxRelativeDiff((*want)[0], (*got)[0]), 1e-3) << g->name().str() << rows;
      auto observed = (*jit)->run({x}, &jitSees);
      ASSERT_TRUE(bool(observed)) << llvm::toString(observed.takeError());
      EXPECT_EQ(test::maxRelativeDiff((*got)[0], (*observed)[0]), 0.0) << g->name().str() << rows;
      ASSERT_TRUE(seen.count("n")) << g->name().str();
      EXPECT_LT(test::maxRelativeDiff(ref["n"], seen["n"]), 1e-5) << g->name().str();
    }
  }
}

} // namespace
