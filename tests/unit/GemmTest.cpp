//===- tests/unit/GemmTest.cpp - The JIT's GEMM kernels -------------------===//
//
// Every int8 variant the host runs is checked bit-exact against an int64
// reference on random and adversarial inputs (all -128, all 127, alternating
// signs: the pairs that saturate AVX2's vpmaddubsw; AVX2's sign pairs with
// weights that pair and weights that cannot), sizes that leave partial
// register tiles and panels, K not a multiple of the k group, M = 1, and
// with several threads. The fp32 kernel is checked against a double
// reference. Variants the host cannot run are compiled for a CPU that has
// them and their assembly checked for the instructions that matter.
//
//===----------------------------------------------------------------------===//
#include "codegen/GemmEngine.h"
#include "codegen/Log2Emitter.h"

#include <cmath>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

using namespace sqc;

namespace {

struct Shape {
  int64_t M, N, K;
};
const Shape kShapes[] = {{1, 1, 1},  {1, 7, 64},    {3, 5, 17},   {6, 16, 2},
                         {7, 17, 31}, {13, 40, 96}, {2, 33, 1000}, {5, 2, 3}};

std::vector<GemmIsa> runnableIsas() {
  std::vector<GemmIsa> isas;
  for (GemmIsa isa : {GemmIsa::Generic, GemmIsa::AVX2, GemmIsa::AVXVNNI, GemmIsa::AVX512VNNI})
    if (targetRuns(TargetSpec::host(), isa))
      isas.push_back(isa);
  return isas;
}

class GemmVariant : public ::testing::TestWithParam<GemmIsa> {
protected:
  void SetUp() override {
    auto e = GemmEngine::create(TargetSpec::host(), GetParam());
    ASSERT_TRUE(bool(e)) << llvm::toString(e.takeError());
    engine = std::move(*e);
  }

  /// int8 codes in, exact integer dot products out (scales of 1; every
  /// |sum| here stays below 2^24, so the f32 output holds it exactly).
  void expectExact(const std::vector<int8_t> &a, const std::vector<int8_t> &b, Shape s,
                   ThreadPool *pool, bool int4 = false) {
    expectExact(a, b, s, pool,
                int4 ? engine->packInt4(b.data(), s.N, s.K) : engine->packInt8(b.data(), s.N, s.K));
  }
  /// The same with b already packed as `w` (b: the int8 codes w stands for).
  void expectExact(const std::vector<int8_t> &a, const std::vector<int8_t> &b, Shape s,
                   ThreadPool *pool, const PackedWeights &w) {
    QuantizedRows rows;
    std::vector<float> ones(std::max(s.M, s.N), 1.0f);
    engine->loadRows(a.data(), ones.data(), s.M, s.K, rows);
    std::vector<float> c(s.M * s.N, -1.0f);
    engine->int8Gemm(rows, w, ones.data(), nullptr, nullptr, c.data(), s.N, pool);
    for (int64_t m = 0; m < s.M; ++m)
      for (int64_t n = 0; n < s.N; ++n) {
        int64_t want = 0;
        for (int64_t k = 0; k < s.K; ++k)
          want += int64_t(a[m * s.K + k]) * int64_t(b[n * s.K + k]);
        ASSERT_EQ(int64_t(c[m * s.N + n]), want)
            << "m " << m << " n " << n << " (M " << s.M << ", N " << s.N << ", K " << s.K
            << ")";
      }
  }

  std::unique_ptr<GemmEngine> engine;
};

TEST_P(GemmVariant, Int8ExactOnRandomAndAdversarialInputs) {
  std::mt19937 rng(5);
  ThreadPool pool(3);
  for (Shape s : kShapes) {
    std::vector<int8_t> a(s.M * s.K), b(s.N * s.K);
    for (auto *v : {&a, &b})
      for (int8_t &x : *v)
        x = int8_t(int(rng() % 256) - 128);
    expectExact(a, b, s, nullptr);
    expectExact(a, b, s, &pool);
    // Extremes: every product is 16384 or -16256; pairs sum past 2^15.
    for (auto fill : {std::pair<int8_t, int8_t>{-128, -128}, {127, 127}, {-128, 127}}) {
      std::fill(a.begin(), a.end(), fill.first);
      std::fill(b.begin(), b.end(), fill.second);
      expectExact(a, b, s, nullptr);
    }
    // Alternating signs: u8 x s8 pairs that vpmaddubsw would saturate.
    for (size_t i = 0; i < a.size(); ++i)
      a[i] = i % 2 ? -128 : 127;
    for (size_t i = 0; i < b.size(); ++i)
      b[i] = i % 2 ? -128 : -127;
    expectExact(a, b, s, &pool);
  }
}

/// 4-bit weights, two per byte, unpacked in registers: exact for every code
/// in [-8, 7] against any int8 activations, odd K included.
TEST_P(GemmVariant, Int4ExactOnRandomAndExtremeCodes) {
  std::mt19937 rng(11);
  ThreadPool pool(3);
  for (Shape s : kShapes) {
    std::vector<int8_t> a(s.M * s.K), b(s.N * s.K);
    for (int8_t &x : a)
      x = int8_t(int(rng() % 256) - 128);
    for (int8_t &x : b)
      x = int8_t(int(rng() % 16) - 8);
    expectExact(a, b, s, nullptr, /*int4=*/true);
    expectExact(a, b, s, &pool, /*int4=*/true);
    for (int8_t code : {-8, 7}) {
      std::fill(b.begin(), b.end(), code);
      std::fill(a.begin(), a.end(), int8_t(code < 0 ? -128 : 127));
      expectExact(a, b, s, nullptr, /*int4=*/true);
    }
    // The packed weights take half the bytes (whole k step pairs).
    PackedWeights w4 = engine->packInt4(b.data(), s.N, s.K);
    EXPECT_EQ(int64_t(w4.bytes.size()), w4.panels * engine->tiling().nr * w4.Kp / 2);
  }
}

/// Grouped 4-bit weights (expand_groups): codes in [-8, 7] times a
/// multiplier in [1, 16] per column and group of k, made INT8 codes in
/// registers. Exact for every group size the kernel's loop takes (2^j k
/// step pairs), extremes included (-8 x 16 = -128, 7 x 16 = 112); refused
/// for the others, which run expanded.
TEST_P(GemmVariant, Int4GroupedExactOnRandomAndExtremeCodes) {
  std::mt19937 rng(13);
  ThreadPool pool(3);
  int64_t pair = 2 * engine->tiling().kGroup;
  for (Shape s : {Shape{1, 7, 256}, {7, 17, 128}, {13, 40, 512}, {2, 33, 256}})
    for (int64_t size : {pair, int64_t(32), int64_t(64), int64_t(128)}) {
      int64_t G = s.K / size;
      std::vector<int8_t> a(s.M * s.K), q(s.N * s.K), expanded(s.N * s.K);
      std::vector<uint8_t> mult(s.N * G);
      auto expand = [&] {
        for (int64_t i = 0; i < s.N * s.K; ++i)
          expanded[i] = int8_t(q[i] * mult[(i / s.K) * G + (i % s.K) / size]);
      };
      for (int8_t &x : a)
        x = int8_t(int(rng() % 256) - 128);
      for (int8_t &x : q)
        x = int8_t(int(rng() % 16) - 8);
      for (uint8_t &m : mult)
        m = uint8_t(1 + rng() % 16);
      expand();
      auto w = engine->packInt4Grouped(q.data(), mult.data(), s.N, s.K, G);
      ASSERT_TRUE(w.has_value()) << "K " << s.K << ", groups of " << size;
      EXPECT_EQ(w->bytes.size(), engine->packInt4(q.data(), s.N, s.K).bytes.size());
      expectExact(a, expanded, s, nullptr, *w);
      expectExact(a, expanded, s, &pool, *w);
      for (int8_t code : {-8, 7}) {
        std::fill(q.begin(), q.end(), code);
        std::fill(mult.begin(), mult.end(), uint8_t(16));
        std::fill(a.begin(), a.end(), int8_t(code < 0 ? -128 : 127));
        expand();
        w = engine->packInt4Grouped(q.data(), mult.data(), s.N, s.K, G);
        ASSERT_TRUE(w.has_value());
        expectExact(a, expanded, s, nullptr, *w);
      }
    }
  std::vector<int8_t> q(4 * 96, 1);
  std::vector<uint8_t> mult(4 * 8, 16);
  // 96 / 3 = 32 per group, fine; 96 / 4 = 24 per group is not 2^j pairs.
  EXPECT_TRUE(engine->packInt4Grouped(q.data(), mult.data(), 4, 96, 3).has_value());
  EXPECT_FALSE(engine->packInt4Grouped(q.data(), mult.data(), 4, 96, 4).has_value());
  EXPECT_FALSE(engine->packInt4Grouped(q.data(), mult.data(), 4, 96, 5).has_value());
  mult[5] = 17; // past the kernel's byte arithmetic
  EXPECT_FALSE(engine->packInt4Grouped(q.data(), mult.data(), 4, 96, 3).has_value());
}

/// Sign pairs (AVX2): exact for any int8 weights and activations, whether
/// a panel's quads pair up (small weights), stay single (all 127: any pair
/// of quads would pass 2^15 - 1 in 16 bits) or mix, and with -128 weights
/// (which vpsignb cannot negate: they take a second slot).
TEST_P(GemmVariant, Int8SignPairsExactWhereverQuadsPair) {
  std::vector<int8_t> few(8 * 8, 1);
  if (!gemmKindAvailable(GemmKind::Int8SignPairs, GetParam())) {
    EXPECT_FALSE(engine->packInt8SignPairs(few.data(), 8, 8).has_value());
    return;
  }
  std::mt19937 rng(13);
  ThreadPool pool(3);
  for (Shape s : kShapes) {
    std::vector<int8_t> a(s.M * s.K), b(s.N * s.K);
    for (int8_t &x : a)
      x = int8_t(int(rng() % 256) - 128);
    for (int range : {128, 40, 3}) {
      for (int8_t &x : b)
        x = int8_t(std::max(int(rng() % (2 * range + 1)) - range, -128));
      // A few heavy k quads among light ones: pairs and singles mixed.
      for (size_t i = 0; range == 40 && i < b.size(); i += 11)
        b[i] = i % 2 ? 127 : -128;
      auto w = engine->packInt8SignPairs(b.data(), s.N, s.K);
      ASSERT_TRUE(w.has_value());
      expectExact(a, b, s, nullptr, *w);
      expectExact(a, b, s, &pool, *w);
    }
    // The extremes, in every sign.
    for (auto fill :
         {std::pair<int8_t, int8_t>{-128, 127}, {-128, -128}, {127, -128}, {127, 127}}) {
      std::fill(a.begin(), a.end(), fill.first);
      std::fill(b.begin(), b.end(), fill.second);
      expectExact(a, b, s, &pool, *engine->packInt8SignPairs(b.data(), s.N, s.K));
    }
    for (size_t i = 0; i < a.size(); ++i)
      a[i] = i % 2 ? -128 : 127;
    for (size_t i = 0; i < b.size(); ++i)
      b[i] = i % 3 ? -128 : 127;
    expectExact(a, b, s, &pool, *engine->packInt8SignPairs(b.data(), s.N, s.K));
  }
}

/// Sign pairs at the edge of 16 bits: two quads whose lanes' sum |b| is
/// 255 pair up, and with |a| = 128 their 16-bit sum reaches 128 * 255 =
/// 32640; at 256 it could reach 32768, so they must stay single.
TEST_P(GemmVariant, Int8SignPairsPairUpToTheBound) {
  if (!gemmKindAvailable(GemmKind::Int8SignPairs, GetParam()))
    GTEST_SKIP() << "sign pairs are AVX2's";
  Shape s{4, 16, 8}; // one panel of two quads
  for (int total : {255, 256}) {
    std::vector<int8_t> a(s.M * s.K, -128), b(s.N * s.K);
    int rest = total - 200; // the second quad's lanes
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t k = 0; k < s.K; ++k)
        b[n * s.K + k] = int8_t(k < 4 ? -100 : k % 2 ? -(rest - rest / 2) : -(rest / 2));
    auto w = engine->packInt8SignPairs(b.data(), s.N, s.K);
    ASSERT_TRUE(w.has_value());
    int32_t pairs;
    std::memcpy(&pairs, w->bytes.data(), 4); // the panel header's pair count
    EXPECT_EQ(pairs, total == 255 ? 1 : 0) << total;
    expectExact(a, b, s, nullptr, *w);
  }
  // No k at all: every product is the empty sum.
  expectExact({}, {}, {3, 5, 0}, nullptr, *engine->packInt8SignPairs(nullptr, 5, 0));
}

/// Quantize rows, multiply, rescale, add bias and residual: the epilogue
/// against the same arithmetic in double.
TEST_P(GemmVariant, Int8EpilogueScalesAndAdds) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-2, 2);
  Shape s{9, 37, 70};
  std::vector<float> x(s.M * s.K), bias(s.N), resid(s.M * s.N), ws(s.N);
  std::vector<int8_t> w(s.N * s.K);
  for (float &v : x)
    v = u(rng);
  for (float &v : bias)
    v = u(rng);
  for (float &v : resid)
    v = u(rng);
  for (float &v : ws)
    v = std::fabs(u(rng)) / 127;
  for (int8_t &v : w)
    v = int8_t(int(rng() % 255) - 127);
  QuantizedRows rows;
  engine->quantizeRows(x.data(), s.M, s.K, rows);
  PackedWeights pw = engine->packInt8(w.data(), s.N, s.K);
  std::vector<float> c(s.M * s.N);
  ThreadPool pool(2);
  engine->int8Gemm(rows, pw, ws.data(), bias.data(), resid.data(), c.data(), s.N, &pool);
  // Sign pairs on rows made for them alone: the same integers, the same
  // epilogue, the same floats.
  if (auto sp = engine->packInt8SignPairs(w.data(), s.N, s.K)) {
    QuantizedRows signMag;
    engine->quantizeRows(x.data(), s.M, s.K, signMag, 0, nullptr, nullptr,
                         GemmEngine::RowReaders::SignPairs);
    EXPECT_TRUE(signMag.i16.empty());
    std::vector<float> c2(s.M * s.N);
    engine->int8Gemm(signMag, *sp, ws.data(), bias.data(), resid.data(), c2.data(), s.N, &pool);
    EXPECT_EQ(c2, c);
  }
  for (int64_t m = 0; m < s.M; ++m) {
    float mx = 0;
    for (int64_t k = 0; k < s.K; ++k)
      mx = std::max(mx, std::fabs(x[m * s.K + k]));
    float scale = mx / 127;
    EXPECT_FLOAT_EQ(rows.scale[m], scale);
    for (int64_t n = 0; n < s.N; ++n) {
      int64_t acc = 0;
      for (int64_t k = 0; k < s.K; ++k)
        acc += int64_t(std::nearbyint(x[m * s.K + k] / scale)) * w[n * s.K + k];
      double want = double(acc) * scale * ws[n] + bias[n] + resid[m * s.N + n];
      EXPECT_NEAR(c[m * s.N + n], want, 1e-4 * (1 + std::fabs(want))) << m << "," << n;
    }
  }
}

TEST_P(GemmVariant, F32MatchesDoubleReference) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1, 1);
  ThreadPool pool(2);
  for (Shape s : kShapes) {
    std::vector<float> a(s.M * s.K), w(s.N * s.K), bias(s.N);
    for (auto *v : {&a, &w, &bias})
      for (float &x : *v)
        x = u(rng);
    PackedWeights pw = engine->packF32(w.data(), s.N, s.K);
    std::vector<float> c(s.M * s.N);
    engine->f32Gemm(a.data(), s.K, s.M, pw, bias.data(), nullptr, c.data(), s.N, &pool);
    for (int64_t m = 0; m < s.M; ++m)
      for (int64_t n = 0; n < s.N; ++n) {
        double want = bias[n];
        for (int64_t k = 0; k < s.K; ++k)
          want += double(a[m * s.K + k]) * w[n * s.K + k];
        ASSERT_NEAR(c[m * s.N + n], want, 1e-5 * (1 + std::sqrt(double(s.K))))
            << m << "," << n << " (M " << s.M << ", N " << s.N << ", K " << s.K << ")";
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Host, GemmVariant, ::testing::ValuesIn(runnableIsas()),
                         [](const auto &p) { return gemmIsaName(p.param).str(); });

std::string assemblyFor(GemmKind kind, GemmIsa isa, const TargetSpec &t) {
  llvm::LLVMContext ctx;
  llvm::Module m("gemm", ctx);
  emitGemmKernel(m, kind, isa);
  auto asmText = emitAssembly(m, t);
  EXPECT_TRUE(bool(asmText)) << (asmText ? "" : llvm::toString(asmText.takeError()));
  return asmText ? *asmText : "";
}

bool has(const std::string &text, const char *what) {
  return text.find(what) != std::string::npos;
}

std::string log2AssemblyFor(GemmIsa isa, const TargetSpec &t) {
  llvm::LLVMContext ctx;
  llvm::Module m("log2", ctx);
  emitLog2MatMulRowKernel(m, isa);
  auto asmText = emitAssembly(m, t);
  EXPECT_TRUE(bool(asmText)) << (asmText ? "" : llvm::toString(asmText.takeError()));
  return asmText ? *asmText : "";
}

// P x V in logarithmic codes: b's rows sign-extended to i64 and shifted in
// vector registers, no multiplies.
TEST(GemmAssembly, Log2RowKernelShiftsAndAdds) {
  std::string avx2 = log2AssemblyFor(GemmIsa::AVX2, TargetSpec::parse("haswell", ""));
  EXPECT_TRUE(has(avx2, "vpmovsxdq")) << avx2;
  EXPECT_TRUE(has(avx2, "vpsll"));
  EXPECT_TRUE(has(avx2, "vpaddq"));
  EXPECT_TRUE(has(avx2, "ymm"));
  EXPECT_FALSE(has(avx2, "vpmul"));
  std::string avx512 =
      log2AssemblyFor(GemmIsa::AVX512VNNI, TargetSpec::parse("icelake-server", ""));
  EXPECT_TRUE(has(avx512, "vpsll")) << avx512;
  EXPECT_TRUE(has(avx512, "zmm"));
  EXPECT_FALSE(has(avx512, "vpmul"));
}

TEST(GemmAssembly, Avx2UsesExactMultiplyAddOnYmm) {
  std::string text = assemblyFor(GemmKind::Int8, GemmIsa::AVX2, TargetSpec::parse("haswell", ""));
  EXPECT_TRUE(has(text, "vpmaddwd")) << text;
  EXPECT_TRUE(has(text, "vpmovsxbw")); // s8 weights widened in registers
  EXPECT_TRUE(has(text, "ymm"));
  EXPECT_FALSE(has(text, "vpmaddubsw")) << "would saturate";
}

/// Sign pairs: vpmaddubsw only on magnitudes and sign-moved weights, with
/// 16-bit adds between it and the widening vpmaddwd.
TEST(GemmAssembly, Avx2SignPairsMoveSignsBeforeByteProducts) {
  std::string text =
      assemblyFor(GemmKind::Int8SignPairs, GemmIsa::AVX2, TargetSpec::parse("haswell", ""));
  EXPECT_TRUE(has(text, "vpsignb")) << text;
  EXPECT_TRUE(has(text, "vpmaddubsw"));
  EXPECT_TRUE(has(text, "vpaddw"));
  EXPECT_TRUE(has(text, "vpmaddwd"));
  EXPECT_FALSE(has(text, "vpmovsxbw"));
  EXPECT_FALSE(gemmKindAvailable(GemmKind::Int8SignPairs, GemmIsa::AVXVNNI));
}

TEST(GemmAssembly, AvxVnniUsesVexDotProduct) {
  std::string text =
      assemblyFor(GemmKind::Int8, GemmIsa::AVXVNNI, TargetSpec::parse("alderlake", ""));
  EXPECT_TRUE(has(text, "{vex}\tvpdpbusd")) << text;
  EXPECT_FALSE(has(text, "zmm"));
  EXPECT_FALSE(has(text, "vpdpbusds")) << "the saturating form";
}

TEST(GemmAssembly, Avx512VnniUsesZmmDotProduct) {
  std::string text =
      assemblyFor(GemmKind::Int8, GemmIsa::AVX512VNNI, TargetSpec::parse("icelake-server", ""));
  EXPECT_TRUE(has(text, "vpdpbusd")) << text;
  EXPECT_TRUE(has(text, "zmm"));
  EXPECT_FALSE(has(text, "vpdpbusds"));
}

/// INT4 on AVX2: the nibbles come out of the widened bytes with 16-bit
/// shifts (AVX2 has none for bytes, which LLVM would emulate at length).
TEST(GemmAssembly, Int4OnAvx2ShiftsWidenedBytes) {
  std::string text = assemblyFor(GemmKind::Int4, GemmIsa::AVX2, TargetSpec::parse("haswell", ""));
  EXPECT_TRUE(has(text, "vpmovsxbw")) << text;
  EXPECT_TRUE(has(text, "vpsraw"));
  EXPECT_TRUE(has(text, "vpmaddwd"));
  EXPECT_FALSE(has(text, "vpacksswb")) << "bytes shifted by way of words and packed back";
}

/// Grouped INT4: the multipliers are applied with 16-bit multiplies in
/// registers, before the same exact multiply-adds as INT8.
TEST(GemmAssembly, GroupedInt4MultipliesInRegisters) {
  std::string avx2 =
      assemblyFor(GemmKind::Int4Grouped, GemmIsa::AVX2, TargetSpec::parse("haswell", ""));
  EXPECT_TRUE(has(avx2, "vpmullw")) << avx2;
  EXPECT_TRUE(has(avx2, "vpmaddwd"));
  EXPECT_FALSE(has(avx2, "vpmaddubsw"));
  std::string vnni =
      assemblyFor(GemmKind::Int4Grouped, GemmIsa::AVXVNNI, TargetSpec::parse("alderlake", ""));
  EXPECT_TRUE(has(vnni, "vpmullw")) << vnni;
  EXPECT_TRUE(has(vnni, "vpsubb"));
  EXPECT_TRUE(has(vnni, "{vex}\tvpdpbusd"));
  std::string avx512 = assemblyFor(GemmKind::Int4Grouped, GemmIsa::AVX512VNNI,
                                   TargetSpec::parse("icelake-server", ""));
  EXPECT_TRUE(has(avx512, "vpmullw")) << avx512;
  EXPECT_TRUE(has(avx512, "vpdpbusd"));
  EXPECT_TRUE(has(avx512, "zmm"));
}

TEST(GemmAssembly, F32UsesFma) {
  std::string text = assemblyFor(GemmKind::F32, GemmIsa::AVX2, TargetSpec::parse("haswell", ""));
  EXPECT_TRUE(has(text, "vfmadd231ps")) << text;
  std::string wide =
      assemblyFor(GemmKind::F32, GemmIsa::AVX512VNNI, TargetSpec::parse("icelake-server", ""));
  EXPECT_TRUE(has(wide, "zmm"));
}

TEST(GemmIsaChoice, FollowsTargetFeatures) {
  EXPECT_EQ(bestGemmIsa(TargetSpec{"x86-64", {"+avx2", "+fma"}}), GemmIsa::AVX2);
  EXPECT_EQ(bestGemmIsa(TargetSpec{"x86-64", {"+avx2", "+fma", "+avxvnni"}}), GemmIsa::AVXVNNI);
  EXPECT_EQ(bestGemmIsa(TargetSpec{"x86-64", {"+avx2", "+fma", "+avxvnni", "-avxvnni"}}),
            GemmIsa::AVX2);
  EXPECT_EQ(bestGemmIsa(TargetSpec{"x86-64", {"+sse2"}}), GemmIsa::Generic);
}

// A target with more than the host is refused by name of what is missing;
// the host and the x86-64 baseline always run.
TEST(GemmIsaChoice, FeaturesTheHostLacks) {
  EXPECT_TRUE(featuresTheHostLacks(TargetSpec::host()).empty());
  EXPECT_TRUE(featuresTheHostLacks(TargetSpec{"x86-64", {}}).empty());
  TargetSpec rich{"sapphirerapids", {}};
  for (const char *f : {"avx512fp16", "amx-tile", "avx512vl"}) {
    bool hostHas = targetHas(TargetSpec::host(), std::string("+") + f);
    EXPECT_EQ(llvm::is_contained(featuresTheHostLacks(rich), f), !hostHas) << f;
  }
}

TEST(GemmIsaChoice, TargetOptionsAreChecked) {
  EXPECT_FALSE(bool(checkTargetOptions("znver3", "-avx512f,+fma")));
  EXPECT_FALSE(bool(checkTargetOptions("", "")));
  for (auto [cpu, attr, message] :
       {std::tuple{"znver9", "", "unknown CPU 'znver9'"},
        std::tuple{"", "avx2", "'avx2' needs a + (add) or - (remove) sign"},
        std::tuple{"", "+avx9", "unknown feature 'avx9'"}}) {
    llvm::Error e = checkTargetOptions(cpu, attr);
    ASSERT_TRUE(bool(e));
    EXPECT_NE(llvm::toString(std::move(e)).find(message), std::string::npos) << message;
  }
}

TEST(GemmIsaChoice, FollowsWhatTheCpuImplies) {
  EXPECT_EQ(bestGemmIsa(TargetSpec{"znver3", {}}), GemmIsa::AVX2); // the machine
  EXPECT_EQ(bestGemmIsa(TargetSpec{"alderlake", {}}), GemmIsa::AVXVNNI);
  EXPECT_EQ(bestGemmIsa(TargetSpec{"icelake-server", {}}), GemmIsa::AVX512VNNI);
  // Removing AVX-512F removes what depends on it.
  EXPECT_EQ(bestGemmIsa(TargetSpec{"icelake-server", {"-avx512f"}}), GemmIsa::AVX2);
  EXPECT_EQ(bestGemmIsa(TargetSpec{"x86-64", {}}), GemmIsa::Generic);
}

} // namespace
