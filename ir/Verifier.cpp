//===- ir/Verifier.cpp - Checks a module's invariants ---------------------===//
#include "ir/Verifier.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"

namespace sqc {

namespace {

/// Verifies one op whose operands are known to be defined.
bool verifyOp(const Op &op, DiagnosticEngine &diag) {
  auto opError = [&](const llvm::Twine &msg) {
    diag.error(op.loc(), "'" + op.mnemonic() + "' op " + msg);
    return false;
  };
  llvm::SmallVector<TensorType, 2> declared, inferred;
  for (unsigned i = 0; i < op.numResults(); ++i)
    declared.push_back(op.result(i)->type());
  if (op.numResults() != op.info().numResults)
    return opError("has " + llvm::Twine(op.numResults()) +
                   " results, the op table says " +
                   llvm::Twine(op.info().numResults));
  if (llvm::Error e = inferResultTypes(op, declared, inferred))
    return opError(llvm::toString(std::move(e)));
  for (unsigned i = 0; i < declared.size(); ++i)
    if (declared[i] != inferred[i])
      return opError("result #" + llvm::Twine(i) + " is declared " +
                     declared[i].str() + " but the op produces " +
                     inferred[i].str());
  return true;
}

} // namespace

llvm::LogicalResult verify(const Graph &g, DiagnosticEngine &diag) {
  unsigned before = diag.numErrors();
  llvm::DenseSet<const Value *> defined;
  for (unsigned i = 0; i < g.numArguments(); ++i)
    defined.insert(g.argument(i));

  const Op *ret = g.returnOp();
  if (!ret)
    diag.error(g.empty() ? g.loc() : g.ops().back().loc(),
               "graph '@" + g.name() + "' must end with 'return'");

  for (const Op &op : g.ops()) {
    if (op.kind() == OpKind::Return && &op != ret)
      diag.error(op.loc(), "'return' must be the last op of its graph");
    bool operandsOk = true;
    for (unsigned i = 0; i < op.numOperands(); ++i) {
      const Value *v = op.operand(i);
      if (!defined.contains(v)) {
        diag.error(op.loc(),
                   "'" + op.mnemonic() + "' op operand #" + llvm::Twine(i) +
                       (v->graph() != &g ? " comes from another graph"
                                         : " is used before its definition"));
        operandsOk = false;
      }
    }
    if (operandsOk)
      verifyOp(op, diag);
    for (unsigned i = 0; i < op.numResults(); ++i)
      defined.insert(op.result(i));
  }

  if (ret) {
    const auto &sig = g.resultTypes();
    if (ret->numOperands() != sig.size()) {
      diag.error(ret->loc(), "'return' has " + llvm::Twine(ret->numOperands()) +
                                 (ret->numOperands() == 1 ? " operand" : " operands") +
                                 " but graph '@" + g.name() + "' returns " +
                                 llvm::Twine(sig.size()) +
                                 (sig.size() == 1 ? " value" : " values"));
    } else {
      for (unsigned i = 0; i < sig.size(); ++i)
        if (ret->operand(i)->type() != sig[i])
          diag.error(ret->loc(), "'return' operand #" + llvm::Twine(i) +
                                     " has type " +
                                     ret->operand(i)->type().str() +
                                     " but graph '@" + g.name() +
                                     "' returns " + sig[i].str());
    }
  }
  return llvm::success(diag.numErrors() == before);
}

llvm::LogicalResult verify(const Module &m, DiagnosticEngine &diag) {
  unsigned before = diag.numErrors();
  llvm::StringSet<> names;
  for (const auto &g : m.graphs()) {
    if (!names.insert(g->name()).second)
      diag.error(g->loc(), "redefinition of graph '@" + g->name() + "'");
    (void)verify(*g, diag);
  }
  return llvm::success(diag.numErrors() == before);
}

} // namespace sqc
