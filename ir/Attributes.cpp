//===- ir/Attributes.cpp - Attribute printing -----------------------------===//
#include "ir/Attributes.h"

#include <charconv>
#include <cmath>

namespace sqc {

llvm::StringRef attrKindName(AttrKind k) {
  switch (k) {
  case AttrKind::Int: return "int";
  case AttrKind::Float: return "float";
  case AttrKind::Bool: return "bool";
  case AttrKind::String: return "string";
  case AttrKind::IntArray: return "int[]";
  case AttrKind::FloatArray: return "float[]";
  case AttrKind::Dense: return "dense";
  }
  return "?";
}

std::string formatFloat(double v, bool asF32) {
  if (std::isnan(v))
    return "nan";
  if (std::isinf(v))
    return v < 0 ? "-inf" : "inf";
  char buf[400];
  // Without a precision, to_chars gives the shortest text that reads back
  // exactly; fixed notation for everyday magnitudes (500000.0, 0.125),
  // scientific for the rest (1.0e-05, 3.0e+38).
  double mag = std::fabs(v);
  auto fmt = (mag == 0 || (mag >= 1e-4 && mag < 1e16))
                 ? std::chars_format::fixed
                 : std::chars_format::scientific;
  auto r = asF32 ? std::to_chars(buf, buf + sizeof buf, float(v), fmt)
                 : std::to_chars(buf, buf + sizeof buf, v, fmt);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".e") == std::string::npos)
    s += ".0";
  else if (auto e = s.find('e'); e != std::string::npos &&
                                 s.find('.') == std::string::npos)
    s.insert(e, ".0"); // 1e-05 -> 1.0e-05
  return s;
}

static std::string formatString(const std::string &s) {
  std::string out = "\"";
  static const char *hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c >= 0x7f) {
      out += '\\';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

std::string formatAttribute(const Attribute &a, bool intElements,
                            bool f32Elements) {
  switch (a.kind()) {
  case AttrKind::Int:
    return std::to_string(a.getInt());
  case AttrKind::Float:
    return formatFloat(a.getFloat());
  case AttrKind::Bool:
    return a.getBool() ? "true" : "false";
  case AttrKind::String:
    return formatString(a.getString());
  case AttrKind::IntArray: {
    std::string s = "[";
    for (size_t i = 0; i < a.getIntArray().size(); ++i)
      s += (i ? ", " : "") + std::to_string(a.getIntArray()[i]);
    return s + "]";
  }
  case AttrKind::FloatArray: {
    std::string s = "[";
    for (size_t i = 0; i < a.getFloatArray().size(); ++i)
      s += (i ? ", " : "") + formatFloat(a.getFloatArray()[i]);
    return s + "]";
  }
  case AttrKind::Dense: {
    const DenseElements &d = a.getDense();
    auto one = [&](double v) {
      if (intElements)
        return std::to_string(int64_t(v));
      // Use the short f32 spelling only when it denotes the same value.
      bool f32Exact = f32Elements && double(float(v)) == v;
      return formatFloat(v, f32Exact);
    };
    std::string s = "dense<";
    if (d.splat) {
      s += one(d.values.empty() ? 0.0 : d.values[0]);
    } else {
      s += "[";
      for (size_t i = 0; i < d.values.size(); ++i)
        s += (i ? ", " : "") + one(d.values[i]);
      s += "]";
    }
    return s + ">";
  }
  }
  return "";
}

} // namespace sqc
