//===- ir/IR.cpp - Values, ops, graphs and modules ------------------------===//
#include "ir/IR.h"

#include "ir/TypeRules.h"

#include <algorithm>
#include <cassert>

namespace sqc {

//===----------------------------------------------------------------------===//
// Value
//===----------------------------------------------------------------------===//

Graph *Value::graph() const { return def_ ? def_->graph() : graph_; }

void Value::removeUser(Op *op) {
  auto it = std::find(users_.begin(), users_.end(), op);
  assert(it != users_.end() && "use list out of sync");
  users_.erase(it);
}

void Value::replaceAllUsesWith(Value *other) {
  if (other == this)
    return;
  // Copy: setOperand edits users_.
  std::vector<Op *> users = users_;
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  for (Op *user : users)
    for (unsigned i = 0; i < user->numOperands(); ++i)
      if (user->operand(i) == this)
        user->setOperand(i, other);
}

//===----------------------------------------------------------------------===//
// Op
//===----------------------------------------------------------------------===//

std::unique_ptr<Op> Op::create(OpKind kind, llvm::ArrayRef<Value *> operands,
                               llvm::ArrayRef<TensorType> resultTypes,
                               std::vector<NamedAttr> attrs, Location loc) {
  std::unique_ptr<Op> op(new Op(kind, loc));
  for (Value *v : operands) {
    op->operands_.push_back(v);
    v->users_.push_back(op.get());
  }
  for (unsigned i = 0; i < resultTypes.size(); ++i)
    op->results_.emplace_back(new Value(resultTypes[i], op.get(), nullptr, i));
  for (NamedAttr &a : attrs)
    op->setAttr(a.name, std::move(a.value));
  return op;
}

Op::~Op() { dropOperands(); }

void Op::setOperand(unsigned i, Value *v) {
  operands_[i]->removeUser(this);
  operands_[i] = v;
  v->users_.push_back(this);
}

void Op::dropOperands() {
  for (Value *v : operands_)
    v->removeUser(this);
  operands_.clear();
}

const Attribute *Op::attr(llvm::StringRef name) const {
  for (const NamedAttr &a : attrs_)
    if (a.name == name)
      return &a.value;
  return nullptr;
}

void Op::setAttr(llvm::StringRef name, Attribute value) {
  for (NamedAttr &a : attrs_)
    if (a.name == name) {
      a.value = std::move(value);
      return;
    }
  // Keep the op table's order, so printing is canonical whatever order the
  // attributes were written or set in; unknown names go last.
  const std::vector<AttrSpec> &specs = info().attrs;
  auto rank = [&](llvm::StringRef n) {
    for (size_t i = 0; i < specs.size(); ++i)
      if (specs[i].name == n)
        return i;
    return specs.size();
  };
  size_t r = rank(name);
  auto pos = std::find_if(attrs_.begin(), attrs_.end(),
                          [&](const NamedAttr &a) { return rank(a.name) > r; });
  attrs_.insert(pos, NamedAttr{name.str(), std::move(value)});
}

void Op::removeAttr(llvm::StringRef name) {
  attrs_.erase(std::remove_if(attrs_.begin(), attrs_.end(),
                              [&](const NamedAttr &a) { return a.name == name; }),
               attrs_.end());
}

const Attribute &Op::attrOrDefault(llvm::StringRef name) const {
  if (const Attribute *a = attr(name))
    return *a;
  const AttrSpec *spec = info().findAttr(name);
  assert(spec && spec->defaultValue && "attribute has no value and no default");
  return *spec->defaultValue;
}

int64_t Op::intAttr(llvm::StringRef name) const {
  return attrOrDefault(name).getInt();
}
double Op::floatAttr(llvm::StringRef name) const {
  return attrOrDefault(name).getFloat();
}
bool Op::boolAttr(llvm::StringRef name) const {
  return attrOrDefault(name).getBool();
}
llvm::StringRef Op::stringAttr(llvm::StringRef name) const {
  return attrOrDefault(name).getString();
}
llvm::ArrayRef<int64_t> Op::intArrayAttr(llvm::StringRef name) const {
  return attrOrDefault(name).getIntArray();
}

void Op::erase() {
#ifndef NDEBUG
  for (auto &r : results_)
    assert(!r->hasUses() && "erasing an op whose results are still used");
#endif
  dropOperands();
  if (graph_)
    graph_->ops().erase(getIterator());
  else
    delete this;
}

//===----------------------------------------------------------------------===//
// Graph and Module
//===----------------------------------------------------------------------===//

Graph::~Graph() {
  // Ops may use each other's results in any order: drop every use first.
  for (Op &op : ops_)
    op.dropOperands();
}

Value *Graph::addArgument(TensorType type, std::string name) {
  args_.emplace_back(new Value(std::move(type), nullptr, this, args_.size()));
  args_.back()->setName(std::move(name));
  return args_.back().get();
}

Op *Graph::returnOp() const {
  if (ops_.empty() || ops_.back().kind() != OpKind::Return)
    return nullptr;
  return const_cast<Op *>(&ops_.back());
}

bool Graph::eraseDeadOps() {
  bool erased = false;
  for (auto it = ops_.rbegin(); it != ops_.rend();) {
    Op &op = *it++;
    bool used = op.kind() == OpKind::Return;
    for (unsigned i = 0; i < op.numResults() && !used; ++i)
      used = op.result(i)->hasUses();
    if (!used) {
      op.erase();
      erased = true;
    }
  }
  return erased;
}

Op *Graph::insert(iterator pos, std::unique_ptr<Op> op) {
  op->graph_ = this;
  Op *raw = op.release();
  ops_.insert(pos, raw);
  return raw;
}

Graph *Module::addGraph(std::unique_ptr<Graph> g) {
  g->module_ = this;
  graphs_.push_back(std::move(g));
  return graphs_.back().get();
}

Graph *Module::lookupGraph(llvm::StringRef name) const {
  for (const auto &g : graphs_)
    if (g->name() == name)
      return g.get();
  return nullptr;
}

void Module::setAttr(llvm::StringRef name, Attribute value) {
  for (NamedAttr &a : attrs_)
    if (a.name == name) {
      a.value = std::move(value);
      return;
    }
  attrs_.push_back(NamedAttr{name.str(), std::move(value)});
}

const Attribute *Module::attr(llvm::StringRef name) const {
  for (const NamedAttr &a : attrs_)
    if (a.name == name)
      return &a.value;
  return nullptr;
}

//===----------------------------------------------------------------------===//
// OpBuilder
//===----------------------------------------------------------------------===//

llvm::Error inferResultTypes(const Op &op, llvm::ArrayRef<TensorType> declared,
                             llvm::SmallVectorImpl<TensorType> &results) {
  results.clear();
  if (llvm::Error e = checkAgainstOpTable(op))
    return e;
  return op.info().rule(op, declared, results);
}

llvm::Expected<Op *> OpBuilder::create(OpKind kind,
                                       llvm::ArrayRef<Value *> operands,
                                       std::vector<NamedAttr> attrs,
                                       llvm::ArrayRef<TensorType> resultTypes) {
  std::unique_ptr<Op> op = Op::create(kind, operands, {}, std::move(attrs), loc_);
  llvm::SmallVector<TensorType, 2> types;
  if (llvm::Error e = inferResultTypes(*op, resultTypes, types))
    return e;
  for (unsigned i = 0; i < types.size(); ++i)
    op->results_.emplace_back(new Value(types[i], op.get(), nullptr, i));
  return graph_->insert(pos_, std::move(op));
}

llvm::Expected<Value *> OpBuilder::value(OpKind kind,
                                         llvm::ArrayRef<Value *> operands,
                                         std::vector<NamedAttr> attrs,
                                         llvm::ArrayRef<TensorType> resultTypes) {
  llvm::Expected<Op *> op = create(kind, operands, std::move(attrs), resultTypes);
  if (!op)
    return op.takeError();
  assert((*op)->numResults() == 1 && "value() needs a single-result op");
  return (*op)->result();
}

} // namespace sqc
