//===- ir/Types.cpp - Element types and tensor types ----------------------===//
#include "ir/Types.h"

#include "llvm/ADT/StringSwitch.h"

namespace sqc {

llvm::StringRef dtypeName(DType t) {
  switch (t) {
  case DType::F32: return "f32";
  case DType::F16: return "f16";
  case DType::BF16: return "bf16";
  case DType::I8: return "i8";
  case DType::U8: return "u8";
  case DType::I32: return "i32";
  case DType::I4: return "i4";
  }
  return "?";
}

std::optional<DType> parseDType(llvm::StringRef s) {
  return llvm::StringSwitch<std::optional<DType>>(s)
      .Case("f32", DType::F32)
      .Case("f16", DType::F16)
      .Case("bf16", DType::BF16)
      .Case("i8", DType::I8)
      .Case("u8", DType::U8)
      .Case("i32", DType::I32)
      .Case("i4", DType::I4)
      .Default(std::nullopt);
}

bool isQuantizedInt(DType t) {
  return t == DType::I8 || t == DType::U8 || t == DType::I4;
}

unsigned dtypeBits(DType t) {
  switch (t) {
  case DType::F32: case DType::I32: return 32;
  case DType::F16: case DType::BF16: return 16;
  case DType::I8: case DType::U8: return 8;
  case DType::I4: return 4;
  }
  return 0;
}

int64_t intMin(DType t) {
  switch (t) {
  case DType::I8: return -128;
  case DType::U8: return 0;
  case DType::I4: return -8;
  case DType::I32: return INT32_MIN;
  default: return 0;
  }
}

int64_t intMax(DType t) {
  switch (t) {
  case DType::I8: return 127;
  case DType::U8: return 255;
  case DType::I4: return 7;
  case DType::I32: return INT32_MAX;
  default: return 0;
  }
}

std::string Dim::str() const {
  return isStatic() ? std::to_string(size_) : "?" + sym_;
}

bool TensorType::isStatic() const {
  for (const Dim &d : dims_)
    if (d.isSymbolic())
      return false;
  return true;
}

std::optional<int64_t> TensorType::numElements() const {
  int64_t n = 1;
  for (const Dim &d : dims_) {
    if (d.isSymbolic())
      return std::nullopt;
    // Dims are bounded by kMaxDimSize, but a rank-16 product still overflows.
    if (d.size() != 0 && n > INT64_MAX / d.size())
      return std::nullopt;
    n *= d.size();
  }
  return n;
}

llvm::SmallVector<int64_t, 4> TensorType::staticShape() const {
  llvm::SmallVector<int64_t, 4> s;
  for (const Dim &d : dims_)
    s.push_back(d.size());
  return s;
}

std::string TensorType::str() const {
  std::string s = dtypeName(dtype_).str() + "[";
  for (unsigned i = 0; i < dims_.size(); ++i) {
    if (i)
      s += ",";
    s += dims_[i].str();
  }
  return s + "]";
}

std::optional<llvm::SmallVector<Dim, 4>> broadcastDims(llvm::ArrayRef<Dim> a,
                                                       llvm::ArrayRef<Dim> b) {
  size_t rank = std::max(a.size(), b.size());
  llvm::SmallVector<Dim, 4> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align from the right, as numpy does.
    const Dim *da = i < a.size() ? &a[a.size() - 1 - i] : nullptr;
    const Dim *db = i < b.size() ? &b[b.size() - 1 - i] : nullptr;
    Dim &o = out[rank - 1 - i];
    if (!da)
      o = *db;
    else if (!db)
      o = *da;
    else if (*da == *db)
      o = *da;
    else if (da->isStatic() && da->size() == 1)
      o = *db;
    else if (db->isStatic() && db->size() == 1)
      o = *da;
    else
      return std::nullopt;
  }
  return out;
}

} // namespace sqc
