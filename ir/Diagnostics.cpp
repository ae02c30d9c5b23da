//===- ir/Diagnostics.cpp - Source locations and error reporting ----------===//
#include "ir/Diagnostics.h"

#include "llvm/ADT/StringSet.h"

#include <mutex>

namespace sqc {

llvm::StringRef internFileName(llvm::StringRef name) {
  static std::mutex mu;
  static llvm::StringSet<> names;
  std::lock_guard<std::mutex> lock(mu);
  return names.insert(name).first->first();
}

Location Location::get(llvm::StringRef file, unsigned line, unsigned col) {
  return Location{internFileName(file), line, col};
}

std::string Location::str() const {
  if (isUnknown())
    return "<unknown>";
  return file.str() + ":" + std::to_string(line) + ":" + std::to_string(col);
}

llvm::StringRef
DiagnosticEngine::addSource(std::unique_ptr<llvm::MemoryBuffer> buffer) {
  llvm::StringRef name = internFileName(buffer->getBufferIdentifier());
  unsigned id = srcMgr_.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  bufferByName_[name] = id;
  return name;
}

void DiagnosticEngine::emit(Location loc, Severity sev,
                            const llvm::Twine &msg) {
  if (sev == Severity::Error)
    ++numErrors_;
  llvm::SourceMgr::DiagKind kind = llvm::SourceMgr::DK_Error;
  switch (sev) {
  case Severity::Error: kind = llvm::SourceMgr::DK_Error; break;
  case Severity::Warning: kind = llvm::SourceMgr::DK_Warning; break;
  case Severity::Remark: kind = llvm::SourceMgr::DK_Remark; break;
  case Severity::Note: kind = llvm::SourceMgr::DK_Note; break;
  }
  auto it = bufferByName_.find(loc.file);
  if (!loc.isUnknown() && it != bufferByName_.end()) {
    llvm::SMLoc sm =
        srcMgr_.FindLocForLineAndColumn(it->second, loc.line, loc.col);
    if (sm.isValid()) {
      srcMgr_.PrintMessage(os_, sm, kind, msg);
      return;
    }
  }
  // No source text: the same first line, without the excerpt.
  llvm::SMDiagnostic d(loc.isUnknown() ? "sqc" : loc.file, kind, msg.str());
  if (!loc.isUnknown())
    d = llvm::SMDiagnostic(srcMgr_, llvm::SMLoc(), loc.file, loc.line,
                           loc.col - 1, kind, msg.str(), "", {});
  d.print(nullptr, os_);
}

} // namespace sqc
