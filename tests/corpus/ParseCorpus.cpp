//===- tests/corpus/ParseCorpus.cpp - The parser on hostile input ---------===//
//
//   sqc-parse-corpus MALFORMED_DIR [VALID_DIR...]
//
// Every file in MALFORMED_DIR must be rejected with an error diagnostic.
// Every .sqir file under the other folders is cut at every length and has
// bytes flipped (deterministically); the parser and verifier must return
// cleanly on each variant. Meant to run in an ASan/UBSan build, where a
// memory error aborts the run.
//
//===----------------------------------------------------------------------===//
#include "ir/Parser.h"
#include "ir/Verifier.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <random>

using namespace sqc;

namespace {

/// Parses and verifies; returns whether it succeeded and whether an error
/// diagnostic was printed.
std::pair<bool, bool> check(llvm::StringRef text, llvm::StringRef name) {
  std::string errors;
  llvm::raw_string_ostream os(errors);
  DiagnosticEngine diag(os);
  auto m = parseModule(text, diag, name);
  bool ok = m && succeeded(verify(*m, diag));
  return {ok, errors.find("error:") != std::string::npos};
}

std::vector<std::string> filesUnder(llvm::StringRef dir, bool sqirOnly) {
  std::vector<std::string> files;
  std::error_code ec;
  for (llvm::sys::fs::recursive_directory_iterator it(dir, ec), end;
       it != end && !ec; it.increment(ec))
    if (it->type() == llvm::sys::fs::file_type::regular_file &&
        (!sqirOnly || llvm::StringRef(it->path()).ends_with(".sqir")))
      files.push_back(it->path());
  std::sort(files.begin(), files.end());
  return files;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    llvm::errs() << "usage: sqc-parse-corpus MALFORMED_DIR [VALID_DIR...]\n";
    return 2;
  }
  unsigned passed = 0, failed = 0;
  for (const std::string &path : filesUnder(argv[1], false)) {
    auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
    if (!buf)
      continue;
    auto [ok, hasError] = check((*buf)->getBuffer(), path);
    if (ok || !hasError) {
      llvm::errs() << "FAIL: " << path
                   << (ok ? " was accepted\n" : " failed without an error message\n");
      ++failed;
    } else {
      ++passed;
    }
  }
  // Mutations of valid inputs: no outcome is wrong, only a crash is.
  std::mt19937 rng(12345);
  unsigned variants = 0;
  for (int d = 2; d < argc; ++d)
    for (const std::string &path : filesUnder(argv[d], true)) {
      auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
      if (!buf)
        continue;
      std::string text = (*buf)->getBuffer().str();
      size_t step = std::max<size_t>(1, text.size() / 512);
      for (size_t n = 0; n < text.size(); n += step, ++variants)
        (void)check(llvm::StringRef(text).take_front(n), path);
      for (int i = 0; i < 64 && !text.empty(); ++i, ++variants) {
        std::string mutated = text;
        for (int k = 0; k < 3; ++k)
          mutated[rng() % mutated.size()] = char(rng() & 0xff);
        (void)check(mutated, path);
      }
    }
  llvm::outs() << "malformed corpus: " << passed << " passed, " << failed
               << " failed; " << variants << " truncated/mutated variants ran\n";
  return failed ? 1 : 0;
}
