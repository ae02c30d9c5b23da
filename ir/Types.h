//===- ir/Types.h - Element types and tensor types --------------*- C++ -*-===//
//
// A tensor type is an element type and a list of dimensions. A dimension is
// either a static size or a named symbol (`?seq`), so one graph serves every
// sequence length: two symbolic dimensions are equal exactly when their names
// are.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_IR_TYPES_H
#define SQC_IR_TYPES_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace sqc {

/// Element types. i4 values are stored two to a byte (low nibble first).
enum class DType : uint8_t { F32, F16, BF16, I8, U8, I32, I4 };

/// The spelling used in the textual IR (`f32`, `i8`, ...).
llvm::StringRef dtypeName(DType t);
/// Inverse of dtypeName; nullopt for anything else.
std::optional<DType> parseDType(llvm::StringRef s);
inline bool isFloat(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}
inline bool isInteger(DType t) { return !isFloat(t); }
/// The element types quantized tensors use (i8, u8, i4).
bool isQuantizedInt(DType t);
/// Storage bits per element (4 for i4).
unsigned dtypeBits(DType t);
/// Smallest and largest value representable by an integer type.
int64_t intMin(DType t);
int64_t intMax(DType t);

/// Largest static dimension the IR accepts; keeps element counts far from
/// int64 overflow whatever the rank.
constexpr int64_t kMaxDimSize = int64_t(1) << 40;
/// Largest rank the IR accepts.
constexpr unsigned kMaxRank = 16;

/// One dimension: a static size, or a symbol such as `seq` (printed `?seq`).
class Dim {
public:
  Dim() = default;
  /*implicit*/ Dim(int64_t size) : size_(size) {}
  static Dim symbol(llvm::StringRef name) {
    Dim d;
    d.size_ = -1;
    d.sym_ = name.str();
    return d;
  }

  bool isStatic() const { return size_ >= 0; }
  bool isSymbolic() const { return size_ < 0; }
  /// The static size; only valid when isStatic().
  int64_t size() const { return size_; }
  /// The symbol name (without '?'); only valid when isSymbolic().
  llvm::StringRef symbol() const { return sym_; }

  bool operator==(const Dim &o) const {
    return size_ == o.size_ && sym_ == o.sym_;
  }
  bool operator!=(const Dim &o) const { return !(*this == o); }
  std::string str() const;

private:
  int64_t size_ = 0;
  std::string sym_;
};

/// A ranked tensor type: `f32[?seq,768]`; `f32[]` is a scalar.
class TensorType {
public:
  TensorType() = default;
  TensorType(DType dtype, llvm::ArrayRef<Dim> dims)
      : dtype_(dtype), dims_(dims.begin(), dims.end()) {}

  DType dtype() const { return dtype_; }
  unsigned rank() const { return dims_.size(); }
  llvm::ArrayRef<Dim> dims() const { return dims_; }
  const Dim &dim(unsigned i) const { return dims_[i]; }
  /// Dimension `i` counted from the end when negative (-1 is the last).
  const Dim &dimFromEnd(unsigned i) const { return dims_[rank() - 1 - i]; }
  bool isStatic() const;
  /// Number of elements; nullopt if any dimension is symbolic.
  std::optional<int64_t> numElements() const;
  /// The static sizes; only valid when isStatic().
  llvm::SmallVector<int64_t, 4> staticShape() const;

  TensorType withDType(DType t) const { return TensorType(t, dims_); }
  TensorType withDims(llvm::ArrayRef<Dim> dims) const {
    return TensorType(dtype_, dims);
  }

  bool operator==(const TensorType &o) const {
    return dtype_ == o.dtype_ && dims_ == o.dims_;
  }
  bool operator!=(const TensorType &o) const { return !(*this == o); }
  std::string str() const;

private:
  DType dtype_ = DType::F32;
  llvm::SmallVector<Dim, 4> dims_;
};

/// Result shape of numpy-style broadcasting of `a` and `b`, or nullopt when
/// they do not broadcast (a static 1 stretches to anything, including a
/// symbol; otherwise dimensions must be equal).
std::optional<llvm::SmallVector<Dim, 4>> broadcastDims(llvm::ArrayRef<Dim> a,
                                                       llvm::ArrayRef<Dim> b);

} // namespace sqc

#endif // SQC_IR_TYPES_H
