//===- tests/unit/RoundTripTest.cpp - Every op prints and parses back -----===//
//
// Runs once per row of ir/Ops.def: a new op without an example graph in
// ops/all-ops.sqir fails here, so the round-trip contract covers every op.
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"

#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

using namespace sqc;

namespace {

const std::string &examplesText() {
  static const std::string text = [] {
    auto buf = llvm::MemoryBuffer::getFile(SQC_TEST_DIR "/unit/ops/all-ops.sqir");
    return buf ? (*buf)->getBuffer().str() : std::string();
  }();
  return text;
}

/// The text of graph @name in the examples, from `graph` to its `}` line.
std::string exampleGraph(llvm::StringRef name) {
  const std::string &text = examplesText();
  size_t start = text.find("graph @" + name.str() + "(");
  if (start == std::string::npos)
    return "";
  size_t end = text.find("\n}\n", start);
  return text.substr(start, end + 3 - start);
}

class OpRoundTrip : public ::testing::TestWithParam<OpKind> {};

TEST_P(OpRoundTrip, PrintParsePrintIsIdentity) {
  const OpInfo &info = opInfo(GetParam());
  std::string src = exampleGraph(info.mnemonic);
  ASSERT_FALSE(src.empty()) << "tests/unit/ops/all-ops.sqir has no graph @"
                            << info.mnemonic.str() << ": add one for the new op";
  std::string errors;
  auto m = test::parseAndVerify(src, errors);
  ASSERT_TRUE(m) << errors;
  bool found = false;
  for (const Op &op : m->graphs()[0]->ops())
    found |= op.kind() == GetParam();
  EXPECT_TRUE(found) << "graph @" << info.mnemonic.str() << " does not use it";
  std::string printed = toString(*m);
  EXPECT_EQ(printed, src) << "the example is not in canonical form";
  auto again = test::parseAndVerify(printed, errors);
  ASSERT_TRUE(again) << errors;
  EXPECT_EQ(toString(*again), printed);
}

std::vector<OpKind> allKinds() {
  std::vector<OpKind> kinds;
  for (const OpInfo &info : allOps())
    kinds.push_back(info.kind);
  return kinds;
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpRoundTrip, ::testing::ValuesIn(allKinds()),
                         [](const auto &p) {
                           return opInfo(p.param).mnemonic.str();
                         });

TEST(RoundTrip, WholeExamplesFileIsCanonical) {
  std::string errors;
  auto m = test::parseAndVerify(examplesText(), errors);
  ASSERT_TRUE(m) << errors;
  std::string body = examplesText().substr(examplesText().find("graph @"));
  EXPECT_EQ(toString(*m), body);
}

} // namespace
