//===- tests/unit/CalibrationTest.cpp - Statistics files, good and bad ----===//
//
// What calibration records (maxima, sums of squares for the Hessian,
// minima and maxima for asymmetric quantizers) survives save and load, and
// a malformed or truncated statistics file is an error naming the problem,
// never a crash.
//
//===----------------------------------------------------------------------===//
#include "runtime/Calibration.h"

#include "TestUtil.h"

using namespace sqc;

namespace {

std::string writeTemp(const std::string &text) {
  llvm::SmallString<128> path;
  EXPECT_FALSE(llvm::sys::fs::createTemporaryFile("sqc-calib", "json", path));
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  os << text;
  return path.str().str();
}

std::string loadError(const std::string &text) {
  std::string path = writeTemp(text);
  auto s = CalibrationStats::load(path);
  llvm::sys::fs::remove(path);
  return s ? "" : llvm::toString(s.takeError());
}

TEST(CalibrationTest, SavesAndLoadsWhatPassesRead) {
  std::string errors;
  auto m = test::parseAndVerify("graph @f(%x: f32[?s,3]) -> (f32[?s,3]) {\n"
                                "  %y = relu %x : f32[?s,3]\n  return %y\n}\n",
                                errors);
  ASSERT_TRUE(m) << errors;
  const Value &x = *m->graphs().front()->argument(0);
  CalibrationStats stats;
  Tensor t(DType::F32, {2, 3});
  const float v[6] = {1, -2, 0.5f, -3, 4, 0};
  for (int i = 0; i < 6; ++i)
    t.floats()[i] = v[i];
  stats.observe(x, t);
  const ActivationStats *s = stats.find("x");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->channelMin, std::vector<double>({-3, -2, 0}));
  EXPECT_EQ(s->channelMax, std::vector<double>({1, 4, 0.5}));
  // 2 * mean(x^2) per channel: the Hessian diagonal.
  EXPECT_EQ(s->hessianDiagonal(), std::vector<double>({10, 20, 0.25}));
  std::string path = writeTemp("");
  ASSERT_FALSE(bool(stats.save(path, 99.99, "test")));
  auto back = CalibrationStats::load(path);
  llvm::sys::fs::remove(path);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  const ActivationStats *b = back->find("x");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->channelAbsMax, s->channelAbsMax);
  EXPECT_EQ(b->channelMin, s->channelMin);
  EXPECT_EQ(b->channelMax, s->channelMax);
  EXPECT_EQ(b->hessianDiagonal(), s->hessianDiagonal());
}

TEST(CalibrationTest, MalformedFilesSayWhy) {
  struct Bad {
    const char *text, *expected;
  } cases[] = {
      {"not json", "not a calibration file"},
      {R"({"activations": 3})", "not a calibration file"},
      {R"({"activations": {"x": {"absmax": 1}}})", "needs absmax and channel_absmax"},
      {R"({"activations": {"x": {"absmax": 1, "channel_absmax": [1, "a"]}}})",
       "channel_absmax holds a non-number"},
      {R"({"activations": {"x": {"absmax": 1, "channel_absmax": [1, 1], "channel_sumsq": [1], "rows_counted": 2}}})",
       "channel_sumsq needs one entry per channel and rows_counted"},
      {R"({"activations": {"x": {"absmax": 1, "channel_absmax": [1, 1], "channel_sumsq": [1, 1]}}})",
       "channel_sumsq needs one entry per channel and rows_counted"},
      {R"({"activations": {"x": {"absmax": 1, "channel_absmax": [1, 1], "channel_sumsq": [1, -1], "rows_counted": 2}}})",
       "channel_sumsq holds a non-number"},
      {R"({"activations": {"x": {"absmax": 1, "channel_absmax": [1, 1], "channel_min": [0], "channel_max": [1, 1]}}})",
       "channel_min needs one entry per channel"},
      {R"({"activations": {"x": {"absmax": 1, "channel_absmax": [1, 1], "channel_min": [0, 0], "channel_max": [0, null]}}})",
       "channel_max holds a non-number"},
      {R"({"activations": {"x": {"absmax": 1, "channel_absmax": [1, 1], "channel_min": [0, 0]}}})",
       "channel_min and channel_max come together"},
  };
  for (const Bad &c : cases) {
    std::string e = loadError(c.text);
    EXPECT_NE(e.find(c.expected), std::string::npos) << c.text << "\n  gave: " << e;
    EXPECT_NE(e.find(".json: "), std::string::npos) << "names the file: " << e;
  }
}

TEST(CalibrationTest, EveryTruncationFailsCleanly) {
  const std::string full =
      R"({"activations": {"x": {"absmax": 2, "channel_absmax": [1, 2], "channel_sumsq": [3, 4], )"
      R"("rows_counted": 5, "channel_min": [-1, 0], "channel_max": [1, 2]}}})";
  EXPECT_EQ(loadError(full), "");
  for (size_t n = 0; n < full.size(); ++n)
    EXPECT_NE(loadError(full.substr(0, n)), "") << n;
}

} // namespace
