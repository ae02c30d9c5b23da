//===- runtime/ConstEval.cpp - Values computable before the graph runs ----===//
#include "runtime/ConstEval.h"

#include "runtime/Interpreter.h"

#include "llvm/ADT/DenseSet.h"

namespace sqc {

bool isCompileTimeValue(const Value *v) {
  // Walk producers; graphs are DAGs, so a worklist with a visited set ends.
  llvm::SmallVector<const Value *, 8> work = {v};
  llvm::DenseSet<const Op *> seen;
  while (!work.empty()) {
    const Op *def = work.pop_back_val()->definingOp();
    if (!def)
      return false; // a graph argument
    if (!seen.insert(def).second)
      continue;
    if (def->kind() == OpKind::Weight || def->kind() == OpKind::Constant)
      continue;
    for (const Value *o : def->operands())
      work.push_back(o);
  }
  return true;
}

llvm::Expected<const Tensor *> ConstEvaluator::evaluate(const Value *v) {
  if (auto it = cache_.find(v); it != cache_.end())
    return &it->second;
  const Op *def = v->definingOp();
  if (!def)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "value is a graph argument, not known at compile time");
  if (def->kind() == OpKind::Weight) {
    if (!weights_)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "no weights are loaded for weight '" +
                                         def->stringAttr("name").str() + "'");
    // The store keeps its tensors for its lifetime: no copy here.
    return weights_->get(def->stringAttr("name"), v->type());
  }
  std::vector<const Tensor *> in;
  for (const Value *o : def->operands()) {
    auto t = evaluate(o);
    if (!t)
      return t.takeError();
    in.push_back(*t);
  }
  std::vector<Tensor> fast;
  if (fast_ && fast_(*def, in, fast) && fast.size() == def->numResults()) {
    for (unsigned i = 0; i < def->numResults(); ++i)
      cache_[def->result(i)] = std::move(fast[i]);
    return &cache_[v];
  }
  auto out = evaluateOp(*def, llvm::ArrayRef<const Tensor *>(in));
  if (!out)
    return out.takeError();
  for (unsigned i = 0; i < def->numResults(); ++i)
    cache_[def->result(i)] = std::move((*out)[i]);
  return &cache_[v];
}

} // namespace sqc
