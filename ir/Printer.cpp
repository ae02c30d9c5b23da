//===- ir/Printer.cpp - Writes the textual IR -----------------------------===//
#include "ir/Printer.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"

namespace sqc {

namespace {

/// Assigns each value of a graph its printed name.
class NameTable {
public:
  explicit NameTable(const Graph &g) {
    for (unsigned i = 0; i < g.numArguments(); ++i)
      assign(g.argument(i));
    for (const Op &op : g.ops())
      for (unsigned i = 0; i < op.numResults(); ++i)
        assign(op.result(i));
  }
  const std::string &name(const Value *v) const {
    static const std::string unknown = "<<unknown value>>";
    auto it = names_.find(v);
    return it == names_.end() ? unknown : it->second;
  }

private:
  void assign(const Value *v) {
    if (v->name().empty()) {
      names_[v] = "%" + std::to_string(next_++);
      return;
    }
    std::string n = v->name().str();
    for (unsigned k = 1; used_.contains(n); ++k)
      n = v->name().str() + "." + std::to_string(k);
    used_.insert(n);
    names_[v] = "%" + n;
  }
  llvm::DenseMap<const Value *, std::string> names_;
  llvm::StringSet<> used_;
  unsigned next_ = 0;
};

void printAttrDict(const std::vector<NamedAttr> &attrs, llvm::raw_ostream &os,
                   const Op *op) {
  os << "{";
  bool intElements = false, f32Elements = false;
  if (op && op->numResults() > 0) {
    DType t = op->result(0)->type().dtype();
    intElements = isInteger(t);
    f32Elements = t == DType::F32;
  }
  for (size_t i = 0; i < attrs.size(); ++i)
    os << (i ? ", " : "") << attrs[i].name << " = "
       << formatAttribute(attrs[i].value, intElements, f32Elements);
  os << "}";
}

} // namespace

void printGraph(const Graph &g, llvm::raw_ostream &os) {
  NameTable names(g);
  os << "graph @" << g.name() << "(";
  for (unsigned i = 0; i < g.numArguments(); ++i)
    os << (i ? ", " : "") << names.name(g.argument(i)) << ": "
       << g.argument(i)->type().str();
  os << ") -> (";
  for (size_t i = 0; i < g.resultTypes().size(); ++i)
    os << (i ? ", " : "") << g.resultTypes()[i].str();
  os << ") {\n";
  for (const Op &op : g.ops()) {
    os << "  ";
    for (unsigned i = 0; i < op.numResults(); ++i)
      os << (i ? ", " : "") << names.name(op.result(i));
    if (op.numResults())
      os << " = ";
    os << op.mnemonic();
    for (unsigned i = 0; i < op.numOperands(); ++i)
      os << (i ? ", " : " ") << names.name(op.operand(i));
    if (!op.attrs().empty()) {
      os << " ";
      printAttrDict(op.attrs(), os, &op);
    }
    for (unsigned i = 0; i < op.numResults(); ++i)
      os << (i ? ", " : " : ") << op.result(i)->type().str();
    os << "\n";
  }
  os << "}\n";
}

void printModule(const Module &m, llvm::raw_ostream &os) {
  bool first = true;
  if (!m.attrs().empty()) {
    os << "module attributes ";
    printAttrDict(m.attrs(), os, nullptr);
    os << "\n";
    first = false;
  }
  for (const auto &g : m.graphs()) {
    if (!first)
      os << "\n";
    first = false;
    printGraph(*g, os);
  }
}

std::string toString(const Module &m) {
  std::string s;
  llvm::raw_string_ostream os(s);
  printModule(m, os);
  return s;
}

} // namespace sqc
