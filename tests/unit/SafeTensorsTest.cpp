//===- tests/unit/SafeTensorsTest.cpp - safetensors reading and writing ---===//
#include "runtime/SafeTensors.h"
#include "runtime/Weights.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

using namespace sqc;

namespace {

/// A safetensors file with `header` as its JSON and `dataSize` zero bytes.
std::string fileWith(const std::string &header, size_t dataSize,
                     int64_t lengthOverride = -1) {
  uint64_t n = lengthOverride >= 0 ? uint64_t(lengthOverride) : header.size();
  std::string s(8, '\0');
  std::memcpy(s.data(), &n, 8);
  return s + header + std::string(dataSize, '\0');
}

std::string openError(const std::string &bytes) {
  auto f = SafeTensorsFile::fromBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(bytes, "m.safetensors"));
  if (f)
    return "";
  return llvm::toString(f.takeError());
}

TEST(SafeTensorsTest, WritesAndReadsBack) {
  llvm::SmallString<128> path;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("sqc", "safetensors", path));
  std::vector<float> w = {1.5f, -2.0f, 0.25f, 3.0f, 4.0f, 5.0f};
  std::vector<uint8_t> bf16 = {0x80, 0x3f, 0x00, 0xc0}; // 1.0, -2.0
  ASSERT_FALSE(bool(writeSafeTensors(
      path, {{"w", StDType::F32, {2, 3}, f32Bytes(w)},
             {"b", StDType::BF16, {2}, bf16}},
      {{"format", "pt"}})));
  auto f = SafeTensorsFile::open(path);
  ASSERT_TRUE(bool(f)) << llvm::toString(f.takeError());
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  auto t = (*f)->load("w", DType::F32);
  ASSERT_TRUE(bool(t));
  EXPECT_EQ(t->shape(), llvm::ArrayRef<int64_t>({2, 3}));
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(t->get(i), w[i]);
  auto b = (*f)->load("b", DType::F32);
  ASSERT_TRUE(bool(b));
  EXPECT_EQ(b->get(0), 1.0);
  EXPECT_EQ(b->get(1), -2.0);
  EXPECT_NE(llvm::toString((*f)->load("nope", DType::F32).takeError())
                .find("no tensor 'nope'"),
            std::string::npos);
  llvm::sys::fs::remove(path);
}

TEST(SafeTensorsTest, ConvertsHalfPrecision) {
  llvm::SmallString<128> path;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("sqc", "safetensors", path));
  // f16 bit patterns: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), +inf.
  const uint16_t halves[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00};
  std::vector<uint8_t> bytes(sizeof halves);
  std::memcpy(bytes.data(), halves, sizeof halves);
  ASSERT_FALSE(bool(writeSafeTensors(path, {{"h", StDType::F16, {5}, bytes}})));
  auto f = SafeTensorsFile::open(path);
  ASSERT_TRUE(bool(f));
  auto t = (*f)->load("h", DType::F32);
  ASSERT_TRUE(bool(t));
  EXPECT_EQ(t->get(0), 1.0);
  EXPECT_EQ(t->get(1), -2.0);
  EXPECT_EQ(t->get(2), 65504.0);
  EXPECT_EQ(t->get(3), std::ldexp(1.0, -24));
  EXPECT_TRUE(std::isinf(t->get(4)));
  // Integers cannot be read as floats, or the reverse.
  EXPECT_NE(llvm::toString((*f)->load("h", DType::I8).takeError()).find("cannot be read as i8"),
            std::string::npos);
  llvm::sys::fs::remove(path);
}

TEST(SafeTensorsTest, RejectsMalformedFilesWithTheirReason) {
  const std::string ok = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_EQ(openError(fileWith(ok, 8)), "");
  EXPECT_NE(openError("abc").find("shorter than the 8-byte header length"),
            std::string::npos);
  EXPECT_NE(openError(fileWith(ok, 8, 1 << 30)).find("exceeds the file"),
            std::string::npos);
  EXPECT_NE(openError(fileWith(ok.substr(0, 20), 8)).find("not valid JSON"),
            std::string::npos);
  EXPECT_NE(openError(fileWith("[1,2]", 0)).find("not a JSON object"),
            std::string::npos);
  EXPECT_NE(openError(fileWith(R"({"t":{"dtype":"F32"}})", 0))
                .find("tensor 't': needs dtype, shape and data_offsets"),
            std::string::npos);
  EXPECT_NE(openError(fileWith(
                R"({"t":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", 8))
                .find("unsupported dtype 'Q7'"),
            std::string::npos);
  EXPECT_NE(openError(fileWith(ok, 4)).find("lie outside the data section"),
            std::string::npos);
  EXPECT_NE(openError(fileWith(
                R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8))
                .find("lie outside"),
            std::string::npos);
  EXPECT_NE(openError(fileWith(
                R"({"t":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", 8))
                .find("holds 8 bytes but F16 2 elements need 4"),
            std::string::npos);
  EXPECT_NE(openError(fileWith(
                R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8))
                .find("invalid size"),
            std::string::npos);
  EXPECT_NE(openError(fileWith(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                               8))
                .find("overlap"),
            std::string::npos);
  EXPECT_NE(openError(fileWith(
                R"({"t":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}})",
                8))
                .find("too large"),
            std::string::npos);
}

TEST(SafeTensorsTest, EveryTruncationFailsCleanly) {
  const std::string full = fileWith(
      R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8);
  for (size_t n = 0; n < full.size(); ++n)
    EXPECT_NE(openError(full.substr(0, n)), "") << n;
}

TEST(SafeTensorsTest, Int4CodesArePackedTwoPerByte) {
  llvm::SmallString<128> path;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("sqc", "safetensors", path));
  InMemoryWeights w("test");
  Tensor even(DType::I4, {2, 4}), odd(DType::I4, {1, 3});
  const int codes[8] = {-8, 7, -1, 0, 3, -5, 1, -2};
  for (int i = 0; i < 8; ++i)
    even.set(i, codes[i]);
  for (int i = 0; i < 3; ++i)
    odd.set(i, codes[i]);
  w.add("even", even);
  w.add("odd", odd);
  ASSERT_FALSE(bool(w.writeTo(path)));
  auto f = SafeTensorsFile::open(path);
  ASSERT_TRUE(bool(f)) << llvm::toString(f.takeError());
  // Even rows: U8, half as many bytes; odd rows: one code per byte.
  EXPECT_EQ((*f)->find("even")->dtypeName, "U8");
  EXPECT_EQ((*f)->find("even")->shape, std::vector<int64_t>({2, 2}));
  EXPECT_EQ((*f)->find("odd")->dtypeName, "I8");
  SafeTensorsWeights store;
  store.addFile(std::move(*f));
  auto back = store.get("even", TensorType(DType::I4, {Dim(2), Dim(4)}));
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ((*back)->get(i), codes[i]) << i;
  auto back3 = store.get("odd", TensorType(DType::I4, {Dim(1), Dim(3)}));
  ASSERT_TRUE(bool(back3)) << llvm::toString(back3.takeError());
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ((*back3)->get(i), codes[i]);
  // Read as the wrong shape, the packed tensor says so.
  EXPECT_FALSE(bool(store.get("even", TensorType(DType::I4, {Dim(2), Dim(2)}))));
  llvm::sys::fs::remove(path);
}

TEST(SafeTensorsTest, ReadsTheSharedStoriesModel) {
  const char *path = SQC_TEST_DIR "/../../shared/data/stories260K-hf/model.safetensors";
  if (!llvm::sys::fs::exists(path))
    GTEST_SKIP() << "../shared/data is not present";
  auto f = SafeTensorsFile::open(path);
  ASSERT_TRUE(bool(f)) << llvm::toString(f.takeError());
  EXPECT_EQ((*f)->tensors().size(), 47u); // embedding, 5 x 9 per layer, final norm
  auto emb = (*f)->load("model.embed_tokens.weight", DType::F32);
  ASSERT_TRUE(bool(emb));
  EXPECT_EQ(emb->shape(), llvm::ArrayRef<int64_t>({512, 64}));
}

} // namespace
