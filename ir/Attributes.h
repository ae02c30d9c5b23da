//===- ir/Attributes.h - Compile-time constants attached to ops -*- C++ -*-===//
//
// An attribute is a named constant on an op: `{eps = 1.0e-05, perm = [1, 0]}`.
// Dense tensor literals (`dense<[1.0, 2.0]>`, splat `dense<0.5>`) hold the
// values of small `constant` ops; large tensors live in a weights file.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_IR_ATTRIBUTES_H
#define SQC_IR_ATTRIBUTES_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace sqc {

/// Values of a dense tensor literal, in row-major order. Doubles hold every
/// f32/f16/bf16/i8/u8/i32/i4 value exactly.
struct DenseElements {
  std::vector<double> values;
  /// One value repeated over the whole tensor (`dense<0.5>`).
  bool splat = false;
  bool operator==(const DenseElements &o) const {
    return splat == o.splat && values == o.values;
  }
};

enum class AttrKind { Int, Float, Bool, String, IntArray, FloatArray, Dense };
llvm::StringRef attrKindName(AttrKind k);

class Attribute {
public:
  Attribute() : v_(int64_t(0)) {}
  /*implicit*/ Attribute(int64_t v) : v_(v) {}
  /*implicit*/ Attribute(int v) : v_(int64_t(v)) {}
  /*implicit*/ Attribute(double v) : v_(v) {}
  /*implicit*/ Attribute(bool v) : v_(v) {}
  /*implicit*/ Attribute(std::string v) : v_(std::move(v)) {}
  /*implicit*/ Attribute(const char *v) : v_(std::string(v)) {}
  /*implicit*/ Attribute(std::vector<int64_t> v) : v_(std::move(v)) {}
  /*implicit*/ Attribute(std::vector<double> v) : v_(std::move(v)) {}
  /*implicit*/ Attribute(DenseElements v) : v_(std::move(v)) {}

  AttrKind kind() const { return AttrKind(v_.index()); }
  int64_t getInt() const { return std::get<int64_t>(v_); }
  double getFloat() const { return std::get<double>(v_); }
  bool getBool() const { return std::get<bool>(v_); }
  const std::string &getString() const { return std::get<std::string>(v_); }
  const std::vector<int64_t> &getIntArray() const {
    return std::get<std::vector<int64_t>>(v_);
  }
  const std::vector<double> &getFloatArray() const {
    return std::get<std::vector<double>>(v_);
  }
  const DenseElements &getDense() const { return std::get<DenseElements>(v_); }

  bool operator==(const Attribute &o) const { return v_ == o.v_; }
  bool operator!=(const Attribute &o) const { return !(v_ == o.v_); }

private:
  // Order matches AttrKind.
  std::variant<int64_t, double, bool, std::string, std::vector<int64_t>,
               std::vector<double>, DenseElements>
      v_;
};

/// A named attribute.
struct NamedAttr {
  std::string name;
  Attribute value;
  bool operator==(const NamedAttr &o) const {
    return name == o.name && value == o.value;
  }
};

/// Shortest text that reads back as exactly `v` (`1.0`, `1.0e-05`, `nan`,
/// `inf`); always has a '.' or an exponent so it never reads as an integer.
/// With `asF32`, `v` must be a float value and the shortest float text is used.
std::string formatFloat(double v, bool asF32 = false);

/// Writes an attribute as the textual IR spells it. `dense` values print as
/// integers when `intElements` is set and as floats otherwise.
std::string formatAttribute(const Attribute &a, bool intElements = false,
                            bool f32Elements = false);

} // namespace sqc

#endif // SQC_IR_ATTRIBUTES_H
