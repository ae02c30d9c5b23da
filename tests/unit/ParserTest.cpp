//===- tests/unit/ParserTest.cpp - Parser and printer ---------------------===//
#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace sqc;
using test::firstError;

namespace {

std::string roundTrip(llvm::StringRef text) {
  std::string errors;
  auto m = test::parseAndVerify(text, errors);
  EXPECT_TRUE(m) << errors;
  return m ? toString(*m) : "";
}

TEST(ParserTest, InfersOmittedResultTypes) {
  EXPECT_EQ(roundTrip("graph @g(%x: f32[?s,4], %w: f32[2,4]) -> (f32[?s,2]) {\n"
                      "  %y = linear %x, %w\n  return %y\n}\n"),
            "graph @g(%x: f32[?s,4], %w: f32[2,4]) -> (f32[?s,2]) {\n"
            "  %y = linear %x, %w : f32[?s,2]\n  return %y\n}\n");
}

TEST(ParserTest, NumbersAreRenumberedNamesAreKept) {
  EXPECT_EQ(roundTrip("graph @g(%7: f32[4]) -> (f32[4]) {\n"
                      "  %42 = neg %7\n  %keep = neg %42\n  %3 = neg %keep\n"
                      "  return %3\n}\n"),
            "graph @g(%0: f32[4]) -> (f32[4]) {\n"
            "  %1 = neg %0 : f32[4]\n  %keep = neg %1 : f32[4]\n"
            "  %2 = neg %keep : f32[4]\n  return %2\n}\n");
}

TEST(ParserTest, IntegersCoerceToFloatAttributes) {
  EXPECT_NE(roundTrip("graph @g(%x: f32[2,4], %g: f32[4]) -> (f32[2,4]) {\n"
                      "  %y = rms_norm %x, %g {eps = 1}\n  return %y\n}\n")
                .find("{eps = 1.0}"),
            std::string::npos);
}

TEST(ParserTest, AttributeOrderIsCanonical) {
  std::string out = roundTrip(
      "graph @g(%x: f32[2,1,4], %p: i32[2]) -> (f32[2,1,4]) {\n"
      "  %y = rope %x, %p {style = \"interleaved\", theta = 10.0}\n"
      "  return %y\n}\n");
  EXPECT_NE(out.find("{theta = 10.0, style = \"interleaved\"}"), std::string::npos)
      << out;
}

TEST(ParserTest, StringsEscapeAndRoundTrip) {
  std::string src = "module attributes {note = \"a\\\"b\\\\c\\n\\01\"}\n";
  EXPECT_EQ(roundTrip(src), src);
}

TEST(ParserTest, FloatsRoundTripExactly) {
  std::string src =
      "graph @g() -> (f32[6]) {\n"
      "  %c = constant {value = dense<[0.1, 1.0e-05, 500000.0, -0.0, nan, "
      "-inf]>} : f32[6]\n  return %c\n}\n";
  EXPECT_EQ(roundTrip(src), src);
}

TEST(ParserTest, ErrorsNameFileLineAndColumn) {
  EXPECT_EQ(firstError("graph @g() -> () {\n  %x = bogus\n}"),
            "test.sqir:2:8: error: unknown op 'bogus'");
  EXPECT_EQ(firstError("graph @g(%x: f32[4]) -> (f32[4]) {\n  return %y\n}"),
            "test.sqir:2:10: error: use of undefined value '%y'");
  EXPECT_EQ(firstError("graph @g(%x: f32[4]) -> () {\n  %x = neg %x\n}"),
            "test.sqir:2:3: error: redefinition of value '%x'");
  EXPECT_EQ(firstError("graph @g(%x: f65[4]) -> () {}"),
            "test.sqir:1:14: error: unknown element type 'f65'");
  EXPECT_EQ(firstError("graph @g(%x: f32[1099511627777]) -> () {}"),
            "test.sqir:1:18: error: dimension 1099511627777 is out of range [0, 2^40]");
  EXPECT_EQ(firstError("module attributes {a = \"unterminated}"),
            "test.sqir:1:24: error: unterminated string");
  EXPECT_EQ(firstError("graph @g() -> () {\n  return\n"),
            "test.sqir:3:1: error: expected '}' to close graph '@g'");
  EXPECT_EQ(firstError("graph @g() -> () {\n  return\n}\ngraph @g() -> () {\n  return\n}"),
            "test.sqir:4:7: error: redefinition of graph '@g'");
  EXPECT_EQ(firstError("graph @g(%x: f32[2]) -> (f32[2]) {\n"
                       "  %y = softmax %x {axis = 1, axis = 0}\n  return %y\n}"),
            "test.sqir:2:30: error: attribute 'axis' is given twice");
}

TEST(ParserTest, ShowsTheSourceLineAndACaret) {
  std::string errors;
  test::parseAndVerify("graph @g() -> () {\n  %x = bogus\n}", errors);
  EXPECT_NE(errors.find("  %x = bogus\n       ^"), std::string::npos) << errors;
}

TEST(ParserTest, RejectsHugeRank) {
  std::string dims;
  for (int i = 0; i < 17; ++i)
    dims += (i ? ",1" : "1");
  EXPECT_NE(firstError("graph @g(%x: f32[" + dims + "]) -> () {}")
                .find("rank exceeds the maximum of 16"),
            std::string::npos);
}

TEST(ParserTest, EveryPrefixOfAValidModuleFailsCleanly) {
  const std::string src =
      "module attributes {weights = \"m.safetensors\"}\n"
      "graph @g(%x: f32[?s,4], %w: f32[2,4]) -> (f32[?s,2]) {\n"
      "  %c = constant {value = dense<[1.5, -2.0]>} : f32[2]\n"
      "  %y = linear %x, %w : f32[?s,2]\n"
      "  %z = add %y, %c : f32[?s,2]\n"
      "  return %z\n}\n";
  for (size_t n = 0; n < src.size(); ++n) {
    std::string errors;
    auto m = test::parseAndVerify(src.substr(0, n), errors);
    // A prefix that ends between graphs is a valid (smaller) module.
    if (m)
      EXPECT_TRUE(errors.empty());
    else
      EXPECT_NE(errors.find("error:"), std::string::npos) << "prefix " << n;
  }
}

} // namespace
