#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>

#include "core/half.h"
#include "io/pytorch_bin.h"
#include "io/safetensors.h"
#include "io/torch_pickle.h"
#include "io_test_util.h"

namespace segq {
namespace {

using testing::expect_error;
using testing::fixture;
using testing::PickleWriter;
using testing::TempDir;
using testing::write_bytes;
using testing::write_zip;
using testing::ZipMember;

std::map<std::string, Tensor> by_name(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::map<std::string, Tensor> m;
  for (const auto& [k, t] : v) m[k] = t;
  return m;
}

std::string f32_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// A torch.save-style archive around `pickle` with the given storages (data/<key>).
void write_torch_zip(const std::string& path, const std::string& pickle,
                     const std::map<std::string, std::string>& storages,
                     const std::string& byteorder = "little") {
  std::vector<ZipMember> members = {{"archive/data.pkl", pickle, false}};
  if (!byteorder.empty()) members.push_back({"archive/byteorder", byteorder, false});
  members.push_back({"archive/version", "3\n", false});
  for (const auto& [key, bytes] : storages)
    members.push_back({"archive/data/" + key, bytes, false});
  write_zip(path, members);
}

// {name: tensor(storage "0", F32)} with the given view.
std::string one_tensor_pickle(int64_t numel, int64_t offset, const std::vector<int64_t>& size,
                              const std::vector<int64_t>& stride) {
  PickleWriter p;
  p.proto().empty_dict().mark().str("w").tensor("FloatStorage", "0", numel, offset, size, stride);
  return p.setitems().stop().bytes();
}

TEST(PytorchBin, FixtureMatchesTheSafetensorsOfTheSameModel) {
  const PytorchBinFile bin = read_pytorch_bin(fixture("models/tiny-bin/pytorch_model.bin"));
  const SafetensorsFile st = read_safetensors(fixture("models/tiny/model.safetensors"));
  const auto want = by_name(st.tensors);
  ASSERT_EQ(bin.tensors.size(), want.size());
  for (const auto& [name, t] : bin.tensors) {
    SCOPED_TRACE(name);
    const auto it = want.find(name);
    ASSERT_NE(it, want.end());
    const Tensor& ref = it->second;
    ASSERT_EQ(t.shape(), ref.shape());
    if (ref.dtype() == DType::I64) {
      ASSERT_EQ(t.dtype(), DType::I64);
      EXPECT_EQ(std::memcmp(t.raw(), ref.raw(), t.nbytes()), 0);
      continue;
    }
    ASSERT_EQ(t.dtype(), DType::F32);  // the .bin stores fp32 of the fp16 values
    const Tensor a = t.to_f32();
    const Tensor b = ref.to_f32();
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
  }
}

// Every variant torch.save writes (tools/make_io_fixtures.py) equals its contiguous copy.
TEST(PytorchBin, TorchSaveVariantsMatchTheirExpectedValues) {
  const SafetensorsFile st = read_safetensors(fixture("io/torch/expected.safetensors"));
  const auto expected = by_name(st.tensors);
  for (const char* name : {"variants", "proto4", "wrapped", "params"}) {
    SCOPED_TRACE(name);
    const PytorchBinFile bin = read_pytorch_bin(fixture(std::string("io/torch/") + name + ".bin"));
    size_t want_count = 0;
    for (const auto& [k, t] : expected) want_count += k.rfind(std::string(name) + "/", 0) == 0;
    EXPECT_EQ(bin.tensors.size(), want_count);
    for (const auto& [key, t] : bin.tensors) {
      SCOPED_TRACE(key);
      const auto it = expected.find(std::string(name) + "/" + key);
      ASSERT_NE(it, expected.end());
      EXPECT_EQ(t.dtype(), it->second.dtype());
      ASSERT_EQ(t.shape(), it->second.shape());
      EXPECT_EQ(std::memcmp(t.raw(), it->second.raw(), t.nbytes()), 0);
    }
  }
  // Spot checks of what the variants exercise.
  const auto v = by_name(read_pytorch_bin(fixture("io/torch/variants.bin")).tensors);
  EXPECT_EQ(v.at("1.num_batches_tracked").dtype(), DType::I64);
  EXPECT_EQ(v.at("1.num_batches_tracked").ndim(), 0);
  EXPECT_EQ(*v.at("1.num_batches_tracked").data<int64_t>(), 7);
  EXPECT_EQ(v.at("extra.transposed").shape(), (Shape{5, 3}));
  EXPECT_EQ(v.at("extra.offset").data<float>()[0], -1.5f);  // base[3] = 3 * 0.5 - 3
  EXPECT_EQ(v.at("extra.step").data<float>()[1], -1.0f);    // base[4]
  EXPECT_EQ(v.at("extra.empty").numel(), 0);
}

TEST(PytorchBin, LegacyAndForeignFormatsAreRejected) {
  expect_error([] { read_pytorch_bin(fixture("io/torch/legacy.bin")); }, {"legacy.bin", "legacy"});
  TempDir dir;
  write_bytes(dir / "junk.bin", "GIF89a not a checkpoint");
  expect_error([&] { read_pytorch_bin(dir / "junk.bin"); },
               {"junk.bin", "not a PyTorch checkpoint"});
  expect_error([&] { read_pytorch_bin(dir / "absent.bin"); }, {"absent.bin", "cannot open"});
}

TEST(PytorchBin, CorruptZipIsRejected) {
  TempDir dir;
  const std::string bytes = testing::read_bytes(fixture("models/tiny-bin/pytorch_model.bin"));
  write_bytes(dir / "half.bin", bytes.substr(0, bytes.size() / 2));
  expect_error([&] { read_pytorch_bin(dir / "half.bin"); }, {"half.bin", "zip"});
  // Damage a storage in place: its CRC no longer matches.
  std::string damaged = bytes;
  const size_t data0 = damaged.find("pytorch_model/data/0");
  ASSERT_NE(data0, std::string::npos);
  damaged[data0 + 200] ^= 0x40;
  write_bytes(dir / "crc.bin", damaged);
  expect_error([&] { read_pytorch_bin(dir / "crc.bin"); }, {"crc.bin", "data/0", "CRC"});
}

TEST(PytorchBin, StructuralProblemsAreNamed) {
  TempDir dir;
  const std::string pickle = one_tensor_pickle(4, 0, {2, 2}, {2, 1});
  const std::string storage = f32_bytes({1, 2, 3, 4});

  write_zip(dir / "nopkl.bin", {{"archive/data/0", storage, false}});
  expect_error([&] { read_pytorch_bin(dir / "nopkl.bin"); }, {"nopkl.bin", "no <name>/data.pkl"});

  write_torch_zip(dir / "nostorage.bin", pickle, {});
  expect_error([&] { read_pytorch_bin(dir / "nostorage.bin"); },
               {"nostorage.bin", "storage '0' is missing", "archive/data/0"});

  write_torch_zip(dir / "short.bin", pickle, {{"0", storage.substr(0, 12)}});
  expect_error([&] { read_pytorch_bin(dir / "short.bin"); },
               {"short.bin", "storage '0' has 12 bytes", "4 x F32 = 16 bytes"});

  write_torch_zip(dir / "big.bin", pickle, {{"0", storage}}, "big");
  expect_error([&] { read_pytorch_bin(dir / "big.bin"); }, {"big.bin", "byteorder 'big'"});

  write_torch_zip(dir / "view.bin", one_tensor_pickle(4, 1, {2, 2}, {2, 1}), {{"0", storage}});
  expect_error([&] { read_pytorch_bin(dir / "view.bin"); },
               {"view.bin", "reads element 4 of storage '0' which has 4 elements"});

  // No byteorder member (older torch): little-endian is assumed.
  write_torch_zip(dir / "ok.bin", pickle, {{"0", storage}}, "");
  const auto t = read_pytorch_bin(dir / "ok.bin").tensors;
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].second.data<float>()[3], 4.0f);
}

TEST(PytorchBin, OffsetsStridesAndSharedStorage) {
  TempDir dir;
  // storage: 0..11; a = view [2,3] at offset 3; b = transpose of [3,4] (strides 1,4); c = stride 0.
  std::vector<float> values(12);
  for (int i = 0; i < 12; ++i) values[i] = static_cast<float>(i);
  PickleWriter p;
  p.proto().empty_dict().mark();
  p.str("a").tensor("FloatStorage", "0", 12, 3, {2, 3}, {3, 1});
  p.str("b").tensor("FloatStorage", "0", 12, 0, {4, 3}, {1, 4});
  p.str("c").tensor("FloatStorage", "0", 12, 5, {2, 2}, {0, 1});
  p.str("s").tensor("LongStorage", "1", 1, 0, {}, {});
  std::string i64(8, '\0');
  i64[0] = 42;
  write_torch_zip(dir / "v.bin", p.setitems().stop().bytes(),
                  {{"0", f32_bytes(values)}, {"1", i64}});
  const auto t = by_name(read_pytorch_bin(dir / "v.bin").tensors);
  const float* a = t.at("a").data<float>();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a[i], 3.0f + static_cast<float>(i));
  const float* b = t.at("b").data<float>();
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(b[r * 3 + c], static_cast<float>(r + 4 * c));
  }
  const float* c = t.at("c").data<float>();
  EXPECT_EQ(c[0], 5.0f);
  EXPECT_EQ(c[1], 6.0f);
  EXPECT_EQ(c[2], 5.0f);
  EXPECT_EQ(c[3], 6.0f);
  EXPECT_EQ(*t.at("s").data<int64_t>(), 42);
}

// A "checkpoint" whose pickle calls os.system (the classic pickle exploit) must be refused before
// anything runs: the command would create a file.
TEST(PytorchBin, MaliciousGlobalsAreRefusedAndNothingRuns) {
  TempDir dir;
  const std::string witness = dir / "pwned";
  struct Case {
    std::string module, name;
  };
  for (const Case& c : std::vector<Case>{{"os", "system"},
                                         {"posix", "system"},
                                         {"builtins", "eval"},
                                         {"builtins", "exec"},
                                         {"subprocess", "Popen"},
                                         {"torch", "load"},
                                         {"torch._utils", "_rebuild_device_tensor_from_numpy"},
                                         {"collections", "defaultdict"}}) {
    SCOPED_TRACE(c.module + "." + c.name);
    PickleWriter p;
    p.proto().global(c.module, c.name).mark().str("touch " + witness).tuple().reduce().stop();
    const std::string path = dir / "evil.bin";
    write_torch_zip(path, p.bytes(), {});
    expect_error([&] { read_pytorch_bin(path); },
                 {path, "data.pkl", "refusing global '" + c.module + "." + c.name + "'"});
  }
  {  // the same through STACK_GLOBAL (protocol 4)
    PickleWriter p;
    p.proto(4).op(0x8c).byte(2).raw("os").op(0x8c).byte(6).raw("system").op(0x93);
    p.mark().str("touch " + witness).tuple().reduce().stop();
    write_torch_zip(dir / "evil4.bin", p.bytes(), {});
    expect_error([&] { read_pytorch_bin(dir / "evil4.bin"); }, {"refusing global 'os.system'"});
  }
  // Opcodes that instantiate classes are refused even without a global.
  for (uint8_t op : {uint8_t{'i'}, uint8_t{'o'}, uint8_t{0x81}, uint8_t{0x92}, uint8_t{0x82}}) {
    PickleWriter p;
    p.proto().mark().op(op).stop();
    write_torch_zip(dir / "op.bin", p.bytes(), {});
    expect_error([&] { read_pytorch_bin(dir / "op.bin"); }, {"refusing opcode"});
  }
  // Allowed globals may not be called in unintended ways.
  {
    PickleWriter p;
    p.proto().global("torch", "FloatStorage").empty_tuple().reduce().stop();
    write_torch_zip(dir / "call.bin", p.bytes(), {});
    expect_error([&] { read_pytorch_bin(dir / "call.bin"); },
                 {"refusing to call 'torch.FloatStorage'"});
  }
  EXPECT_FALSE(std::filesystem::exists(witness));
}

TEST(TorchPickle, WrappersAndNonTensorValues) {
  const TorchStorageLoader load = [](const std::string&, DType dtype, uint64_t numel) {
    return Tensor::zeros(dtype, {static_cast<int64_t>(numel)});
  };
  {  // {"epoch": 3, "state_dict": {"w": tensor}}
    PickleWriter p;
    p.proto().empty_dict().mark().str("epoch").integer(3).str("state_dict").empty_dict();
    p.mark().str("w").tensor("HalfStorage", "0", 6, 0, {2, 3}, {3, 1}).setitems();
    p.setitems().stop();
    const auto t = unpickle_torch_state_dict(p.bytes(), load, "x");
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].first, "w");
    EXPECT_EQ(t[0].second.dtype(), DType::F16);
  }
  {  // no tensors at all
    PickleWriter p;
    p.proto().empty_dict().mark().str("epoch").integer(3).setitems().stop();
    expect_error([&] { unpickle_torch_state_dict(p.bytes(), load, "where"); },
                 {"where", "no tensors", "'epoch'"});
  }
  {  // a list at top level
    PickleWriter p;
    p.proto().op(']').stop();
    expect_error([&] { unpickle_torch_state_dict(p.bytes(), load, "w"); }, {"holds a list"});
  }
  {  // a key repeated: the last value wins, the first position stays (Python dict semantics)
    PickleWriter p;
    p.proto().empty_dict().mark();
    p.str("a").tensor("FloatStorage", "0", 1, 0, {1}, {1});
    p.str("b").tensor("FloatStorage", "1", 2, 0, {2}, {1});
    p.str("a").tensor("FloatStorage", "2", 3, 0, {3}, {1});
    p.setitems().stop();
    const auto t = unpickle_torch_state_dict(p.bytes(), load, "x");
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].first, "a");
    EXPECT_EQ(t[0].second.numel(), 3);
  }
  {  // one storage referenced with two dtypes
    PickleWriter p;
    p.proto().empty_dict().mark();
    p.str("a").tensor("FloatStorage", "0", 4, 0, {4}, {1});
    p.str("b").tensor("HalfStorage", "0", 4, 0, {4}, {1});
    p.setitems().stop();
    expect_error([&] { unpickle_torch_state_dict(p.bytes(), load, "x"); },
                 {"storage '0'", "two different types"});
  }
}

// Every truncation and every single-byte corruption of a valid pickle either parses or throws
// segq::Error: no crash, no hang, no leak (this runs under the sanitizers too).
TEST(TorchPickle, SurvivesTruncationAndByteFlips) {
  PickleWriter p;
  p.proto().global("collections", "OrderedDict").empty_tuple().reduce().op('q').byte(0).mark();
  p.str("a").tensor("FloatStorage", "0", 8, 2, {2, 3}, {3, 1});
  p.str("b").tensor("BFloat16Storage", "1", 4, 0, {2, 2}, {1, 2});
  p.str("c").op('h').byte(0);  // the dict itself, through the memo (a cycle)
  p.setitems().stop();
  const std::string good = p.bytes();
  const TorchStorageLoader load = [](const std::string& key, DType dtype, uint64_t numel) {
    if (numel > 1000) throw Error("storage '" + key + "' too big for the test");
    return Tensor::zeros(dtype, {static_cast<int64_t>(numel)});
  };
  EXPECT_EQ(unpickle_torch_state_dict(good, load, "x").size(), 2u);
  int errors = 0;
  for (size_t len = 0; len < good.size(); ++len) {
    try {
      unpickle_torch_state_dict(good.substr(0, len), load, "x");
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_EQ(errors, static_cast<int>(good.size()));  // a cut pickle never has its STOP
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xFF}}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      try {
        unpickle_torch_state_dict(bad, load, "x");
      } catch (const Error&) {
      }
    }
  }
}

}  // namespace
}  // namespace segq
