//===- tests/unit/HostKernelsTest.cpp - Host kernels vs the interpreter ---===//
//
// Every op the JIT executor runs on host kernels, on random inputs with
// broadcasts, odd sizes and dynamic dimensions, against the reference
// interpreter: exact for data movement, arithmetic and quantization codes,
// within float rounding for exp, norms, softmax and rope.
//
//===----------------------------------------------------------------------===//
#include "codegen/HostKernels.h"
#include "codegen/GemmEngine.h"
#include "runtime/Interpreter.h"

#include "TestUtil.h"

#include <iterator>
#include <optional>
#include <limits>
#include <random>

using namespace sqc;

namespace {

struct Case {
  const char *name;
  const char *graph; // the first op is the one under test
  llvm::SmallVector<llvm::SmallVector<int64_t, 4>, 3> shapes; // one per argument
  double tolerance;  // 0: bit-exact
};

/// Random inputs: f32 ~ N(0, 2), integers spread over their range; i32
/// arguments are gather indices / positions in [0, `indexBound`).
Tensor randomInput(DType t, llvm::ArrayRef<int64_t> shape, std::mt19937 &rng,
                   int64_t indexBound) {
  Tensor x(t, shape);
  std::normal_distribution<float> normal(0, 2);
  for (int64_t i = 0; i < x.numElements(); ++i) {
    if (t == DType::F32)
      x.floats()[i] = normal(rng);
    else if (t == DType::I8)
      x.ints()[i] = int32_t(rng() % 256) - 128;
    else if (t == DType::U8) // logarithmic codes: most below the zero cut-off
      x.ints()[i] = rng() % 8 == 0 ? 255 : int32_t(rng() % 100);
    else
      x.ints()[i] = int32_t(rng() % uint32_t(indexBound));
  }
  return x;
}

/// Seeded random inputs for every argument of `g`.
std::vector<Tensor> randomInputs(const Graph &g, const Case &c, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<Tensor> inputs;
  for (unsigned i = 0; i < g.numArguments(); ++i)
    inputs.push_back(randomInput(g.argument(i)->type().dtype(), c.shapes[i], rng,
                                 c.shapes[0].front()));
  return inputs;
}

std::vector<const Tensor *> pointers(const std::vector<Tensor> &ts) {
  std::vector<const Tensor *> out;
  for (const Tensor &t : ts)
    out.push_back(&t);
  return out;
}

/// The engine of the best kernels the host runs (log2_matmul's row kernel).
const GemmEngine *hostEngine(std::optional<GemmIsa> isa = std::nullopt) {
  TargetSpec host = TargetSpec::host();
  auto e = GemmEngine::shared(host, isa.value_or(bestGemmIsa(host)));
  EXPECT_TRUE(bool(e)) << llvm::toString(e.takeError());
  return e ? e->get() : nullptr;
}

void check(const Case &c, const GemmEngine *engine = hostEngine()) {
  SCOPED_TRACE(c.name);
  std::string errors;
  auto m = test::parseAndVerify(c.graph, errors);
  ASSERT_TRUE(m) << errors;
  const Graph &g = *m->graphs().front();
  const Op &op = *g.ops().begin();
  ASSERT_TRUE(hostKernelCovers(op));
  std::vector<Tensor> inputs = randomInputs(g, c, 1);
  std::vector<const Tensor *> in = pointers(inputs);
  auto ref = evaluateOp(op, llvm::ArrayRef<const Tensor *>(in));
  ASSERT_TRUE(bool(ref)) << llvm::toString(ref.takeError());
  std::vector<Tensor> got;
  ASSERT_TRUE(runHostKernel(op, in, got, nullptr, engine)) << "declined";
  ASSERT_EQ(got.size(), ref->size());
  for (size_t r = 0; r < got.size(); ++r) {
    const Tensor &a = (*ref)[r], &b = got[r];
    ASSERT_EQ(a.dtype(), b.dtype());
    ASSERT_EQ(a.shape(), b.shape());
    for (int64_t i = 0; i < a.numElements(); ++i) {
      double x = a.get(i), y = b.get(i);
      if (std::isinf(x) && x == y)
        continue;
      ASSERT_LE(std::fabs(x - y), c.tolerance * std::max(1.0, std::fabs(x)))
          << "result " << r << " element " << i << ": " << x << " vs " << y;
    }
  }
}

const Case kCases[] = {
    {"reshape, one dynamic dim",
     "graph @f(%x: f32[?n,6]) -> (f32[?n,2,3]) {\n  %r = reshape %x : f32[?n,2,3]\n"
     "  return %r\n}",
     {{5, 6}}, 0},
    {"transpose keeping the last dim",
     "graph @f(%x: f32[3,2,2,5]) -> (f32[2,2,3,5]) {\n"
     "  %r = transpose %x {perm = [1, 2, 0, 3]} : f32[2,2,3,5]\n  return %r\n}",
     {{3, 2, 2, 5}}, 0},
    {"transpose moving the last dim",
     "graph @f(%x: i8[3,7]) -> (i8[7,3]) {\n"
     "  %r = transpose %x {perm = [1, 0]} : i8[7,3]\n  return %r\n}",
     {{3, 7}}, 0},
    {"concat inner axis",
     "graph @f(%a: f32[2,3,4], %b: f32[2,1,4]) -> (f32[2,4,4]) {\n"
     "  %r = concat %a, %b {axis = 1} : f32[2,4,4]\n  return %r\n}",
     {{2, 3, 4}, {2, 1, 4}}, 0},
    {"slice",
     "graph @f(%x: f32[3,9]) -> (f32[3,4]) {\n"
     "  %r = slice %x {axis = 1, start = 2, end = 6} : f32[3,4]\n  return %r\n}",
     {{3, 9}}, 0},
    {"gather rows",
     "graph @f(%t: f32[11,3], %i: i32[7]) -> (f32[7,3]) {\n"
     "  %r = gather %t, %i : f32[7,3]\n  return %r\n}",
     {{11, 3}, {7}}, 0},
    {"add, trailing vector broadcast",
     "graph @f(%a: f32[2,3,5], %b: f32[5]) -> (f32[2,3,5]) {\n"
     "  %r = add %a, %b : f32[2,3,5]\n  return %r\n}",
     {{2, 3, 5}, {5}}, 0},
    {"mul, per-row broadcast on the left",
     "graph @f(%a: f32[2,3,1], %b: f32[2,3,5]) -> (f32[2,3,5]) {\n"
     "  %r = mul %a, %b : f32[2,3,5]\n  return %r\n}",
     {{2, 3, 1}, {2, 3, 5}}, 0},
    {"sub, both sides broadcast",
     "graph @f(%a: f32[2,1,5], %b: f32[3,5]) -> (f32[2,3,5]) {\n"
     "  %r = sub %a, %b : f32[2,3,5]\n  return %r\n}",
     {{2, 1, 5}, {3, 5}}, 0},
    {"div by a scalar",
     "graph @f(%a: f32[4,3], %b: f32[]) -> (f32[4,3]) {\n"
     "  %r = div %a, %b : f32[4,3]\n  return %r\n}",
     {{4, 3}, {}}, 0},
    {"silu",
     "graph @f(%x: f32[3,17]) -> (f32[3,17]) {\n  %r = silu %x : f32[3,17]\n  return %r\n}",
     {{3, 17}}, 1e-6},
    {"gelu tanh",
     "graph @f(%x: f32[3,17]) -> (f32[3,17]) {\n"
     "  %r = gelu %x {approximate = \"tanh\"} : f32[3,17]\n  return %r\n}",
     {{3, 17}}, 1e-6},
    {"softmax",
     "graph @f(%x: f32[2,3,13]) -> (f32[2,3,13]) {\n  %r = softmax %x : f32[2,3,13]\n"
     "  return %r\n}",
     {{2, 3, 13}}, 1e-6},
    {"rms_norm",
     "graph @f(%x: f32[4,24], %g: f32[24]) -> (f32[4,24]) {\n"
     "  %r = rms_norm %x, %g {eps = 1.0e-05} : f32[4,24]\n  return %r\n}",
     {{4, 24}, {24}}, 1e-6},
    {"layer_norm with bias",
     "graph @f(%x: f32[4,24], %g: f32[24], %b: f32[24]) -> (f32[4,24]) {\n"
     "  %r = layer_norm %x, %g, %b {eps = 1.0e-06} : f32[4,24]\n  return %r\n}",
     {{4, 24}, {24}, {24}}, 1e-6},
    {"rope, rotate-half pairs",
     "graph @f(%x: f32[5,3,8], %p: i32[5]) -> (f32[5,3,8]) {\n"
     "  %r = rope %x, %p {theta = 10000.0, style = \"half\"} : f32[5,3,8]\n  return %r\n}",
     {{5, 3, 8}, {5}}, 1e-6},
    {"rope, interleaved pairs",
     "graph @f(%x: f32[5,3,8], %p: i32[5]) -> (f32[5,3,8]) {\n"
     "  %r = rope %x, %p {theta = 500.0, style = \"interleaved\"} : f32[5,3,8]\n"
     "  return %r\n}",
     {{5, 3, 8}, {5}}, 1e-6},
    {"causal mask with a past",
     "graph @f(%x: f32[2,3,7]) -> (f32[2,3,7]) {\n  %r = causal_mask %x : f32[2,3,7]\n"
     "  return %r\n}",
     {{2, 3, 7}}, 0},
    {"quantize_dynamic per token",
     "graph @f(%x: f32[3,2,9]) -> (i8[3,2,9], f32[3,2,1]) {\n"
     "  %q, %s = quantize_dynamic %x : i8[3,2,9], f32[3,2,1]\n  return %q, %s\n}",
     {{3, 2, 9}}, 0},
    {"quantize_dynamic per column",
     "graph @f(%x: f32[2,5,3]) -> (i8[2,5,3], f32[2,1,3]) {\n"
     "  %q, %s = quantize_dynamic %x {granularity = \"per-column\"} : i8[2,5,3], f32[2,1,3]\n"
     "  return %q, %s\n}",
     {{2, 5, 3}}, 0},
    {"quantize_dynamic per tensor, unsigned",
     "graph @f(%x: f32[4,6]) -> (u8[4,6], f32[]) {\n"
     "  %q, %s = quantize_dynamic %x {granularity = \"per-tensor\", unsigned = true} : "
     "u8[4,6], f32[]\n  return %q, %s\n}",
     {{4, 6}}, 0},
    {"quantize with per-channel scale and zero point",
     "graph @f(%x: f32[4,3], %s: f32[3], %z: i32[3]) -> (i8[4,3]) {\n"
     "  %r = quantize %x, %s, %z : i8[4,3]\n  return %r\n}",
     {{4, 3}, {3}, {3}}, 0},
    {"dequantize with zero point",
     "graph @f(%q: i8[4,3], %s: f32[3], %z: i32[3]) -> (f32[4,3]) {\n"
     "  %r = dequantize %q, %s, %z : f32[4,3]\n  return %r\n}",
     {{4, 3}, {3}, {3}}, 0},
    {"quantize with one static scale",
     "graph @f(%x: f32[4,3], %s: f32[]) -> (i8[4,3]) {\n"
     "  %r = quantize %x, %s : i8[4,3]\n  return %r\n}",
     {{4, 3}, {}}, 0},
    {"quantize an empty tensor",
     "graph @f(%x: f32[?n,3], %s: f32[3]) -> (i8[?n,3]) {\n"
     "  %r = quantize %x, %s : i8[?n,3]\n  return %r\n}",
     {{0, 3}, {3}}, 0},
    {"dequantize with per-row scale",
     "graph @f(%q: i8[4,3], %s: f32[4,1]) -> (f32[4,3]) {\n"
     "  %r = dequantize %q, %s : f32[4,3]\n  return %r\n}",
     {{4, 3}, {4, 1}}, 0},
    {"quantize_log2 (negatives give the zero code, above 1 code 0)",
     "graph @f(%x: f32[3,17]) -> (u8[3,17]) {\n"
     "  %r = quantize_log2 %x : u8[3,17]\n  return %r\n}",
     {{3, 17}}, 0},
    {"dequantize_log2, base 2",
     "graph @f(%q: u8[3,17]) -> (f32[3,17]) {\n"
     "  %r = dequantize_log2 %q {base = \"2\"} : f32[3,17]\n  return %r\n}",
     {{3, 17}}, 0},
    {"log2_matmul, grouped heads",
     "graph @f(%p: u8[2,3,5,19], %v: i8[2,1,19,6]) -> (f32[2,3,5,6]) {\n"
     "  %r = log2_matmul %p, %v : f32[2,3,5,6]\n  return %r\n}",
     {{2, 3, 5, 19}, {2, 1, 19, 6}}, 0},
    {"log2_matmul, base 2, transposed b",
     "graph @f(%p: u8[4,9], %v: i8[7,9]) -> (f32[4,7]) {\n"
     "  %r = log2_matmul %p, %v {base = \"2\", transpose_b = true} : f32[4,7]\n"
     "  return %r\n}",
     {{4, 9}, {7, 9}}, 0},
    {"log2_matmul, batched and transposed b",
     "graph @f(%p: u8[2,3,5,9], %v: i8[2,1,7,9]) -> (f32[2,3,5,7]) {\n"
     "  %r = log2_matmul %p, %v {transpose_b = true} : f32[2,3,5,7]\n  return %r\n}",
     {{2, 3, 5, 9}, {2, 1, 7, 9}}, 0},
    {"log2_matmul, vectors and a tail",
     "graph @f(%p: u8[3,40], %v: i8[40,19]) -> (f32[3,19]) {\n"
     "  %r = log2_matmul %p, %v : f32[3,19]\n  return %r\n}",
     {{3, 40}, {40, 19}}, 0},
};

TEST(HostKernelsTest, MatchTheInterpreter) {
  for (const Case &c : kCases)
    check(c);
}

// quantize of NaN gives code 0 (with or without a zero point), and of
// infinities the ends of the range, on the host kernels as in the
// interpreter (a NaN weight must not turn into -127 on the fast path only).
TEST(HostKernelsTest, QuantizeGivesNaNTheZeroCode) {
  const char *graphs[] = {
      "graph @f(%x: f32[2,3], %s: f32[]) -> (i8[2,3]) {\n"
      "  %r = quantize %x, %s : i8[2,3]\n  return %r\n}",
      "graph @f(%x: f32[2,3], %s: f32[3], %z: i32[3]) -> (u8[2,3]) {\n"
      "  %r = quantize %x, %s, %z : u8[2,3]\n  return %r\n}"};
  for (const char *text : graphs) {
    std::string errors;
    auto m = test::parseAndVerify(text, errors);
    ASSERT_TRUE(m) << errors;
    const Op &op = *m->graphs().front()->ops().begin();
    Tensor x(DType::F32, {2, 3}), s(DType::F32, op.numOperands() == 2 ? llvm::ArrayRef<int64_t>{}
                                                                      : llvm::ArrayRef<int64_t>{3});
    float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    x.floats() = {nan, -inf, inf, 0.5f, -nan, 3.0f};
    std::fill(s.floats().begin(), s.floats().end(), 0.1f);
    Tensor z(DType::I32, {3});
    z.ints() = {128, 0, 7};
    std::vector<const Tensor *> in{&x, &s, &z};
    in.resize(op.numOperands());
    auto ref = evaluateOp(op, llvm::ArrayRef<const Tensor *>(in));
    ASSERT_TRUE(bool(ref)) << llvm::toString(ref.takeError());
    std::vector<Tensor> got;
    ASSERT_TRUE(runHostKernel(op, in, got, nullptr));
    EXPECT_EQ((*ref)[0].get(0), 0) << "the interpreter's NaN";
    for (int64_t i = 0; i < x.numElements(); ++i)
      EXPECT_EQ(got[0].get(i), (*ref)[0].get(i)) << "element " << i << " of " << text;
  }
}

// log2_matmul runs on a JIT row kernel: every variant the host runs gives
// the interpreter's results bit for bit; without an engine it declines.
TEST(HostKernelsTest, Log2MatMulOnEveryIsa) {
  for (GemmIsa isa : {GemmIsa::Generic, GemmIsa::AVX2, GemmIsa::AVXVNNI, GemmIsa::AVX512VNNI}) {
    if (!targetRuns(TargetSpec::host(), isa))
      continue;
    SCOPED_TRACE(gemmIsaName(isa).str());
    for (const Case &c : kCases)
      if (llvm::StringRef(c.name).starts_with("log2_matmul"))
        check(c, hostEngine(isa));
  }
  std::string errors;
  auto m = test::parseAndVerify(kCases[std::size(kCases) - 1].graph, errors);
  ASSERT_TRUE(m) << errors;
  Tensor p(DType::U8, {3, 40}), v(DType::I8, {40, 19});
  const Tensor *in[] = {&p, &v};
  std::vector<Tensor> out;
  EXPECT_FALSE(runHostKernel(*m->graphs().front()->ops().begin(), in, out));
}

TEST(HostKernelsTest, DeclinesAnOutOfRangeGather) {
  std::string errors;
  auto m = test::parseAndVerify("graph @f(%t: f32[4,2], %i: i32[2]) -> (f32[2,2]) {\n"
                                "  %r = gather %t, %i : f32[2,2]\n  return %r\n}",
                                errors);
  ASSERT_TRUE(m) << errors;
  Tensor table(DType::F32, {4, 2}), idx(DType::I32, {2});
  idx.ints() = {1, 4};
  const Tensor *in[] = {&table, &idx};
  std::vector<Tensor> out;
  // The interpreter reports the error; the host kernel leaves it to it.
  EXPECT_FALSE(runHostKernel(*m->graphs().front()->ops().begin(), in, out));
  EXPECT_TRUE(out.empty());
}

TEST(HostKernelsTest, AppendRowsGrowsInPlace) {
  Tensor cache(DType::F32, {0, 2, 3}), rows(DType::F32, {2, 2, 3}), bad(DType::F32, {1, 3, 2});
  for (int64_t i = 0; i < rows.numElements(); ++i)
    rows.floats()[i] = float(i);
  ASSERT_TRUE(cache.canAppendRows(rows));
  cache.appendRows(rows);
  cache.appendRows(rows);
  EXPECT_EQ(cache.shape(), llvm::ArrayRef<int64_t>({4, 2, 3}));
  EXPECT_EQ(cache.floats()[12], 0.0f);
  EXPECT_EQ(cache.floats()[23], 11.0f);
  EXPECT_FALSE(cache.canAppendRows(bad));
}

} // namespace

namespace {

// Ops big enough to split their rows over threads give the single-threaded
// result bit for bit (and the interpreter's, within the same tolerances).
const Case kLargeCases[] = {
    {"log2_matmul, split",
     "graph @f(%p: u8[4,2,64,100], %v: i8[4,1,100,8]) -> (f32[4,2,64,8]) {\n"
     "  %r = log2_matmul %p, %v : f32[4,2,64,8]\n  return %r\n}",
     {{4, 2, 64, 100}, {4, 1, 100, 8}}, 0},
    {"transpose, split",
     "graph @f(%x: f32[64,8,2,40]) -> (f32[8,2,64,40]) {\n"
     "  %r = transpose %x {perm = [1, 2, 0, 3]} : f32[8,2,64,40]\n  return %r\n}",
     {{64, 8, 2, 40}}, 0},
    {"mul with broadcast, split",
     "graph @f(%a: f32[4,128,96], %b: f32[4,128,1]) -> (f32[4,128,96]) {\n"
     "  %r = mul %a, %b : f32[4,128,96]\n  return %r\n}",
     {{4, 128, 96}, {4, 128, 1}}, 0},
    {"silu, split",
     "graph @f(%x: f32[300,170]) -> (f32[300,170]) {\n  %r = silu %x : f32[300,170]\n"
     "  return %r\n}",
     {{300, 170}}, 1e-6},
    {"softmax, split",
     "graph @f(%x: f32[4,64,200]) -> (f32[4,64,200]) {\n  %r = softmax %x : f32[4,64,200]\n"
     "  return %r\n}",
     {{4, 64, 200}}, 1e-6},
    {"rms_norm, split",
     "graph @f(%x: f32[300,128], %g: f32[128]) -> (f32[300,128]) {\n"
     "  %r = rms_norm %x, %g {eps = 1.0e-05} : f32[300,128]\n  return %r\n}",
     {{300, 128}, {128}}, 1e-6},
    {"rope, split",
     "graph @f(%x: f32[200,4,64], %p: i32[200]) -> (f32[200,4,64]) {\n"
     "  %r = rope %x, %p {theta = 10000.0, style = \"half\"} : f32[200,4,64]\n  return %r\n}",
     {{200, 4, 64}, {200}}, 1e-6},
    {"quantize_dynamic per token, split",
     "graph @f(%x: f32[400,96]) -> (i8[400,96], f32[400,1]) {\n"
     "  %q, %s = quantize_dynamic %x : i8[400,96], f32[400,1]\n  return %q, %s\n}",
     {{400, 96}}, 0},
    {"quantize_dynamic per column, split",
     "graph @f(%x: f32[8,100,64]) -> (i8[8,100,64], f32[8,1,64]) {\n"
     "  %q, %s = quantize_dynamic %x {granularity = \"per-column\"} : i8[8,100,64], f32[8,1,64]\n"
     "  return %q, %s\n}",
     {{8, 100, 64}}, 0},
};

TEST(HostKernelsTest, SplitOverThreadsTheSame) {
  ThreadPool pool(3);
  for (const Case &c : kLargeCases) {
    check(c);
    SCOPED_TRACE(c.name);
    std::string errors;
    auto m = test::parseAndVerify(c.graph, errors);
    ASSERT_TRUE(m) << errors;
    const Graph &g = *m->graphs().front();
    std::vector<Tensor> inputs = randomInputs(g, c, 2);
    std::vector<const Tensor *> in = pointers(inputs);
    std::vector<Tensor> one, many;
    ASSERT_TRUE(runHostKernel(*g.ops().begin(), in, one, nullptr, hostEngine()));
    ASSERT_TRUE(runHostKernel(*g.ops().begin(), in, many, &pool, hostEngine()));
    ASSERT_EQ(one.size(), many.size());
    for (size_t r = 0; r < one.size(); ++r) {
      EXPECT_EQ(one[r].floats(), many[r].floats());
      EXPECT_EQ(one[r].ints(), many[r].ints());
    }
  }
}

} // namespace

namespace {

// quantize_dynamic through reshape -> transpose (attention's K and V) gives
// the interpreter's codes and scales without the transposed copy.
TEST(HostKernelsTest, QuantizeThroughTransposeMatchesTheChain) {
  for (const char *granularity : {"per-token", "per-column", "per-tensor"}) {
    SCOPED_TRACE(granularity);
    std::string scale = std::string(granularity) == "per-token"    ? "f32[2,1,5,1]"
                        : std::string(granularity) == "per-column" ? "f32[2,1,1,4]"
                                                                   : "f32[]";
    std::string text = "graph @f(%x: f32[5,8]) -> (i8[2,1,5,4], " + scale + ") {\n"
                       "  %r = reshape %x : f32[5,2,1,4]\n"
                       "  %t = transpose %r {perm = [1, 2, 0, 3]} : f32[2,1,5,4]\n"
                       "  %q, %s = quantize_dynamic %t {granularity = \"" + granularity +
                       "\"} : i8[2,1,5,4], " + scale + "\n  return %q, %s\n}\n";
    std::string errors;
    auto m = test::parseAndVerify(text, errors);
    ASSERT_TRUE(m) << errors;
    auto op = m->graphs().front()->ops().begin();
    const Op &reshape = *op++, &transpose = *op++, &quantize = *op;
    std::mt19937 rng(4);
    Tensor x = randomInput(DType::F32, {5, 8}, rng, 1);
    std::vector<Tensor> ref = {x};
    for (const Op *o : {&reshape, &transpose, &quantize}) {
      auto r = evaluateOp(*o, llvm::ArrayRef<Tensor>(ref));
      ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
      ref = std::move(*r);
    }
    std::vector<Tensor> got;
    ASSERT_TRUE(runQuantizeThroughTranspose(quantize, transpose, &reshape, x, got));
    ASSERT_EQ(got.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(got[i].shape(), ref[i].shape());
      EXPECT_EQ(got[i].ints(), ref[i].ints());
      EXPECT_EQ(got[i].floats(), ref[i].floats());
    }
  }
}

} // namespace
