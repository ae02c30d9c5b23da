//===- ir/OpInfo.cpp - Expands the op table into OpInfo records -----------===//
#include "ir/OpInfo.h"

#include "ir/TypeRules.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/ErrorHandling.h"

#include <cstdlib>

namespace sqc {

namespace {

/// Parses a default value written in the op table. The table is ours, so a
/// malformed entry is a bug in sqc, not a user error.
Attribute parseDefault(const AttrSpec &spec, llvm::StringRef text) {
  switch (spec.kind) {
  case AttrKind::Int: {
    int64_t v;
    if (text.getAsInteger(10, v))
      llvm::report_fatal_error("op table: bad int default");
    return Attribute(v);
  }
  case AttrKind::Float:
    return Attribute(std::strtod(text.str().c_str(), nullptr));
  case AttrKind::Bool:
    return Attribute(text == "true");
  case AttrKind::String:
    return Attribute(text.str());
  default:
    llvm::report_fatal_error("op table: unsupported default kind");
  }
}

AttrSpec parseAttrSpec(llvm::StringRef text) {
  AttrSpec spec;
  auto [name, rest] = text.split(':');
  spec.name = name.str();
  llvm::StringRef kind = rest, def;
  if (size_t eq = rest.find('='); eq != llvm::StringRef::npos) {
    kind = rest.take_front(eq);
    def = rest.drop_front(eq + 1);
    spec.required = false;
  } else if (rest.ends_with("?")) {
    kind = rest.drop_back();
    spec.required = false;
  }
  spec.kindText = kind.str();
  if (kind == "int") spec.kind = AttrKind::Int;
  else if (kind == "float") spec.kind = AttrKind::Float;
  else if (kind == "bool") spec.kind = AttrKind::Bool;
  else if (kind == "string") spec.kind = AttrKind::String;
  else if (kind == "int[]") spec.kind = AttrKind::IntArray;
  else if (kind == "float[]") spec.kind = AttrKind::FloatArray;
  else if (kind == "dense") spec.kind = AttrKind::Dense;
  else if (kind.consume_front("enum(") && kind.consume_back(")")) {
    spec.kind = AttrKind::String;
    llvm::SmallVector<llvm::StringRef, 4> values;
    kind.split(values, '|');
    for (llvm::StringRef v : values)
      spec.enumValues.push_back(v.str());
  } else {
    llvm::report_fatal_error("op table: unknown attribute kind");
  }
  if (!def.empty())
    spec.defaultValue = parseDefault(spec, def);
  return spec;
}

std::vector<OpInfo> buildTable() {
  std::vector<OpInfo> table;
#define OP(Name, Mnemonic, Operands, Results, Attrs, Rule, Doc)                \
  table.push_back(OpInfo{OpKind::Name, Mnemonic, {}, 0, 0, Results, {}, Rule,  \
                         Doc, Operands, Attrs});
#include "ir/Ops.def"
  for (OpInfo &info : table) {
    llvm::SmallVector<llvm::StringRef, 4> operands;
    info.operandText.split(operands, ',', -1, /*KeepEmpty=*/false);
    for (llvm::StringRef o : operands) {
      o = o.trim();
      info.operandNames.push_back(o.str());
      if (o.ends_with("...")) {
        info.maxOperands = ~0u;
      } else if (o.ends_with("?")) {
        ++info.maxOperands;
      } else {
        ++info.minOperands;
        ++info.maxOperands;
      }
    }
    llvm::SmallVector<llvm::StringRef, 4> attrs;
    info.attrText.split(attrs, ' ', -1, /*KeepEmpty=*/false);
    for (llvm::StringRef a : attrs)
      info.attrs.push_back(parseAttrSpec(a));
  }
  return table;
}

} // namespace

const AttrSpec *OpInfo::findAttr(llvm::StringRef name) const {
  for (const AttrSpec &a : attrs)
    if (a.name == name)
      return &a;
  return nullptr;
}

llvm::ArrayRef<OpInfo> allOps() {
  static const std::vector<OpInfo> table = buildTable();
  return table;
}

const OpInfo &opInfo(OpKind kind) { return allOps()[unsigned(kind)]; }

bool isCommutative(OpKind kind) {
  return kind == OpKind::Add || kind == OpKind::Mul || kind == OpKind::Maximum ||
         kind == OpKind::Minimum;
}

const OpInfo *lookupOp(llvm::StringRef mnemonic) {
  static const llvm::StringMap<const OpInfo *> byName = [] {
    llvm::StringMap<const OpInfo *> m;
    for (const OpInfo &info : allOps())
      m[info.mnemonic] = &info;
    return m;
  }();
  auto it = byName.find(mnemonic);
  return it == byName.end() ? nullptr : it->second;
}

} // namespace sqc
