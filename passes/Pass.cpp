//===- passes/Pass.cpp - Pass options -------------------------------------===//
#include "passes/Pass.h"

#include "ir/Attributes.h"

#include <charconv>

namespace sqc {

static llvm::Error fail(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

llvm::Error Pass::setOption(llvm::StringRef key, llvm::StringRef value) {
  for (OptionInfo &o : options_)
    if (o.name == key) {
      if (llvm::Error e = o.parse(value))
        return fail("option '" + key + "' of pass '" + name_ + "': " +
                    llvm::toString(std::move(e)));
      return llvm::Error::success();
    }
  std::string known;
  for (const OptionInfo &o : options_)
    known += (known.empty() ? "" : ", ") + o.name;
  return fail("pass '" + name_ + "' has no option '" + key + "'" +
              (known.empty() ? " (it takes none)" : " (it has: " + known + ")"));
}

std::string Pass::optionsString() const {
  std::string s;
  for (const OptionInfo &o : options_)
    s += (s.empty() ? "" : ",") + o.name + "=" + o.print();
  return s;
}

llvm::Error parseOptionValue(llvm::StringRef text, int64_t &out) {
  if (text.getAsInteger(10, out))
    return fail("expected an integer, got '" + text + "'");
  return llvm::Error::success();
}

llvm::Error parseOptionValue(llvm::StringRef text, double &out) {
  auto r = std::from_chars(text.begin(), text.end(), out);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.end())
    return fail("expected a number, got '" + text + "'");
  return llvm::Error::success();
}

llvm::Error parseOptionValue(llvm::StringRef text, bool &out) {
  if (text == "true" || text == "1")
    out = true;
  else if (text == "false" || text == "0")
    out = false;
  else
    return fail("expected true or false, got '" + text + "'");
  return llvm::Error::success();
}

llvm::Error parseOptionValue(llvm::StringRef text, std::string &out) {
  out = text.str();
  return llvm::Error::success();
}

std::string printOptionValue(int64_t v) { return std::to_string(v); }
std::string printOptionValue(double v) { return formatFloat(v); }
std::string printOptionValue(bool v) { return v ? "true" : "false"; }
std::string printOptionValue(const std::string &v) { return v; }

} // namespace sqc
