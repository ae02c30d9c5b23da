//===- runtime/Tensor.cpp - Host tensors ----------------------------------===//
#include "runtime/Tensor.h"

#include <cassert>
#include <cmath>
#include <cstring>

namespace sqc {

Tensor::Tensor(DType dtype, llvm::ArrayRef<int64_t> shape)
    : dtype_(dtype), shape_(shape.begin(), shape.end()) {
  numElements_ = 1;
  for (int64_t d : shape)
    numElements_ *= d;
  if (isFloat(dtype))
    floats_.assign(numElements_, 0.0f);
  else
    ints_.assign(numElements_, 0);
}

Tensor::Tensor(DType dtype, llvm::ArrayRef<int64_t> shape, std::vector<int32_t> values)
    : dtype_(dtype), shape_(shape.begin(), shape.end()), ints_(std::move(values)) {
  numElements_ = 1;
  for (int64_t d : shape)
    numElements_ *= d;
  assert(!isFloat(dtype) && int64_t(ints_.size()) == numElements_);
}

TensorType Tensor::type() const {
  llvm::SmallVector<Dim, 4> dims;
  for (int64_t d : shape_)
    dims.push_back(Dim(d));
  return TensorType(dtype_, dims);
}

bool Tensor::canAppendRows(const Tensor &rows) const {
  return rows.dtype_ == dtype_ && rows.rank() == rank() && rank() > 0 &&
         rows.shape().drop_front() == shape().drop_front();
}

void Tensor::appendRows(const Tensor &rows) {
  assert(canAppendRows(rows));
  if (isFloat(dtype_))
    floats_.insert(floats_.end(), rows.floats_.begin(), rows.floats_.end());
  else
    ints_.insert(ints_.end(), rows.ints_.begin(), rows.ints_.end());
  shape_[0] += rows.shape_[0];
  numElements_ += rows.numElements_;
}

void Tensor::resize(llvm::ArrayRef<int64_t> shape) {
  shape_.assign(shape.begin(), shape.end());
  numElements_ = 1;
  for (int64_t d : shape)
    numElements_ *= d;
  if (isFloat(dtype_))
    floats_.resize(numElements_);
  else
    ints_.resize(numElements_);
}

llvm::SmallVector<int64_t, 4> Tensor::strides() const {
  llvm::SmallVector<int64_t, 4> s(shape_.size(), 1);
  for (int i = int(shape_.size()) - 2; i >= 0; --i)
    s[i] = s[i + 1] * shape_[i + 1];
  return s;
}

/// Rounds a float to `mantissaBits` explicit mantissa bits, ties to even,
/// keeping float's exponent range: exact for bf16; for f16 also correct
/// wherever the value is a normal f16.
static float roundMantissa(float f, int mantissaBits) {
  if (std::isnan(f) || std::isinf(f))
    return f;
  uint32_t u;
  std::memcpy(&u, &f, 4);
  int drop = 23 - mantissaBits;
  uint32_t half = 1u << (drop - 1);
  uint32_t lsb = (u >> drop) & 1;
  u = (u + half - 1 + lsb) & ~((1u << drop) - 1);
  std::memcpy(&f, &u, 4);
  return f;
}

float roundToDType(double v, DType t) {
  float f = float(v);
  switch (t) {
  case DType::BF16:
    return roundMantissa(f, 7);
  case DType::F16: {
    if (std::fabs(f) >= 65520.0f)
      return std::copysign(INFINITY, f);
    // Subnormal f16 values are multiples of 2^-24.
    if (std::fabs(f) < 6.103515625e-05f)
      return float(std::nearbyint(double(f) * 16777216.0) / 16777216.0);
    return roundMantissa(f, 10);
  }
  default:
    return f;
  }
}

void Tensor::set(int64_t i, double v) {
  if (isFloat(dtype_)) {
    floats_[i] = roundToDType(v, dtype_);
    return;
  }
  double r = std::nearbyint(v); // default rounding mode: ties to even
  if (std::isnan(r))
    r = 0;
  r = std::min(std::max(r, double(intMin(dtype_))), double(intMax(dtype_)));
  ints_[i] = int32_t(r);
}

} // namespace sqc
