// Quantized models end to end: every method of the catalog runs on the tiny and b0 fixtures
// (finite logits), a quantized checkpoint loads like any other model and gives bit for bit the
// logits of quantizing in memory, segq's int4 matches transformers on quanto's int4 weights
// (tools/make_quant_fixtures.py), and tools/dequantize.py's plain checkpoint runs as segq's int4.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "io/file_util.h"
#include "io/safetensors.h"
#include "kernels/isa.h"
#include "model/fixture_input.h"
#include "model/segformer.h"
#include "quant_test_util.h"

namespace segq {
namespace {

namespace fs = std::filesystem;

struct Fixture {
  ModelFiles files;
  WeightSet dense;
};

const Fixture& fixture(const std::string& name) {
  static std::map<std::string, Fixture> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    Fixture f;
    f.files = load_model_files(test::fixture_path("models/" + name));
    f.dense = weights_from_checkpoint(f.files.tensors, f.files.metadata, f.files.directory).weights;
    it = cache.emplace(name, std::move(f)).first;
  }
  return it->second;
}

WeightSet quantize(const std::string& model, const std::string& method) {
  PlanOptions o;
  o.method = parse_method(method);
  return quantize_model(fixture(model).dense, o).weights;
}

Tensor logits_of(const std::string& model, const WeightSet& w, const Tensor& x) {
  return make_segformer(fixture(model).files.config, w)->forward(x);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

fs::path temp_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("segq_test_qmodel_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Acceptance 6 (first half): every method runs end to end with finite logits, and the quantized
// methods really change them.
std::vector<std::string> tiny_methods() {
  std::vector<std::string> v = {"fp32",
                                "bf16",
                                "fp16",
                                "fp8",
                                "fp8-e5m2",
                                "fp8-s16",
                                "int8",
                                "int8-mse",
                                "int8-hqq-asym",
                                "int8-g64-sbf16",
                                "int4",
                                "int4-g32",
                                "int4-g64",
                                "int4-g128",
                                "int4-gc",
                                "int4-sym",
                                "int4-hqq",
                                "int4-mse",
                                "int4-s16",
                                "int4-g32-hqq-s16",
                                "int2",
                                "int2-g16",
                                "int2-g32",
                                "int2-sym",
                                "int2-hqq",
                                "int2-mse",
                                "int2-g16-mse-sym",
                                "int2-g16-hqq-s16",
                                "quanto:int8",
                                "quanto:int4",
                                "quanto:int2",
                                "quanto:fp8"};
  for (const MethodInfo& m : method_catalog()) {
    if (method_available(parse_method(m.name)) &&
        std::find(v.begin(), v.end(), m.name) == v.end()) {
      v.push_back(m.name);
    }
  }
  return v;
}

void expect_runs(const std::string& model, const std::string& method, const Tensor& x,
                 const Tensor& fp32_logits) {
  const WeightSet w = quantize(model, method);
  const Tensor y = logits_of(model, w, x);
  ASSERT_EQ(y.shape(), fp32_logits.shape()) << method;
  const float* p = y.data<float>();
  int64_t non_finite = 0;
  double diff = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    non_finite += !std::isfinite(p[i]);
    diff += std::fabs(p[i] - fp32_logits.data<float>()[i]);
  }
  EXPECT_EQ(non_finite, 0) << model << " " << method;
  // The fixtures' weights are fp16 values (tools/make_fixtures.py), so fp16 stores them exactly.
  if (method == "fp32" || method == "fp16") {
    EXPECT_EQ(diff, 0.0) << model << " " << method;
  } else {
    EXPECT_GT(diff, 0.0) << model << " " << method << " left the logits unchanged";
  }
}

TEST(QuantizedModel, EveryMethodRunsOnTiny) {
  const Tensor x = testing::fixture_input(1, 64, 64, 2);
  const Tensor ref = logits_of("tiny", fixture("tiny").dense, x);
  for (const std::string& m : tiny_methods()) expect_runs("tiny", m, x, ref);
}

TEST(QuantizedModel, RepresentativeMethodsRunOnB0) {
  const Tensor x = testing::fixture_input(1, 64, 64, 3);
  const Tensor ref = logits_of("b0", fixture("b0").dense, x);
  for (const char* m : {"bf16", "fp8", "fp8-e5m2", "int8", "int4", "int2", "int4-g32-hqq-s16",
                        "int2-hqq", "quanto:int4", "quanto:fp8"}) {
    expect_runs("b0", m, x, ref);
  }
}

// A quantized checkpoint, written and loaded back through the ordinary model loader, evaluates
// bit for bit like the in-memory quantization it came from (both kernel paths).
class CheckpointLogits : public ::testing::TestWithParam<const char*> {};

TEST_P(CheckpointLogits, LoadedCheckpointEqualsInMemoryQuantization) {
  const std::string method = GetParam();
  const WeightSet mem = quantize("tiny", method);
  std::string dir_name = method;
  for (char& c : dir_name) {
    if (c == ':') c = '_';
  }
  const fs::path dir = temp_dir(dir_name);
  const CheckpointTensors ct = quantized_checkpoint_tensors(mem, method);
  write_safetensors((dir / "model.safetensors").string(), ct.tensors, ct.metadata);
  fs::copy_file(test::fixture_path("models/tiny/config.json"), dir / "config.json");

  const ModelFiles files = load_model_files(dir.string());
  const CheckpointWeights loaded = weights_from_checkpoint(files.tensors, files.metadata, dir);
  ASSERT_TRUE(loaded.quantized);
  EXPECT_EQ(loaded.method, method);
  const Tensor x = testing::fixture_input(2, 45, 61, 5);
  for (KernelIsa isa : {KernelIsa::kRef, KernelIsa::kAvx2}) {
    if (!kernel_isa_available(isa)) continue;
    ScopedKernelIsa scoped(isa);
    const Tensor a = logits_of("tiny", mem, x);
    const Tensor b = make_segformer(files.config, loaded.weights)->forward(x);
    EXPECT_TRUE(same_bits(a, b)) << method << " " << kernel_isa_name(isa);
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Methods, CheckpointLogits,
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

// transformers' logits on the tiny model whose Linear and Conv2d weights are optimum-quanto's
// qint4 dequantized values (= segq int4, bit for bit: test_quanto_parity.cpp), within the fp32
// parity tolerance 1e-4 max(1, |expected|) of tests/model/test_segformer_parity.cpp.
TEST(QuantizedModel, Int4LogitsMatchTransformersOnQuantosWeights) {
  const SafetensorsFile f =
      read_safetensors(test::fixture_path("quant/tiny_int4_logits.safetensors"));
  ASSERT_EQ(f.tensors.size(), 1u);
  ASSERT_EQ(f.tensors[0].first, "logits_1x64x64");
  const Tensor& expected = f.tensors[0].second;  // [1, L, 16, 16]
  ASSERT_EQ(f.metadata.at("method"), "int4");
  const WeightSet w = quantize("tiny", "int4");
  const Tensor x = testing::fixture_input(1, 64, 64, 2);
  for (KernelIsa isa : {KernelIsa::kRef, KernelIsa::kAvx2}) {
    if (!kernel_isa_available(isa)) continue;
    ScopedKernelIsa scoped(isa);
    const Tensor y = logits_of("tiny", w, x);  // [1, 16, 16, L]
    const int64_t L = y.dim(3);
    ASSERT_EQ(expected.shape(), (Shape{1, L, 16, 16}));
    const Tensor e32 = expected.to_f32();
    int64_t bad = 0;
    double worst = 0;
    for (int64_t l = 0; l < L; ++l) {
      for (int64_t p = 0; p < 256; ++p) {
        const double ev = e32.data<float>()[l * 256 + p];
        const double d = std::fabs(y.data<float>()[p * L + l] - ev);
        const double tol = 1e-4 * std::max(1.0, std::fabs(ev));
        worst = std::max(worst, d / tol);
        bad += !(d <= tol);
      }
    }
    EXPECT_EQ(bad, 0) << kernel_isa_name(isa) << ": worst diff/tol " << worst;
  }
}

// tools/dequantize.py (run with the test virtualenv's python; numpy only) turns `segq quantize`'s
// int4 checkpoint into a plain fp32 checkpoint; segq loads that as an ordinary fp32 model and its
// logits equal segq's int4 model's. Under the scalar ISA the reassociation bound is 0 (the file
// holds exactly the values segq's decoders produce, and the reference kernels do not depend on
// the weight format), so they must be equal bit for bit.
TEST(QuantizedModel, DequantizePyCheckpointRunsAsSegqsInt4) {
  const std::string python = std::string(SEGQ_SOURCE_DIR) + "/.venv-test/bin/python";
  if (!fs::exists(python)) GTEST_SKIP() << "no " << python << " (scripts/install-test-deps.sh)";
  const fs::path dir = temp_dir("dequantize_py");
  const std::string q = (dir / "int4").string(), plain = (dir / "plain").string();
  const std::string quantize_cmd = std::string(SEGQ_EXE) + " quantize --model " +
                                   test::fixture_path("models/tiny") + " --method int4 --out " + q +
                                   " > /dev/null 2>&1";
  ASSERT_EQ(std::system(quantize_cmd.c_str()), 0) << quantize_cmd;
  const std::string deq_cmd = python + " " + SEGQ_SOURCE_DIR + "/tools/dequantize.py " + q + " " +
                              plain + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(deq_cmd.c_str()), 0) << deq_cmd;

  const ModelFiles files = load_model_files(plain);
  const CheckpointWeights w = weights_from_checkpoint(files.tensors, files.metadata, plain);
  EXPECT_FALSE(w.quantized);
  EXPECT_EQ(files.metadata.at("segq.dequantized_from"), "int4");
  ScopedKernelIsa scalar(KernelIsa::kRef);
  const Tensor x = testing::fixture_input(2, 45, 61, 5);
  const Tensor a = logits_of("tiny", quantize("tiny", "int4"), x);
  const Tensor b = make_segformer(files.config, w.weights)->forward(x);
  EXPECT_TRUE(same_bits(a, b));
  fs::remove_all(dir.parent_path());
}

}  // namespace
}  // namespace segq
