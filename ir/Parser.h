//===- ir/Parser.h - Reads the textual IR -----------------------*- C++ -*-===//
//
// Grammar (canonical text is what Printer.h writes):
//
//   module  := ('module' 'attributes' attr-dict)? graph*
//   graph   := 'graph' @name '(' (%name ':' type),* ')' '->' '(' type,* ')'
//              '{' op* '}'
//   op      := (%name,+ '=')? mnemonic %operand,* attr-dict? (':' type,+)?
//   type    := dtype '[' (int | ?symbol),* ']'
//   attr    := int | float | true | false | "string" | '[' number,* ']'
//            | 'dense' '<' (number | '[' number,* ']') '>'
//
// Result types may be left out where the op's type rule can infer them.
// Comments run from `//` to the end of the line.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_IR_PARSER_H
#define SQC_IR_PARSER_H

#include "ir/Diagnostics.h"
#include "ir/IR.h"

#include "llvm/Support/MemoryBuffer.h"

#include <memory>

namespace sqc {

/// Parses a whole buffer. On error, reports it to `diag` (with file, line,
/// column and a caret) and returns null. The buffer is registered with the
/// engine, so later diagnostics at ops' locations show source lines too.
std::unique_ptr<Module> parseModule(std::unique_ptr<llvm::MemoryBuffer> buffer,
                                    DiagnosticEngine &diag);

/// parseModule() on a string, named `name` in diagnostics.
std::unique_ptr<Module> parseModule(llvm::StringRef text, DiagnosticEngine &diag,
                                    llvm::StringRef name = "<string>");

/// Reads and parses a file; `-` is standard input.
std::unique_ptr<Module> parseFile(llvm::StringRef path, DiagnosticEngine &diag);

} // namespace sqc

#endif // SQC_IR_PARSER_H
