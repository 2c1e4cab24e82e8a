#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "io_test_util.h"

namespace segq {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_bytes;

// 8-byte little-endian length + header + data, exactly as the format lays it out.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out;
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  return out + header + data;
}

Tensor patterned(DType dtype, const Shape& shape, int seed) {
  Tensor t = Tensor::empty(dtype, shape);
  auto* p = static_cast<uint8_t*>(t.raw());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<uint8_t>(i * 31 + seed * 7 + 1);
  if (dtype == DType::Bool) {
    for (size_t i = 0; i < t.nbytes(); ++i) p[i] &= 1;
  }
  return t;
}

TEST(Safetensors, RoundTripsEveryDtypeShapeAndMetadata) {
  TempDir dir;
  const DType all[] = {DType::F32, DType::F16, DType::BF16, DType::F64, DType::I64,
                       DType::I32, DType::I16, DType::I8,   DType::U8,  DType::Bool};
  std::vector<std::pair<std::string, Tensor>> tensors;
  int seed = 0;
  for (DType d : all) {
    tensors.emplace_back(std::string("t.") + std::string(dtype_name(d)),
                         patterned(d, {2, 3, 5}, seed++));
  }
  tensors.emplace_back("scalar", patterned(DType::I64, {}, 3));  // like num_batches_tracked
  tensors.emplace_back("empty", Tensor::empty(DType::F32, {0, 4}));
  tensors.emplace_back("odd", patterned(DType::F16, {7}, 5));  // 14 bytes: later offsets unaligned
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "ü ok"}};
  const std::string path = dir / "x.safetensors";
  write_safetensors(path, tensors, meta);

  SafetensorsFile f = read_safetensors(path);
  EXPECT_EQ(f.metadata, meta);
  ASSERT_EQ(f.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {  // written order == offset order
    const auto& [name, want] = tensors[i];
    const auto& [got_name, got] = f.tensors[i];
    EXPECT_EQ(got_name, name);
    EXPECT_EQ(got.dtype(), want.dtype()) << name;
    EXPECT_EQ(got.shape(), want.shape()) << name;
    ASSERT_EQ(got.nbytes(), want.nbytes()) << name;
    EXPECT_EQ(std::memcmp(got.raw(), want.raw(), want.nbytes()), 0) << name;
  }
  EXPECT_EQ((f.header_bytes) % 8, 0u);  // the header is padded so data starts 8-byte aligned

  // Tensors borrow from the mapping and keep it alive on their own.
  Tensor keep = f.tensors[0].second;
  f = SafetensorsFile();
  EXPECT_EQ(std::memcmp(keep.raw(), tensors[0].second.raw(), keep.nbytes()), 0);
}

TEST(Safetensors, MisalignedWideTensorsAreReadIntoAlignedStorage) {
  // An odd number of BF16 elements (as quantized checkpoints with bf16 scales have) puts the next
  // F32 tensor 2 bytes off alignment; kernels read it as float, so the reader must realign it.
  TempDir dir;
  std::vector<std::pair<std::string, Tensor>> tensors;
  tensors.emplace_back("scales", patterned(DType::BF16, {3}, 1));
  tensors.emplace_back("u8", patterned(DType::U8, {5}, 2));
  Tensor bias = Tensor::empty(DType::F32, {7});
  for (int i = 0; i < 7; ++i) bias.data<float>()[i] = 0.25f * static_cast<float>(i) - 1.0f;
  tensors.emplace_back("bias", bias);
  tensors.emplace_back("i64", patterned(DType::I64, {2}, 3));
  const std::string path = dir / "m.safetensors";
  write_safetensors(path, tensors);
  const SafetensorsFile f = read_safetensors(path);
  ASSERT_EQ(f.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& got = f.tensors[i].second;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(got.raw()) % dtype_size(got.dtype()), 0u)
        << f.tensors[i].first;
    ASSERT_EQ(got.nbytes(), tensors[i].second.nbytes());
    EXPECT_EQ(std::memcmp(got.raw(), tensors[i].second.raw(), got.nbytes()), 0)
        << f.tensors[i].first;
  }
  EXPECT_EQ(f.tensors[2].second.data<float>()[6], 0.5f);
}

TEST(Safetensors, ReadsTheFixtureModelWrittenByTheReferenceLibrary) {
  const SafetensorsFile f = read_safetensors(testing::fixture("models/tiny/model.safetensors"));
  ASSERT_FALSE(f.tensors.empty());
  int f16 = 0, i64 = 0;
  for (const auto& [name, t] : f.tensors) {
    f16 += t.dtype() == DType::F16;
    if (t.dtype() == DType::I64) {
      ++i64;
      EXPECT_NE(name.find("num_batches_tracked"), std::string::npos) << name;
      EXPECT_EQ(t.ndim(), 0);
    }
  }
  EXPECT_GT(f16, 10);
  EXPECT_EQ(i64, 1);  // the decode head's BatchNorm
}

TEST(Safetensors, WriteRejectsDuplicateAndReservedNames) {
  TempDir dir;
  const Tensor t = Tensor::zeros(DType::F32, {2});
  expect_error([&] { write_safetensors(dir / "a", {{"w", t}, {"w", t}}); }, {"duplicate", "'w'"});
  expect_error([&] { write_safetensors(dir / "b", {{"__metadata__", t}}); }, {"reserved"});
}

struct BadCase {
  const char* what;
  std::string bytes;
  std::vector<std::string> fragments;
};

std::vector<BadCase> bad_cases() {
  const std::string data8(8, '\1');
  auto h = [](const char* json) { return std::string(json); };
  std::vector<BadCase> c;
  c.push_back({"shorter than the length field", std::string(5, '\0'), {"truncated", "5 bytes"}});
  {
    std::string b =
        safetensors_bytes(h(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})"), data8);
    b[0] = static_cast<char>(0xF0);  // header length 240 > file size
    c.push_back({"header length beyond the file", b, {"truncated", "header says 240"}});
  }
  {
    std::string b = safetensors_bytes("{}", "");
    b[4] = 1;  // 2^32 + 2 bytes of header
    c.push_back({"header length over the limit", b, {"exceeds the limit"}});
  }
  c.push_back(
      {"malformed JSON", safetensors_bytes(h(R"({"a": {"dtype": )"), data8), {"not valid JSON"}});
  c.push_back({"header is not an object", safetensors_bytes("[1,2]", ""), {"not a JSON object"}});
  c.push_back(
      {"unknown dtype",
       safetensors_bytes(h(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})"), data8),
       {"tensor 'a'", "unknown dtype 'Q4'"}});
  c.push_back({"missing dtype",
               safetensors_bytes(h(R"({"a":{"shape":[2],"data_offsets":[0,8]}})"), data8),
               {"tensor 'a'", "missing dtype"}});
  c.push_back(
      {"negative dimension",
       safetensors_bytes(h(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})"), data8),
       {"tensor 'a'", "non-negative integers"}});
  c.push_back(
      {"fractional dimension",
       safetensors_bytes(h(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})"), data8),
       {"non-negative integers"}});
  c.push_back(
      {"offsets not a pair",
       safetensors_bytes(h(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})"), data8),
       {"data_offsets must be [begin, end]"}});
  c.push_back(
      {"offsets beyond the data",
       safetensors_bytes(h(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})"), data8),
       {"tensor 'a'", "outside the data buffer of 8 bytes"}});
  c.push_back(
      {"reversed offsets",
       safetensors_bytes(h(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})"), data8),
       {"reversed"}});
  c.push_back(
      {"dtype x shape != byte length",
       safetensors_bytes(h(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})"), data8),
       {"tensor 'a'", "F32 x shape [3] = 12 bytes", "span 8 bytes"}});
  c.push_back({"overlapping tensors",
               safetensors_bytes(h(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                   R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})"),
                                 std::string(12, '\0')),
               {"tensor 'b' overlaps"}});
  c.push_back({"gap between tensors",
               safetensors_bytes(h(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                   R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})"),
                                 std::string(12, '\0')),
               {"gap", "'b'"}});
  c.push_back(
      {"trailing bytes",
       safetensors_bytes(h(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})"), data8),
       {"trailing"}});
  c.push_back({"duplicate tensor name",
               safetensors_bytes(h(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                   R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})"),
                                 data8),
               {"tensor 'a' twice"}});
  c.push_back(
      {"non-string metadata",
       safetensors_bytes(
           h(R"({"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})"),
           data8),
       {"__metadata__", "'k'"}});
  return c;
}

TEST(Safetensors, RejectsEachKindOfBadFileWithAPreciseMessage) {
  TempDir dir;
  int n = 0;
  for (const BadCase& c : bad_cases()) {
    SCOPED_TRACE(c.what);
    const std::string path = dir / ("bad" + std::to_string(n++) + ".safetensors");
    write_bytes(path, c.bytes);
    std::vector<std::string> fragments = c.fragments;
    fragments.push_back(path);  // every message names the file
    expect_error([&] { read_safetensors(path); }, fragments);
  }
}

TEST(Safetensors, EveryTruncationOfAValidFileIsRejected) {
  TempDir dir;
  const std::string good = dir / "good.safetensors";
  write_safetensors(good,
                    {{"a", patterned(DType::F16, {3, 2}, 1)}, {"b", patterned(DType::I64, {}, 2)}},
                    {{"format", "pt"}});
  const std::string bytes = testing::read_bytes(good);
  for (size_t len = 0; len < bytes.size(); ++len) {
    const std::string path = dir / "cut.safetensors";
    write_bytes(path, bytes.substr(0, len));
    EXPECT_THROW(read_safetensors(path), Error) << "length " << len;
  }
}

TEST(Safetensors, TruncatedFixtureNamesTheProblem) {
  TempDir dir;
  const std::string bytes = testing::read_bytes(testing::fixture("models/tiny/model.safetensors"));
  const std::string path = dir / "model.safetensors";
  write_bytes(path, bytes.substr(0, bytes.size() / 2));
  expect_error([&] { read_safetensors(path); }, {path, "outside the data buffer", "truncated"});
}

TEST(Safetensors, MissingFileIsAnError) {
  expect_error([] { read_safetensors("/nonexistent/model.safetensors"); },
               {"/nonexistent/model.safetensors", "cannot open"});
}

}  // namespace
}  // namespace segq
