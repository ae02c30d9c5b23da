//===- tests/unit/MixedPrecisionTest.cpp - The bit-width search -----------===//
//
// The Pareto frontier against brute force over every assignment of small
// random problems, and the weighted quantization error against what it
// should be on hand-made weights.
//
//===----------------------------------------------------------------------===//
#include "passes/MixedPrecision.h"

#include <random>

#include <gtest/gtest.h>

using namespace sqc;

namespace {

TEST(MixedPrecisionTest, FrontierEqualsBruteForce) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    size_t L = 1 + rng() % 6;
    std::vector<std::vector<BitChoice>> layers(L);
    for (auto &l : layers) {
      uint64_t n = 1 + rng() % 50;
      double e4 = std::uniform_real_distribution<double>(0.1, 10)(rng);
      l = {{4, 4 * n, e4}, {8, 8 * n, e4 / (2 + rng() % 30)}, {32, 32 * n, 0.0}};
    }
    std::vector<FrontierPoint> frontier = paretoFrontier(layers);
    // Brute force: every assignment, then the ones nothing beats.
    std::vector<std::pair<uint64_t, double>> all;
    size_t total = 1;
    for (size_t i = 0; i < L; ++i)
      total *= 3;
    for (size_t code = 0; code < total; ++code) {
      uint64_t cost = 0;
      double err = 0;
      for (size_t i = 0, c = code; i < L; ++i, c /= 3)
        cost += layers[i][c % 3].cost, err += layers[i][c % 3].error;
      all.push_back({cost, err});
    }
    std::vector<std::pair<uint64_t, double>> best;
    for (auto p : all) {
      bool dominated = false;
      for (auto q : all)
        dominated |= (q.first <= p.first && q.second < p.second) ||
                     (q.first < p.first && q.second <= p.second);
      if (!dominated && std::find(best.begin(), best.end(), p) == best.end())
        best.push_back(p);
    }
    std::sort(best.begin(), best.end());
    ASSERT_EQ(frontier.size(), best.size()) << "trial " << trial;
    for (size_t i = 0; i < best.size(); ++i) {
      EXPECT_EQ(frontier[i].cost, best[i].first);
      EXPECT_NEAR(frontier[i].error, best[i].second, 1e-9);
      // The recorded choices add up to the point.
      uint64_t cost = 0;
      for (size_t l = 0; l < L; ++l)
        cost += layers[l][frontier[i].choice[l]].cost;
      EXPECT_EQ(cost, frontier[i].cost);
    }
  }
}

TEST(MixedPrecisionTest, ThinnedFrontierStaysOrdered) {
  std::vector<std::vector<BitChoice>> layers;
  for (int i = 0; i < 40; ++i)
    layers.push_back({{4, uint64_t(400 + i), 1.0 + i}, {8, uint64_t(800 + 2 * i), 0.1}});
  std::vector<FrontierPoint> f = paretoFrontier(layers, 16);
  ASSERT_GE(f.size(), 2u);
  EXPECT_LE(f.size(), 40u);
  for (size_t i = 1; i < f.size(); ++i) {
    EXPECT_GT(f[i].cost, f[i - 1].cost);
    EXPECT_LT(f[i].error, f[i - 1].error);
  }
  EXPECT_EQ(f.front().choice, std::vector<unsigned>(40, 0));
  EXPECT_EQ(f.back().choice, std::vector<unsigned>(40, 1));
}

TEST(MixedPrecisionTest, WeightedErrorOfHandMadeWeights) {
  // Codes land exactly on the 4-bit grid of scale 1/7: no error.
  std::vector<float> exact = {1.0f, -1.0f / 7, 3.0f / 7, 0.0f};
  std::vector<double> h = {1, 1, 1, 1}, scales;
  EXPECT_NEAR(quantizationError(exact.data(), 1, 4, 4, h, 1.0, scales), 0.0, 1e-12);
  EXPECT_NEAR(scales[0], 1.0 / 7, 1e-12);
  // One weight halfway between codes: its error, weighted by its channel.
  std::vector<float> w = {1.0f, 0.5f / 7, 0.0f, 0.0f};
  std::vector<double> hw = {1, 10, 1, 1};
  double e = quantizationError(w.data(), 1, 4, 4, hw, std::vector<double>{1.0 / 7});
  EXPECT_NEAR(e, 10 * (0.5 / 7) * (0.5 / 7), 1e-6); // w is a float
  // Clipping: a clipped scale may do better, never worse, than max|w| / 7.
  std::vector<float> tail = {1.0f, 0.3f, -0.21f, 0.12f, 0.05f, -0.33f, 0.27f, 0.18f};
  std::vector<double> h8(8, 1.0);
  double clipped = quantizationError(tail.data(), 1, 8, 4, h8, 0.4, scales);
  double full = quantizationError(tail.data(), 1, 8, 4, h8, std::vector<double>{1.0 / 7});
  EXPECT_LE(clipped, full);
  // More bits, less error, for the same clipping range.
  EXPECT_LT(quantizationError(tail.data(), 1, 8, 8, h8, 1.0, scales), full);
}

TEST(MixedPrecisionTest, GroupedInt4CodesFitInt8AndHelp) {
  // Rows whose halves differ in range tenfold: one scale per row wastes the
  // small half's codes, one per group of 8 does not.
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0, 1);
  const int64_t N = 6, K = 16;
  std::vector<float> w(N * K);
  for (int64_t i = 0; i < N * K; ++i)
    w[i] = normal(rng) * ((i % K) < 8 ? 1.0f : 0.1f);
  std::vector<double> h(K, 1.0), rowScales, perRow;
  std::vector<int> mult;
  double grouped = groupedInt4Error(w.data(), N, K, 8, h, 0.4, rowScales, mult);
  double rows = quantizationError(w.data(), N, K, 4, h, 0.4, perRow);
  EXPECT_LT(grouped, rows / 2); // the small halves stop rounding to zero
  ASSERT_EQ(mult.size(), size_t(N * 2));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < 2; ++g) {
      int m = mult[n * 2 + g];
      EXPECT_GE(m, 1);
      EXPECT_LE(m, 16);
      // Codes in [-8, 7] times m stay INT8.
      EXPECT_GE(-8 * m, -128);
      EXPECT_LE(7 * m, 127);
    }
  // The error is what quantizing each group on scale row * m leaves.
  double recomputed = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < 2; ++g)
      recomputed += quantizationError(w.data() + n * K + g * 8, 1, 8, 4,
                                      std::vector<double>(8, 1.0),
                                      std::vector<double>{rowScales[n] * mult[n * 2 + g]});
  EXPECT_NEAR(grouped, recomputed, 1e-12 * (1 + grouped));
}

} // namespace
