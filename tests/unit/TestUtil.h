//===- tests/unit/TestUtil.h - Helpers shared by the unit tests -*- C++ -*-===//
#ifndef SQC_TESTS_UNIT_TESTUTIL_H
#define SQC_TESTS_UNIT_TESTUTIL_H

#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "runtime/Tensor.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace sqc::test {

/// max |a - b| / max |a| over two tensors of the same size (NaN when a is
/// all zeros, so no tolerance accepts it).
inline double maxRelativeDiff(const Tensor &a, const Tensor &b) {
  EXPECT_EQ(a.numElements(), b.numElements());
  double maxAbs = 0, maxDiff = 0;
  for (int64_t i = 0; i < a.numElements() && i < b.numElements(); ++i) {
    maxAbs = std::max(maxAbs, std::fabs(a.get(i)));
    maxDiff = std::max(maxDiff, std::fabs(a.get(i) - b.get(i)));
  }
  return maxDiff / maxAbs;
}

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

/// A fresh folder for a test's files, removed with it.
class TempDir {
public:
  explicit TempDir(llvm::StringRef prefix) {
    EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory(prefix, dir_));
  }
  ~TempDir() { llvm::sys::fs::remove_directories(dir_); }
  TempDir(const TempDir &) = delete;

  std::string dir() const { return dir_.str().str(); }
  std::string path(llvm::StringRef name) const {
    llvm::SmallString<256> p(dir_);
    llvm::sys::path::append(p, name);
    return p.str().str();
  }
  /// Writes a file in the folder; the test fails if it cannot.
  void write(llvm::StringRef name, llvm::StringRef text) const {
    std::error_code ec;
    llvm::raw_fd_ostream os(path(name), ec);
    EXPECT_FALSE(ec) << path(name) << ": " << ec.message();
    os << text;
  }

private:
  llvm::SmallString<128> dir_;
};

} // namespace sqc::test

#endif // SQC_TESTS_UNIT_TESTUTIL_H
