// Quantized checkpoints: bit-identical round trips through a real safetensors file, file size =
// reported bytes + header, and clear failures for truncated or inconsistent quantization maps.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/file_util.h"
#include "io/safetensors.h"
#include "quant/checkpoint.h"
#include "quant/size_report.h"
#include "quant_test_util.h"

namespace segq {
namespace {

namespace fs = std::filesystem;

const WeightSet& tiny() {
  static const WeightSet w = test::fixture_weights("tiny");
  return w;
}

WeightSet quantized_tiny(const std::string& method) {
  PlanOptions o;
  o.method = parse_method(method);
  return quantize_weights(tiny(), make_quant_plan(tiny(), o));
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

fs::path temp_dir() {
  const fs::path d =
      fs::temp_directory_path() / ("segq_test_checkpoint_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

class CheckpointRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(CheckpointRoundTrip, BitIdenticalAndSizedAsReported) {
  const std::string method = GetParam();
  const WeightSet q = quantized_tiny(method);
  const CheckpointTensors ct = quantized_checkpoint_tensors(q, method);
  const fs::path path = temp_dir() / "model.safetensors";
  write_safetensors(path.string(), ct.tensors, ct.metadata);

  const SafetensorsFile f = read_safetensors(path.string());
  const SizeReport report = make_size_report(q, method);
  EXPECT_EQ(fs::file_size(path), f.header_bytes + static_cast<uint64_t>(report.total_bytes))
      << "file size = reported bytes + header";

  const CheckpointWeights back = weights_from_checkpoint(f.tensors, f.metadata, path.string());
  EXPECT_TRUE(back.quantized);
  EXPECT_EQ(back.method, method);
  ASSERT_EQ(back.weights.size(), q.size());
  for (const auto& [name, w] : q) {
    ASSERT_TRUE(back.weights.count(name)) << name;
    const Weight& b = back.weights.at(name);
    ASSERT_EQ(b.is_quantized(), w.is_quantized()) << name;
    if (!w.is_quantized()) {
      EXPECT_TRUE(same_bytes(b.dense_tensor(), w.dense_tensor())) << name;
      continue;
    }
    const QTensor& x = w.qtensor();
    const QTensor& y = b.qtensor();
    EXPECT_EQ(y.format, x.format) << name;
    EXPECT_EQ(y.shape, x.shape) << name;
    EXPECT_EQ(y.rows, x.rows);
    EXPECT_EQ(y.cols, x.cols);
    EXPECT_EQ(y.group_size, x.group_size) << name;
    EXPECT_EQ(y.symmetric, x.symmetric) << name;
    EXPECT_EQ(y.method, x.method) << name;
    EXPECT_EQ(y.codes.nbytes(), x.codes.nbytes());
    EXPECT_EQ(0, std::memcmp(y.codes.raw(), x.codes.raw(), x.codes.nbytes())) << name;
    if (x.scales.raw()) {
      EXPECT_TRUE(same_bytes(y.scales, x.scales)) << name;
    }
    if (!x.symmetric) {
      EXPECT_TRUE(same_bytes(y.shifts, x.shifts)) << name;
    }
    EXPECT_EQ(y.stored_bytes(), x.stored_bytes()) << name;
  }
  // Same report from the loaded checkpoint; a second quantization is refused.
  EXPECT_EQ(make_size_report(back.weights, back.method).total_bytes, report.total_bytes);
  PlanOptions o;
  o.method = parse_method("int4");
  EXPECT_THROW(quantize_weights(back.weights, make_quant_plan(back.weights, o)), Error);
  fs::remove_all(path.parent_path());
}

INSTANTIATE_TEST_SUITE_P(Methods, CheckpointRoundTrip,
                         ::testing::Values("int4", "int2", "int8", "fp8", "fp8-e5m2-s16", "bf16",
                                           "fp16", "int4-g32-hqq-s16", "int2-g16-mse-sym",
                                           "int8-g64-sbf16", "quanto:int4"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s) {
                             if (c == '-' || c == ':') c = '_';
                           }
                           return s;
                         });

// A valid int4 checkpoint in memory, to corrupt one way at a time.
struct Corruptible {
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;
  nlohmann::json map;
  Corruptible() {
    CheckpointTensors ct = quantized_checkpoint_tensors(quantized_tiny("int4"), "int4");
    tensors = ct.tensors;
    metadata = ct.metadata;
    map = nlohmann::json::parse(metadata[kQuantizationMapKey]);
  }
  std::string load_error() {
    metadata[kQuantizationMapKey] = map.dump();
    try {
      weights_from_checkpoint(tensors, metadata, "ckpt/model.safetensors");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

const char* kQuery = "segformer.encoder.block.0.0.attention.self.query.weight";

void expect_error(Corruptible& c, const std::vector<std::string>& needles) {
  const std::string err = c.load_error();
  ASSERT_FALSE(err.empty()) << "corruption was accepted";
  EXPECT_NE(err.find("ckpt/model.safetensors"), std::string::npos) << err;
  for (const std::string& n : needles) EXPECT_NE(err.find(n), std::string::npos) << err;
}

TEST(CheckpointErrors, ValidBaselineLoads) {
  Corruptible c;
  EXPECT_EQ(c.load_error(), "");
}

TEST(CheckpointErrors, TruncatedMap) {
  Corruptible c;
  const std::string text = c.map.dump();
  c.metadata[kQuantizationMapKey] = text.substr(0, text.size() / 2);
  try {
    weights_from_checkpoint(c.tensors, c.metadata, "ckpt/model.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
}

TEST(CheckpointErrors, InconsistentMaps) {
  {
    Corruptible c;  // an entry dropped: its packed tensors are left over
    c.map["tensors"].erase(kQuery);
    expect_error(c, {kQuery, "not referenced"});
  }
  {
    Corruptible c;  // a referenced tensor missing
    c.map["tensors"][kQuery]["scales"] = "nope.scales";
    expect_error(c, {kQuery, "nope.scales"});
  }
  {
    Corruptible c;  // wrong group size -> scales shape mismatch
    c.map["tensors"][kQuery]["group_size"] = 8;
    expect_error(c, {".scales", "[16, 2]"});
  }
  {
    Corruptible c;
    c.map["tensors"][kQuery]["group_size"] = 999;
    expect_error(c, {kQuery, "group_size"});
  }
  {
    Corruptible c;  // wrong shape -> codes shape mismatch
    c.map["tensors"][kQuery]["shape"] = {16, 18};
    expect_error(c, {".codes", "U8"});
  }
  {
    Corruptible c;
    c.map["tensors"][kQuery]["format"] = "int3";
    expect_error(c, {kQuery, "int3"});
  }
  {
    Corruptible c;
    c.map["tensors"][kQuery]["symmetric"] = true;  // shifts then unreferenced / named
    expect_error(c, {kQuery});
  }
  {
    Corruptible c;
    c.map["tensors"][kQuery].erase("codes");
    expect_error(c, {kQuery, "'codes'"});
  }
  {
    Corruptible c;
    c.map["tensors"][kQuery]["scale_dtype"] = "F64";
    expect_error(c, {"scale_dtype"});
  }
  {
    Corruptible c;
    c.map["version"] = 2;
    expect_error(c, {"version"});
  }
  {
    Corruptible c;
    c.map.erase("tensors");
    expect_error(c, {"tensors"});
  }
  {
    Corruptible c;  // two entries sharing one codes tensor
    const std::string other = "segformer.encoder.block.0.0.attention.self.key.weight";
    c.map["tensors"][other]["codes"] = std::string(kQuery) + ".codes";
    expect_error(c, {"referenced twice"});
  }
}

TEST(Checkpoint, TruncatedFileFailsInTheReader) {
  const WeightSet q = quantized_tiny("int4");
  const CheckpointTensors ct = quantized_checkpoint_tensors(q, "int4");
  const fs::path path = temp_dir() / "model.safetensors";
  write_safetensors(path.string(), ct.tensors, ct.metadata);
  const std::string bytes = read_file(path.string());
  write_file_atomic(path.string(), bytes.substr(0, bytes.size() - 100));
  EXPECT_THROW(read_safetensors(path.string()), Error);
  fs::remove_all(path.parent_path());
}

TEST(Checkpoint, PlainCheckpointsLoadDense) {
  const ModelFiles m = load_model_files(test::fixture_path("models/tiny"));
  EXPECT_FALSE(has_quantization_map(m.metadata));
  const CheckpointWeights w = weights_from_checkpoint(m.tensors, m.metadata, m.directory);
  EXPECT_FALSE(w.quantized);
  EXPECT_TRUE(w.method.empty());
  ASSERT_EQ(w.weights.size(), tiny().size());
  for (const auto& [name, t] : w.weights) {
    EXPECT_FALSE(t.is_quantized());
    EXPECT_TRUE(same_bytes(t.dense_tensor(), tiny().at(name).dense_tensor())) << name;
  }
}

}  // namespace
}  // namespace segq
