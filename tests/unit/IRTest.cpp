//===- tests/unit/IRTest.cpp - Types, values, ops, builder, verifier ------===//
#include "TestUtil.h"

#include "ir/IR.h"

#include <gtest/gtest.h>

using namespace sqc;

namespace {

TensorType f32(std::initializer_list<Dim> dims) {
  return TensorType(DType::F32, llvm::SmallVector<Dim, 4>(dims));
}

TEST(TypesTest, PrintsStaticSymbolicAndScalar) {
  EXPECT_EQ(f32({Dim::symbol("seq"), 768}).str(), "f32[?seq,768]");
  EXPECT_EQ(TensorType(DType::I4, {}).str(), "i4[]");
  EXPECT_FALSE(f32({Dim::symbol("seq"), 4}).numElements());
  EXPECT_EQ(*f32({3, 4}).numElements(), 12);
}

TEST(TypesTest, NumElementsReportsOverflow) {
  llvm::SmallVector<Dim, 4> dims(8, Dim(kMaxDimSize));
  EXPECT_FALSE(TensorType(DType::F32, dims).numElements());
}

TEST(TypesTest, BroadcastFollowsNumpy) {
  Dim seq = Dim::symbol("seq");
  auto b = broadcastDims({seq, 1}, {64});
  ASSERT_TRUE(b);
  EXPECT_EQ(TensorType(DType::F32, *b).str(), "f32[?seq,64]");
  EXPECT_TRUE(broadcastDims({1}, {seq}));
  EXPECT_FALSE(broadcastDims({seq}, {Dim::symbol("ctx")}));
  EXPECT_FALSE(broadcastDims({3}, {4}));
}

TEST(TypesTest, DTypeNamesRoundTrip) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I8, DType::U8,
                  DType::I32, DType::I4})
    EXPECT_EQ(parseDType(dtypeName(t)), t);
  EXPECT_FALSE(parseDType("f64"));
}

class BuilderTest : public ::testing::Test {
protected:
  void SetUp() override {
    g = m.addGraph(std::make_unique<Graph>("main"));
    x = g->addArgument(f32({Dim::symbol("seq"), 4}), "x");
    w = g->addArgument(f32({3, 4}), "w");
  }
  Module m;
  Graph *g;
  Value *x, *w;
};

TEST_F(BuilderTest, InfersResultTypes) {
  OpBuilder b = OpBuilder::atEnd(*g);
  auto y = b.value(OpKind::Linear, {x, w});
  ASSERT_TRUE(bool(y)) << llvm::toString(y.takeError());
  EXPECT_EQ((*y)->type().str(), "f32[?seq,3]");
  auto q = b.create(OpKind::QuantizeDynamic, {*y});
  ASSERT_TRUE(bool(q));
  EXPECT_EQ((*q)->result(1)->type().str(), "f32[?seq,1]");
}

TEST_F(BuilderTest, RejectsBadOperandsWithAMessage) {
  OpBuilder b = OpBuilder::atEnd(*g);
  Value *w5 = g->addArgument(f32({3, 5}), "w5");
  auto y = b.value(OpKind::Linear, {x, w5});
  ASSERT_FALSE(bool(y));
  EXPECT_NE(llvm::toString(y.takeError()).find("input features differ"),
            std::string::npos);
  EXPECT_TRUE(g->empty()) << "a failed create must not insert anything";
}

TEST_F(BuilderTest, ReplaceAllUsesAndErase) {
  OpBuilder b = OpBuilder::atEnd(*g);
  Value *r1 = cantFail(b.value(OpKind::Relu, {x}));
  Value *r2 = cantFail(b.value(OpKind::Relu, {x}));
  Value *sum = cantFail(b.value(OpKind::Add, {r1, r2}));
  EXPECT_EQ(x->users().size(), 2u);
  r2->replaceAllUsesWith(r1);
  EXPECT_EQ(r1->users().size(), 2u);
  EXPECT_FALSE(r2->hasUses());
  r2->definingOp()->erase();
  EXPECT_EQ(x->users().size(), 1u);
  EXPECT_EQ(sum->definingOp()->operand(1), r1);
}

TEST_F(BuilderTest, AttributesKeepOpTableOrder) {
  OpBuilder b = OpBuilder::atEnd(*g);
  Value *xr = cantFail(b.value(OpKind::Reshape, {x}, {},
                               {f32({Dim::symbol("seq"), 1, 4})}));
  Value *pos = g->addArgument(TensorType(DType::I32, {Dim::symbol("seq")}));
  Op *rope = cantFail(b.create(OpKind::Rope, {xr, pos},
                               {{"style", "interleaved"}, {"theta", 10.0}}));
  ASSERT_EQ(rope->attrs().size(), 2u);
  EXPECT_EQ(rope->attrs()[0].name, "theta");
  EXPECT_EQ(rope->attrs()[1].name, "style");
  EXPECT_EQ(rope->floatAttr("theta"), 10.0);
}

TEST_F(BuilderTest, DefaultsComeFromTheOpTable) {
  OpBuilder b = OpBuilder::atEnd(*g);
  Op *gelu = cantFail(b.create(OpKind::Gelu, {x}));
  EXPECT_EQ(gelu->stringAttr("approximate"), "none");
  Op *sm = cantFail(b.create(OpKind::Softmax, {x}));
  EXPECT_EQ(sm->intAttr("axis"), -1);
}

TEST_F(BuilderTest, VerifierFindsUseBeforeDefinition) {
  OpBuilder end = OpBuilder::atEnd(*g);
  Value *r = cantFail(end.value(OpKind::Relu, {x}));
  cantFail(end.create(OpKind::Return, {r}));
  g->setResultTypes({r->type()});
  // Insert a user of %r before %r's definition.
  OpBuilder front(*g, g->begin());
  cantFail(front.value(OpKind::Neg, {r}));
  std::string errs;
  llvm::raw_string_ostream os(errs);
  DiagnosticEngine diag(os);
  EXPECT_TRUE(failed(verify(m, diag)));
  EXPECT_NE(errs.find("used before its definition"), std::string::npos) << errs;
}

TEST_F(BuilderTest, VerifierFindsOperandFromAnotherGraph) {
  Graph *other = m.addGraph(std::make_unique<Graph>("other"));
  Value *y = other->addArgument(f32({2}));
  OpBuilder b = OpBuilder::atEnd(*g);
  Value *n = cantFail(b.value(OpKind::Neg, {y}));
  cantFail(b.create(OpKind::Return, {n}));
  g->setResultTypes({n->type()});
  OpBuilder ob = OpBuilder::atEnd(*other);
  cantFail(ob.create(OpKind::Return, {}));
  std::string errs;
  llvm::raw_string_ostream os(errs);
  DiagnosticEngine diag(os);
  EXPECT_TRUE(failed(verify(m, diag)));
  EXPECT_NE(errs.find("comes from another graph"), std::string::npos) << errs;
}

TEST(VerifierTest, ReportsEveryBadOpNotJustTheFirst) {
  std::string errors;
  auto m = test::parseAndVerify(R"(graph @g(%x: f32[4]) -> (f32[4]) {
  %a = neg %x : f32[5]
  %b = relu %x : f32[6]
  return %x
})", errors);
  EXPECT_FALSE(m);
  EXPECT_NE(errors.find("test.sqir:2:8: error: 'neg' op result #0 is declared "
                        "f32[5] but the op produces f32[4]"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("test.sqir:3:8:"), std::string::npos) << errors;
}

TEST(VerifierTest, ChecksReturnAgainstSignature) {
  EXPECT_EQ(test::firstError("graph @g(%x: f32[4]) -> (f32[5]) {\n  return %x\n}"),
            "test.sqir:2:3: error: 'return' operand #0 has type f32[4] but graph "
            "'@g' returns f32[5]");
  EXPECT_EQ(test::firstError("graph @g(%x: f32[4]) -> () {\n}"),
            "test.sqir:1:1: error: graph '@g' must end with 'return'");
}

} // namespace
