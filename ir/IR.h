//===- ir/IR.h - Values, ops, graphs and modules ----------------*- C++ -*-===//
//
// A module holds graphs (e.g. `prefill` and `decode`); a graph is a list of
// ops in SSA form, ending with `return`. Values are graph arguments or op
// results; each value knows its users, so passes can replace and erase.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_IR_IR_H
#define SQC_IR_IR_H

#include "ir/Attributes.h"
#include "ir/Diagnostics.h"
#include "ir/OpInfo.h"
#include "ir/Types.h"

#include "llvm/ADT/ilist.h"
#include "llvm/ADT/ilist_node.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace sqc {

class Graph;
class Module;
class Op;

/// An SSA value: a graph argument or an op result.
class Value {
public:
  const TensorType &type() const { return type_; }
  void setType(TensorType t) { type_ = std::move(t); }
  /// The name given in the text or by an importer (empty if none). Names are
  /// what calibration statistics are keyed by, so passes keep them.
  llvm::StringRef name() const { return name_; }
  void setName(std::string n) { name_ = std::move(n); }

  /// The op that produces this value; null for graph arguments.
  Op *definingOp() const { return def_; }
  bool isArgument() const { return def_ == nullptr; }
  /// Result number, or argument number for graph arguments.
  unsigned index() const { return index_; }
  Graph *graph() const;

  /// One entry per use: an op that uses a value twice appears twice.
  const std::vector<Op *> &users() const { return users_; }
  bool hasUses() const { return !users_.empty(); }
  /// Makes every user of this value use `other` instead.
  void replaceAllUsesWith(Value *other);

private:
  friend class Op;
  friend class Graph;
  friend class OpBuilder;
  Value(TensorType type, Op *def, Graph *graph, unsigned index)
      : type_(std::move(type)), def_(def), graph_(graph), index_(index) {}
  void removeUser(Op *op);

  TensorType type_;
  std::string name_;
  Op *def_;
  Graph *graph_; // for arguments; results ask their op
  unsigned index_;
  std::vector<Op *> users_;
};

/// An operation: kind, operands, results, attributes and source location.
class Op : public llvm::ilist_node<Op> {
public:
  /// Creates an op that belongs to no graph yet. Result types are taken as
  /// given (see OpBuilder for creation with type inference).
  static std::unique_ptr<Op> create(OpKind kind, llvm::ArrayRef<Value *> operands,
                                    llvm::ArrayRef<TensorType> resultTypes,
                                    std::vector<NamedAttr> attrs,
                                    Location loc);
  ~Op();
  Op(const Op &) = delete;
  Op &operator=(const Op &) = delete;

  OpKind kind() const { return kind_; }
  const OpInfo &info() const { return opInfo(kind_); }
  llvm::StringRef mnemonic() const { return info().mnemonic; }
  Location loc() const { return loc_; }
  void setLoc(Location l) { loc_ = l; }
  Graph *graph() const { return graph_; }

  unsigned numOperands() const { return operands_.size(); }
  Value *operand(unsigned i) const { return operands_[i]; }
  llvm::ArrayRef<Value *> operands() const { return operands_; }
  void setOperand(unsigned i, Value *v);
  /// Drops all operands, so the values they name lose this user.
  void dropOperands();

  unsigned numResults() const { return results_.size(); }
  Value *result(unsigned i = 0) const { return results_[i].get(); }

  /// Attributes in the order the op table declares them.
  const std::vector<NamedAttr> &attrs() const { return attrs_; }
  const Attribute *attr(llvm::StringRef name) const;
  void setAttr(llvm::StringRef name, Attribute value);
  void removeAttr(llvm::StringRef name);
  /// Typed reads that fall back to the op table's default; the verifier has
  /// checked kinds, so these assert rather than fail.
  int64_t intAttr(llvm::StringRef name) const;
  double floatAttr(llvm::StringRef name) const;
  bool boolAttr(llvm::StringRef name) const;
  llvm::StringRef stringAttr(llvm::StringRef name) const;
  llvm::ArrayRef<int64_t> intArrayAttr(llvm::StringRef name) const;

  /// Removes this op from its graph and deletes it. Its results must be
  /// unused.
  void erase();

private:
  Op(OpKind kind, Location loc) : kind_(kind), loc_(loc) {}
  const Attribute &attrOrDefault(llvm::StringRef name) const;
  friend class Graph;
  friend class OpBuilder;

  OpKind kind_;
  Location loc_;
  Graph *graph_ = nullptr;
  std::vector<Value *> operands_;
  std::vector<std::unique_ptr<Value>> results_;
  std::vector<NamedAttr> attrs_;
};

/// A function-like dataflow graph: typed arguments, ops, one `return`.
class Graph {
public:
  using OpList = llvm::iplist<Op>;
  using iterator = OpList::iterator;

  Graph(std::string name, Location loc = {}) : name_(std::move(name)), loc_(loc) {}
  ~Graph();

  llvm::StringRef name() const { return name_; }
  void setName(std::string n) { name_ = std::move(n); }
  Location loc() const { return loc_; }
  Module *module() const { return module_; }

  Value *addArgument(TensorType type, std::string name = "");
  unsigned numArguments() const { return args_.size(); }
  Value *argument(unsigned i) const { return args_[i].get(); }

  /// The result types in the graph's signature.
  const std::vector<TensorType> &resultTypes() const { return resultTypes_; }
  void setResultTypes(std::vector<TensorType> t) { resultTypes_ = std::move(t); }

  OpList &ops() { return ops_; }
  const OpList &ops() const { return ops_; }
  iterator begin() { return ops_.begin(); }
  iterator end() { return ops_.end(); }
  bool empty() const { return ops_.empty(); }
  /// The terminating `return`, or null if the graph does not end with one.
  Op *returnOp() const;

  /// Erases every op none of whose results is used (except `return`), last
  /// to first so that whole dead chains go in one sweep. Returns whether any
  /// op was erased.
  bool eraseDeadOps();

  /// Takes ownership of `op` and inserts it before `pos`.
  Op *insert(iterator pos, std::unique_ptr<Op> op);
  Op *append(std::unique_ptr<Op> op) { return insert(end(), std::move(op)); }

private:
  friend class Module;
  std::string name_;
  Location loc_;
  Module *module_ = nullptr;
  std::vector<std::unique_ptr<Value>> args_;
  std::vector<TensorType> resultTypes_;
  OpList ops_;
};

/// A compilation unit: graphs plus module attributes (e.g. the weights file).
class Module {
public:
  Module() = default;
  Module(const Module &) = delete;

  std::vector<std::unique_ptr<Graph>> &graphs() { return graphs_; }
  const std::vector<std::unique_ptr<Graph>> &graphs() const { return graphs_; }
  Graph *addGraph(std::unique_ptr<Graph> g);
  Graph *lookupGraph(llvm::StringRef name) const;

  /// Module attributes, e.g. `weights = "model.safetensors"`.
  std::vector<NamedAttr> &attrs() { return attrs_; }
  const std::vector<NamedAttr> &attrs() const { return attrs_; }
  const Attribute *attr(llvm::StringRef name) const;
  void setAttr(llvm::StringRef name, Attribute value);

private:
  std::vector<std::unique_ptr<Graph>> graphs_;
  std::vector<NamedAttr> attrs_;
};

/// Creates ops at an insertion point, inferring result types from the op
/// table's rule when none are given.
class OpBuilder {
public:
  OpBuilder(Graph &g, Graph::iterator pos, Location loc = {})
      : graph_(&g), pos_(pos), loc_(loc) {}
  /// Inserts before `op`, at its location.
  static OpBuilder before(Op *op) {
    return OpBuilder(*op->graph(), op->getIterator(), op->loc());
  }
  static OpBuilder atEnd(Graph &g) { return OpBuilder(g, g.end(), g.loc()); }

  void setLoc(Location l) { loc_ = l; }
  llvm::Expected<Op *> create(OpKind kind, llvm::ArrayRef<Value *> operands,
                              std::vector<NamedAttr> attrs = {},
                              llvm::ArrayRef<TensorType> resultTypes = {});
  /// create() for single-result ops, returning the result.
  llvm::Expected<Value *> value(OpKind kind, llvm::ArrayRef<Value *> operands,
                                std::vector<NamedAttr> attrs = {},
                                llvm::ArrayRef<TensorType> resultTypes = {});

private:
  Graph *graph_;
  Graph::iterator pos_;
  Location loc_;
};

/// Runs the op's type rule: the result types the op should have, given its
/// operands, attributes and the declared result types.
llvm::Error inferResultTypes(const Op &op, llvm::ArrayRef<TensorType> declared,
                             llvm::SmallVectorImpl<TensorType> &results);

} // namespace sqc

#endif // SQC_IR_IR_H
