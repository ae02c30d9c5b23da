//===- runtime/Tensor.h - Host tensors for the reference interpreter -*- C++ -*-===//
//
// A dense, row-major tensor with a static shape. Float tensors (f32, f16,
// bf16) keep their values as float, rounded to the element type; integer
// tensors (i8, u8, i4, i32) keep theirs as int32. Simple on purpose: this is
// the oracle's storage, not the fast path's.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_RUNTIME_TENSOR_H
#define SQC_RUNTIME_TENSOR_H

#include "ir/Types.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <vector>

namespace sqc {

class Tensor {
public:
  Tensor() = default;
  /// A zero-filled tensor.
  Tensor(DType dtype, llvm::ArrayRef<int64_t> shape);
  /// An integer tensor that takes `values` (one per element, each within
  /// the range of `dtype`): no zero-filling first.
  Tensor(DType dtype, llvm::ArrayRef<int64_t> shape, std::vector<int32_t> values);
  Tensor(const Tensor &) = default;
  Tensor &operator=(const Tensor &) = default;
  // noexcept, so std::vector<Tensor> moves tensors when it grows instead of
  // copying them (SmallVector's move is not declared noexcept, though it
  // cannot throw for a moved-from shape).
  Tensor(Tensor &&o) noexcept
      : dtype_(o.dtype_), shape_(std::move(o.shape_)), numElements_(o.numElements_),
        floats_(std::move(o.floats_)), ints_(std::move(o.ints_)) {}
  Tensor &operator=(Tensor &&o) noexcept {
    dtype_ = o.dtype_;
    shape_ = std::move(o.shape_);
    numElements_ = o.numElements_;
    floats_ = std::move(o.floats_);
    ints_ = std::move(o.ints_);
    return *this;
  }

  DType dtype() const { return dtype_; }
  llvm::ArrayRef<int64_t> shape() const { return shape_; }
  unsigned rank() const { return shape_.size(); }
  int64_t numElements() const { return numElements_; }
  TensorType type() const;

  /// Element `i` in row-major order, as a double (exact for every dtype).
  double get(int64_t i) const {
    return isFloat(dtype_) ? double(floats_[i]) : double(ints_[i]);
  }
  /// Stores `v` into element `i`, rounding to the element type (nearest even)
  /// and saturating integers.
  void set(int64_t i, double v);

  std::vector<float> &floats() { return floats_; }
  const std::vector<float> &floats() const { return floats_; }
  std::vector<int32_t> &ints() { return ints_; }
  const std::vector<int32_t> &ints() const { return ints_; }

  /// Whether appendRows(rows) fits: same dtype and trailing dimensions.
  bool canAppendRows(const Tensor &rows) const;
  /// Appends `rows` along the first dimension, in place (amortized over
  /// calls: what makes a growing KV cache cost O(new rows) per step).
  void appendRows(const Tensor &rows);

  /// Gives the tensor `shape` in place, in the same storage (e.g. a KV cache
  /// rewound to fewer rows). Elements up to the old count keep their values;
  /// the others are zero.
  void resize(llvm::ArrayRef<int64_t> shape);
  /// Row-major strides, in elements.
  llvm::SmallVector<int64_t, 4> strides() const;

private:
  DType dtype_ = DType::F32;
  llvm::SmallVector<int64_t, 4> shape_;
  int64_t numElements_ = 0;
  std::vector<float> floats_;
  std::vector<int32_t> ints_;
};

/// Rounds to the nearest value of a float element type (ties to even).
float roundToDType(double v, DType t);

} // namespace sqc

#endif // SQC_RUNTIME_TENSOR_H
