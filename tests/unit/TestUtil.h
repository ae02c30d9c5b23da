//===- tests/unit/TestUtil.h - Helpers shared by the unit tests -*- C++ -*-===//
#ifndef SQC_TESTS_UNIT_TESTUTIL_H
#define SQC_TESTS_UNIT_TESTUTIL_H

#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include <string>

namespace sqc::test {

/// Parses and verifies `text`; diagnostics are appended to `errors`.
inline std::unique_ptr<Module> parseAndVerify(llvm::StringRef text,
                                              std::string &errors) {
  llvm::raw_string_ostream os(errors);
  DiagnosticEngine diag(os);
  std::unique_ptr<Module> m = parseModule(text, diag, "test.sqir");
  if (m && failed(verify(*m, diag)))
    m.reset();
  return m;
}

/// The first diagnostic line for `text`, or "" if it parses and verifies.
inline std::string firstError(llvm::StringRef text) {
  std::string errors;
  parseAndVerify(text, errors);
  return errors.substr(0, errors.find('\n'));
}

} // namespace sqc::test

#endif // SQC_TESTS_UNIT_TESTUTIL_H
