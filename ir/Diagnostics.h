//===- ir/Diagnostics.h - Source locations and error reporting --*- C++ -*-===//
//
// Every op keeps the file:line:col it came from; passes copy it onto the ops
// they create, so an error found late still points at the source. Messages
// print as `file:line:col: error: ...` followed by the source line and a caret
// when the text of the file is known to the engine.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_IR_DIAGNOSTICS_H
#define SQC_IR_DIAGNOSTICS_H

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>

namespace sqc {

/// A position in a source file; `file` is interned and lives forever.
struct Location {
  llvm::StringRef file;
  unsigned line = 0;
  unsigned col = 0;

  static Location unknown() { return {}; }
  static Location get(llvm::StringRef file, unsigned line, unsigned col);
  bool isUnknown() const { return file.empty(); }
  std::string str() const;
  bool operator==(const Location &o) const {
    return file == o.file && line == o.line && col == o.col;
  }
};

/// Interns a file name so that Locations can point at it.
llvm::StringRef internFileName(llvm::StringRef name);

enum class Severity { Error, Warning, Remark, Note };

/// Collects and prints diagnostics; counts errors.
class DiagnosticEngine {
public:
  explicit DiagnosticEngine(llvm::raw_ostream &os = llvm::errs()) : os_(os) {}

  /// Makes the text of a file known, so messages at its locations show the
  /// source line and a caret. Returns the buffer's name, interned.
  llvm::StringRef addSource(std::unique_ptr<llvm::MemoryBuffer> buffer);

  void emit(Location loc, Severity sev, const llvm::Twine &msg);
  void error(Location loc, const llvm::Twine &msg) {
    emit(loc, Severity::Error, msg);
  }
  void warning(Location loc, const llvm::Twine &msg) {
    emit(loc, Severity::Warning, msg);
  }
  void remark(Location loc, const llvm::Twine &msg) {
    emit(loc, Severity::Remark, msg);
  }
  void note(Location loc, const llvm::Twine &msg) {
    emit(loc, Severity::Note, msg);
  }

  unsigned numErrors() const { return numErrors_; }
  void resetErrorCount() { numErrors_ = 0; }
  llvm::SourceMgr &sourceMgr() { return srcMgr_; }

private:
  llvm::raw_ostream &os_;
  llvm::SourceMgr srcMgr_;
  /// Latest buffer registered under each file name.
  llvm::StringMap<unsigned> bufferByName_;
  unsigned numErrors_ = 0;
};

} // namespace sqc

#endif // SQC_IR_DIAGNOSTICS_H
