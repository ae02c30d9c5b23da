//===- ir/OpInfo.h - What the op table says about each op -------*- C++ -*-===//
#ifndef SQC_IR_OPINFO_H
#define SQC_IR_OPINFO_H

#include "ir/Attributes.h"
#include "ir/Types.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace sqc {

class Op;

enum class OpKind : uint16_t {
#define OP(Name, Mnemonic, Operands, Results, Attrs, Rule, Doc) Name,
#include "ir/Ops.def"
};

/// How an attribute is declared in the op table.
struct AttrSpec {
  std::string name;
  /// Enum attributes are strings restricted to `enumValues`.
  AttrKind kind = AttrKind::Int;
  std::vector<std::string> enumValues;
  bool required = true;
  /// The value used when the attribute is absent (optional ones only).
  std::optional<Attribute> defaultValue;
  /// `float`, `enum(none|tanh)`, ... as written in the table.
  std::string kindText;
};

/// A type rule checks an op's operand types and attributes and computes its
/// result types. `declared` holds the result types written in the text (or
/// given to a builder; empty if none); ops whose result types cannot be
/// derived (reshape, constant, convert, ...) take them from there.
using TypeRule = llvm::Error (*)(const Op &op,
                                 llvm::ArrayRef<TensorType> declared,
                                 llvm::SmallVectorImpl<TensorType> &results);

struct OpInfo {
  OpKind kind;
  llvm::StringRef mnemonic;
  /// Operand names, optional ones marked, as in the table.
  std::vector<std::string> operandNames;
  unsigned minOperands = 0;
  /// UINT_MAX when the last operand is variadic.
  unsigned maxOperands = 0;
  unsigned numResults = 0;
  std::vector<AttrSpec> attrs;
  TypeRule rule;
  llvm::StringRef doc;
  /// The table's operand and attribute text, for --list-ops.
  llvm::StringRef operandText, attrText;

  const AttrSpec *findAttr(llvm::StringRef name) const;
  bool isVariadic() const { return maxOperands == ~0u; }
};

/// The op table, one entry per OpKind, in table order.
llvm::ArrayRef<OpInfo> allOps();
const OpInfo &opInfo(OpKind kind);
/// Looks an op up by mnemonic.
const OpInfo *lookupOp(llvm::StringRef mnemonic);
/// Whether the op's two operands may swap without changing its result
/// (add, mul, maximum, minimum: broadcasting is symmetric too).
bool isCommutative(OpKind kind);

} // namespace sqc

#endif // SQC_IR_OPINFO_H
