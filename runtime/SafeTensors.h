//===- runtime/SafeTensors.h - Reading and writing .safetensors -*- C++ -*-===//
//
// The format: an 8-byte little-endian header length N, N bytes of JSON
// mapping tensor names to {dtype, shape, data_offsets}, then the data. Files
// are memory-mapped, never read whole; the header is checked before any
// tensor is touched (offsets inside the file, sizes matching shape x dtype, no
// overlaps), and every error names the file and the tensor.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_RUNTIME_SAFETENSORS_H
#define SQC_RUNTIME_SAFETENSORS_H

#include "runtime/Tensor.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sqc {

/// Element types that may appear in a safetensors file we read.
enum class StDType { F32, F16, BF16, I8, U8, I32, I64, F64 };

struct SafeTensorInfo {
  std::string name;
  StDType dtype;
  std::string dtypeName; // as written: "F32", "BF16", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; // byte offsets into the data section
  int64_t numElements() const;
};

class SafeTensorsFile {
public:
  /// Maps `path` and validates its header.
  static llvm::Expected<std::unique_ptr<SafeTensorsFile>> open(llvm::StringRef path);
  /// Validates an in-memory file (tests); `name` is used in messages.
  static llvm::Expected<std::unique_ptr<SafeTensorsFile>>
  fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer);

  llvm::StringRef path() const { return path_; }
  const std::vector<SafeTensorInfo> &tensors() const { return tensors_; }
  const SafeTensorInfo *find(llvm::StringRef name) const;
  /// The raw bytes of a tensor, inside the mapping.
  llvm::ArrayRef<uint8_t> bytes(const SafeTensorInfo &t) const;
  /// The tensor converted to `as` (F32/F16/BF16 to a float type; integer
  /// types to an integer type), or an error naming file and tensor.
  llvm::Expected<Tensor> load(llvm::StringRef name, DType as) const;
  const std::map<std::string, std::string> &metadata() const { return metadata_; }

private:
  std::unique_ptr<llvm::MemoryBuffer> buffer_;
  std::string path_;
  const uint8_t *data_ = nullptr; // start of the data section
  uint64_t dataSize_ = 0;
  std::vector<SafeTensorInfo> tensors_;
  llvm::StringMap<size_t> byName_;
  std::map<std::string, std::string> metadata_;
};

/// Whether INT4 codes of `shape` are stored two a byte (U8, half the last
/// dimension); when the last dimension is odd they are stored as I8.
inline bool int4StoredPacked(llvm::ArrayRef<int64_t> shape) {
  return !shape.empty() && shape.back() % 2 == 0;
}
/// The shape a tensor of `dtype` and `shape` has in a safetensors file.
inline std::vector<int64_t> storedShape(DType dtype, llvm::ArrayRef<int64_t> shape) {
  std::vector<int64_t> s(shape.begin(), shape.end());
  if (dtype == DType::I4 && int4StoredPacked(shape))
    s.back() /= 2;
  return s;
}

/// INT4 codes stored two a byte (U8), the even element in the low nibble:
/// out[2i] and out[2i + 1], sign-extended, from packed[i].
template <typename T> void unpackInt4(llvm::ArrayRef<uint8_t> packed, T *out) {
  for (size_t i = 0; i < packed.size(); ++i) {
    out[2 * i] = T(int8_t(uint8_t(packed[i] << 4)) >> 4);
    out[2 * i + 1] = T(int8_t(packed[i]) >> 4);
  }
}

/// A tensor to write: raw little-endian bytes of `dtype`.
struct SafeTensorOut {
  std::string name;
  StDType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

/// Writes a safetensors file atomically (temporary file renamed into place).
llvm::Error writeSafeTensors(llvm::StringRef path,
                             const std::vector<SafeTensorOut> &tensors,
                             const std::map<std::string, std::string> &metadata = {});

/// Bytes per element of a safetensors dtype.
unsigned stDTypeSize(StDType t);
llvm::StringRef stDTypeName(StDType t);

/// f32 bytes of a float tensor, for writers.
std::vector<uint8_t> f32Bytes(llvm::ArrayRef<float> values);

} // namespace sqc

#endif // SQC_RUNTIME_SAFETENSORS_H
