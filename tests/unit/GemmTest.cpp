//===- tests/unit/GemmTest.cpp - The INT8 GEMM kernel is exact ------------===//
//
// Every vector width the host runs is checked bit-exact against an int64
// reference on random and adversarial inputs (all -128, all 127, alternating
// signs — the pairs that saturate AVX2's vpmaddubsw), odd sizes, K not a
// multiple of the vector width, M = 1. Variants for ISAs the host may lack are
// compiled and their assembly checked for the instructions that matter.
//
//===----------------------------------------------------------------------===//
#include "codegen/GemmEmitter.h"
#include "codegen/Jit.h"

#include <random>

#include <gtest/gtest.h>

using namespace sqc;

namespace {

using GemmFn = void (*)(const int8_t *, const int8_t *, int32_t *, int64_t, int64_t,
                        int64_t);

GemmFn compile(Jit &jit, unsigned lanes) {
  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto m = std::make_unique<llvm::Module>("gemm", *ctx);
  emitInt8Gemm(*m, lanes);
  EXPECT_FALSE(bool(jit.add(std::move(m), std::move(ctx))));
  auto fn = jit.lookup(int8GemmName(lanes));
  EXPECT_TRUE(bool(fn)) << (fn ? "" : llvm::toString(fn.takeError()));
  return fn ? reinterpret_cast<GemmFn>(*fn) : nullptr;
}

void expectExact(GemmFn fn, const std::vector<int8_t> &a, const std::vector<int8_t> &b,
                 int64_t M, int64_t N, int64_t K) {
  std::vector<int32_t> c(M * N, -1);
  fn(a.data(), b.data(), c.data(), M, N, K);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      int64_t want = 0;
      for (int64_t k = 0; k < K; ++k)
        want += int64_t(a[m * K + k]) * int64_t(b[n * K + k]);
      ASSERT_EQ(c[m * N + n], want) << "m " << m << " n " << n << " (M " << M << ", N "
                                    << N << ", K " << K << ")";
    }
}

class Int8Gemm : public ::testing::TestWithParam<unsigned> {};

TEST_P(Int8Gemm, ExactOnRandomAndAdversarialInputs) {
  auto jit = Jit::create(TargetSpec::host());
  ASSERT_TRUE(bool(jit)) << llvm::toString(jit.takeError());
  GemmFn fn = compile(**jit, GetParam());
  ASSERT_TRUE(fn);
  std::mt19937 rng(5);
  struct Shape { int64_t M, N, K; };
  for (Shape s : {Shape{1, 1, 1}, Shape{1, 7, 64}, Shape{3, 5, 17}, Shape{4, 9, 31},
                  Shape{16, 16, 96}, Shape{2, 3, 1000}, Shape{5, 2, 0}}) {
    std::vector<int8_t> a(s.M * s.K), b(s.N * s.K);
    for (auto *v : {&a, &b})
      for (int8_t &x : *v)
        x = int8_t(int(rng() % 256) - 128);
    expectExact(fn, a, b, s.M, s.N, s.K);
    // Extremes: every product is 16384 or -16256; pairs sum past 2^15.
    for (auto fill : {std::pair<int8_t, int8_t>{-128, -128}, {127, 127}, {-128, 127}}) {
      std::fill(a.begin(), a.end(), fill.first);
      std::fill(b.begin(), b.end(), fill.second);
      expectExact(fn, a, b, s.M, s.N, s.K);
    }
    // Alternating signs: u8 x s8 pairs that vpmaddubsw would saturate.
    for (size_t i = 0; i < a.size(); ++i)
      a[i] = i % 2 ? -128 : 127;
    for (size_t i = 0; i < b.size(); ++i)
      b[i] = i % 2 ? -128 : -127;
    expectExact(fn, a, b, s.M, s.N, s.K);
  }
}

INSTANTIATE_TEST_SUITE_P(Widths, Int8Gemm, ::testing::Values(1u, 8u, 16u, 32u),
                         [](const auto &p) { return "v" + std::to_string(p.param); });

std::string assemblyFor(const TargetSpec &t, unsigned lanes) {
  llvm::LLVMContext ctx;
  llvm::Module m("gemm", ctx);
  emitInt8Gemm(m, lanes);
  auto asmText = emitAssembly(m, t);
  EXPECT_TRUE(bool(asmText)) << (asmText ? "" : llvm::toString(asmText.takeError()));
  return asmText ? *asmText : "";
}

TEST(Int8GemmAssembly, Avx2UsesMultiplyAddOnYmm) {
  std::string text = assemblyFor(TargetSpec::parse("haswell", ""), 16);
  EXPECT_NE(text.find("vpmaddwd"), std::string::npos) << text;
  EXPECT_NE(text.find("ymm"), std::string::npos);
  EXPECT_EQ(text.find("vpmaddubsw"), std::string::npos) << "would saturate";
}

TEST(Int8GemmAssembly, Avx512UsesZmm) {
  std::string text = assemblyFor(TargetSpec::parse("skylake-avx512", "+prefer-512-bit"), 32);
  EXPECT_NE(text.find("zmm"), std::string::npos) << text;
  EXPECT_EQ(text.find("vpmaddubsw"), std::string::npos);
}

} // namespace
