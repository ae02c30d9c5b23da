//===- tests/unit/PassManagerTest.cpp - Pipelines and the pass manager ----===//
#include "TestUtil.h"

#include "passes/PassManager.h"
#include "passes/Passes.h"
#include "runtime/Interpreter.h"

#include "llvm/ADT/DenseMap.h"

#include <cmath>

#include <gtest/gtest.h>

using namespace sqc;

namespace {

std::string pipelineError(llvm::StringRef text) {
  std::string errors;
  llvm::raw_string_ostream os(errors);
  DiagnosticEngine diag(os);
  EXPECT_FALSE(parsePipeline(text, diag)) << text.str();
  return errors.substr(0, errors.find('\n'));
}

TEST(PipelineTest, ParsesOptionsAndGroups) {
  DiagnosticEngine diag;
  auto p = parsePipeline(
      "dce,fold-constants{max-elements=64},fixpoint(canonicalize,cse){max-iterations=3}",
      diag);
  ASSERT_TRUE(p);
  EXPECT_EQ(pipelineToString(*p),
            "dce,fold-constants{max-elements=64},fixpoint(canonicalize{max-"
            "iterations=10},cse){max-iterations=3}");
}

TEST(PipelineTest, EmptyPipelineIsFine) {
  DiagnosticEngine diag;
  auto p = parsePipeline("", diag);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->empty());
}

TEST(PipelineTest, ErrorsPointAtTheBadSpot) {
  EXPECT_EQ(pipelineError("dce,nope"),
            "<passes>:1:5: error: unknown pass 'nope' (see --list-passes)");
  EXPECT_EQ(pipelineError("fold-constants{max-elements=x}"),
            "<passes>:1:16: error: option 'max-elements' of pass "
            "'fold-constants': expected an integer, got 'x'");
  EXPECT_EQ(pipelineError("dce{a=1}"),
            "<passes>:1:5: error: pass 'dce' has no option 'a' (it takes none)");
  EXPECT_EQ(pipelineError("fixpoint(dce"),
            "<passes>:1:13: error: expected ')' to close 'fixpoint('");
  EXPECT_EQ(pipelineError("dce,"), "<passes>:1:5: error: expected a pass name");
  EXPECT_EQ(pipelineError("dce cse"),
            "<passes>:1:4: error: expected ',' between passes");
  std::string deep;
  for (int i = 0; i < 40; ++i)
    deep += "fixpoint(";
  EXPECT_NE(pipelineError(deep + "dce").find("nests deeper than 16"),
            std::string::npos);
}

/// A pass that breaks the IR on purpose: declares a wrong result type.
class BreakTypesPass : public Pass {
public:
  BreakTypesPass() : Pass("break-types") {}
  PassResult run(Module &m, PassContext &) override {
    for (auto &g : m.graphs())
      for (Op &op : g->ops())
        if (op.numResults()) {
          op.result()->setType(TensorType(DType::I8, {}));
          return PassResult::Changed;
        }
    return PassResult::Unchanged;
  }
};

const char *kModule = "graph @g(%x: f32[4]) -> (f32[4]) {\n"
                      "  %a = neg %x\n  %dead = exp %x\n  return %a\n}\n";

TEST(PassManagerTest, VerifyEachCatchesABrokenPass) {
  std::string errors;
  auto m = test::parseAndVerify(kModule, errors);
  ASSERT_TRUE(m);
  llvm::raw_string_ostream os(errors);
  DiagnosticEngine diag(os);
  PassManagerOptions opts;
  opts.verifyEach = true;
  PassManager pm(opts);
  std::vector<PipelineNode> nodes(1);
  nodes[0].pass = std::make_unique<BreakTypesPass>();
  pm.setPipeline(std::move(nodes));
  PassContext ctx{diag};
  EXPECT_TRUE(failed(pm.run(*m, ctx)));
  EXPECT_NE(errors.find("does not verify after pass 'break-types'"),
            std::string::npos)
      << errors;
}

TEST(PassManagerTest, StopAfterRunsOnlyNPasses) {
  std::string errors;
  auto m = test::parseAndVerify(kModule, errors);
  ASSERT_TRUE(m);
  llvm::raw_string_ostream os(errors);
  DiagnosticEngine diag(os);
  PassManagerOptions opts;
  opts.stopAfter = 1;
  PassManager pm(opts);
  pm.setPipeline(std::move(*parsePipeline("cse,dce", diag)));
  PassContext ctx{diag};
  EXPECT_TRUE(succeeded(pm.run(*m, ctx)));
  EXPECT_EQ(pm.executions(), 1);
  EXPECT_NE(toString(*m).find("%dead"), std::string::npos) << "dce must not run";
}

TEST(PassManagerTest, PrintAfterDumpsTheModule) {
  std::string errors, dump;
  auto m = test::parseAndVerify(kModule, errors);
  ASSERT_TRUE(m);
  llvm::raw_string_ostream dumpOs(dump);
  DiagnosticEngine diag;
  PassManagerOptions opts;
  opts.printAfter = {"dce"};
  opts.dumpStream = &dumpOs;
  PassManager pm(opts);
  pm.setPipeline(std::move(*parsePipeline("cse,dce", diag)));
  PassContext ctx{diag};
  ASSERT_TRUE(succeeded(pm.run(*m, ctx)));
  EXPECT_EQ(dump.find("IR Dump After cse"), std::string::npos);
  EXPECT_NE(dump.find("// -----// IR Dump After dce //----- //\ngraph @g"),
            std::string::npos)
      << dump;
  EXPECT_EQ(dump.find("%dead"), std::string::npos);
}

TEST(PassManagerTest, FixpointStopsWhenNothingChanges) {
  std::string errors;
  auto m = test::parseAndVerify(kModule, errors);
  ASSERT_TRUE(m);
  DiagnosticEngine diag;
  PassManager pm;
  pm.setPipeline(std::move(*parsePipeline("fixpoint(dce,cse){max-iterations=50}", diag)));
  PassContext ctx{diag};
  ASSERT_TRUE(succeeded(pm.run(*m, ctx)));
  // Round 1 changes (dce), round 2 changes nothing: 4 executions in all.
  EXPECT_EQ(pm.executions(), 4);
}

/// fold-constants must agree with the interpreter on the unfolded graph.
TEST(FoldConstantsTest, AgreesWithTheInterpreter) {
  const char *src =
      "graph @g() -> (f32[2,3]) {\n"
      "  %a = constant {value = dense<[1.0, -2.0, 3.0, 0.5, 0.25, -1.0]>} : f32[2,3]\n"
      "  %w = constant {value = dense<[0.5, 1.0, -1.0, 2.0, 0.0, 1.5, 1.0, 1.0, 1.0]>} : f32[3,3]\n"
      "  %y = linear %a, %w\n  %s = softmax %y\n  %t = gelu %s {approximate = \"tanh\"}\n"
      "  return %t\n}\n";
  std::string errors;
  auto m = test::parseAndVerify(src, errors);
  ASSERT_TRUE(m) << errors;
  // Evaluate op by op with the interpreter.
  llvm::DenseMap<const Value *, Tensor> env;
  const Value *resultValue = nullptr;
  for (const Op &op : m->graphs()[0]->ops()) {
    if (op.kind() == OpKind::Return) {
      resultValue = op.operand(0);
      break;
    }
    std::vector<Tensor> in;
    for (const Value *v : op.operands())
      in.push_back(env[v]);
    auto out = evaluateOp(op, in);
    ASSERT_TRUE(bool(out)) << llvm::toString(out.takeError());
    env[op.result()] = (*out)[0];
  }
  Tensor expected = env[resultValue];

  DiagnosticEngine diag;
  PassManager pm;
  pm.setPipeline(std::move(*parsePipeline("fold-constants,dce", diag)));
  PassContext ctx{diag};
  ASSERT_TRUE(succeeded(pm.run(*m, ctx)));
  const Graph &g = *m->graphs()[0];
  ASSERT_EQ(g.ops().size(), 2u) << toString(*m);
  Tensor folded = constantValue(g.ops().front());
  ASSERT_EQ(folded.numElements(), expected.numElements());
  for (int64_t i = 0; i < folded.numElements(); ++i)
    EXPECT_EQ(folded.get(i), expected.get(i)) << i;
  // The text keeps every bit: parse the printed module and compare again.
  auto reparsed = test::parseAndVerify(toString(*m), errors);
  ASSERT_TRUE(reparsed) << errors;
  Tensor again = constantValue(reparsed->graphs()[0]->ops().front());
  for (int64_t i = 0; i < folded.numElements(); ++i)
    EXPECT_EQ(again.get(i), folded.get(i)) << i;
}

TEST(InterpreterTest, QuantizeRoundsHalfToEvenAndSaturates) {
  std::string errors;
  auto m = test::parseAndVerify(
      "graph @g(%x: f32[6], %s: f32[]) -> (i8[6]) {\n"
      "  %q = quantize %x, %s : i8[6]\n  return %q\n}\n",
      errors);
  ASSERT_TRUE(m) << errors;
  Tensor x(DType::F32, {6}), s(DType::F32, {});
  double xs[] = {0.5, 1.5, 2.5, -0.5, 1000, -1000};
  for (int i = 0; i < 6; ++i)
    x.set(i, xs[i]);
  s.set(0, 1.0);
  auto out = evaluateOp(m->graphs()[0]->ops().front(), {x, s});
  ASSERT_TRUE(bool(out));
  int expected[] = {0, 2, 2, 0, 127, -128};
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ((*out)[0].get(i), expected[i]) << i;
}

TEST(InterpreterTest, RoundsToHalfPrecisionTypes) {
  EXPECT_EQ(roundToDType(1.0 + 1.0 / 2048, DType::F16), 1.0f); // tie to even
  EXPECT_EQ(roundToDType(1.0 + 3.0 / 2048, DType::F16), 1.0f + 2.0f / 1024);
  EXPECT_EQ(roundToDType(1.0 + 1.0 / 256, DType::BF16), 1.0f);
  EXPECT_TRUE(std::isinf(roundToDType(70000.0, DType::F16)));
}

} // namespace
