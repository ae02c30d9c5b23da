//===- tests/fuzz/ParserFuzzer.cpp - libFuzzer target for the IR parser ---===//
//
// Parses, verifies and, when that succeeds, prints and re-parses the input:
// the round-trip must hold for anything the parser accepts.
//
//   ./build.sh fuzz [SECONDS]
//
//===----------------------------------------------------------------------===//
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace sqc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  DiagnosticEngine diag(llvm::nulls());
  auto m = parseModule(text, diag, "fuzz.sqir");
  if (!m || failed(verify(*m, diag)))
    return 0;
  std::string printed = toString(*m);
  auto again = parseModule(printed, diag, "printed.sqir");
  if (!again || failed(verify(*again, diag)) || toString(*again) != printed) {
    llvm::errs() << "round-trip failed for:\n" << printed;
    std::abort();
  }
  return 0;
}
