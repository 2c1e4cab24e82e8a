// Logit fidelity of quantization methods (`segq nmse`) and per-layer sensitivity
// (`segq sensitivity`) on the tiny fixture with synthetic scenes (`segq synth`).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/preprocess.h"
#include "data/synth_dataset.h"
#include "eval/layer_sensitivity.h"
#include "eval/logit_fidelity.h"
#include "io/file_util.h"
#include "io/model_files.h"
#include "model/segformer.h"
#include "quant/checkpoint.h"
#include "quant/size_report.h"

namespace segq {
namespace {

namespace fs = std::filesystem;

const std::string kTiny = std::string(SEGQ_SOURCE_DIR) + "/tests/fixtures/models/tiny";

fs::path scratch() {
  static const fs::path d =
      fs::temp_directory_path() / ("segq_test_quant_fidelity_" + std::to_string(::getpid()));
  return d;
}

// Two 64x64 synthetic scenes with tiny's 11 labels (0 = other), written once.
const fs::path& synth_dir() {
  static const fs::path dir = [] {
    const fs::path d = scratch() / "synth";
    fs::remove_all(d);
    SynthOptions o;
    o.out_dir = d.string();
    o.count = 2;
    o.height = 64;
    o.width = 64;
    o.seed = 3;
    o.num_classes = 10;
    write_synth_dataset(o);
    return d;
  }();
  return dir;
}

struct Tiny {
  ModelFiles files;
  WeightSet dense;
  std::vector<Tensor> inputs;  // the synthetic scenes at 64x64 (hf protocol)
};

const Tiny& tiny() {
  static const Tiny t = [] {
    Tiny x;
    x.files = load_model_files(kTiny);
    x.dense = weights_from_checkpoint(x.files.tensors, x.files.metadata, kTiny).weights;
    DatasetOptions d;
    d.data = synth_dir().string();
    PreprocessConfig pre;
    pre.height = pre.width = 64;
    x.inputs = prepare_model_inputs(*open_dataset(d), Protocol::Hf, pre, 11, 0);
    return x;
  }();
  return t;
}

PlanOptions plan(const std::string& method) {
  PlanOptions o;
  o.method = parse_method(method);
  return o;
}

TEST(LogitComparison, Measures) {
  // Two pixels, three labels.
  const Tensor ref = Tensor::from_vector(std::vector<float>{1, 2, 3, 3, 2, 1}, {1, 1, 2, 3});
  const Tensor got = Tensor::from_vector(std::vector<float>{1, 2, 2, 3, 2, 1}, {1, 1, 2, 3});
  LogitComparison c;
  c.add(ref, ref);
  EXPECT_EQ(c.nmse(), 0.0);
  EXPECT_TRUE(std::isinf(c.sqnr_db()));
  EXPECT_EQ(c.top1_agreement(), 1.0);
  // Noise 1 over a signal of 2 x 28; pixel 0's first maximum moves from label 2 to label 1.
  c.add(ref, got);
  EXPECT_DOUBLE_EQ(c.nmse(), 1.0 / 56.0);
  EXPECT_DOUBLE_EQ(c.sqnr_db(), 10.0 * std::log10(56.0));
  EXPECT_DOUBLE_EQ(c.top1_agreement(), 3.0 / 4.0);
}

TEST(LogitFidelity, OrdersFormatsAndMatchesAHandComputation) {
  const Tiny& t = tiny();
  ASSERT_EQ(t.inputs.size(), 2u);
  EXPECT_EQ(t.inputs[0].shape(), (Shape{1, 3, 64, 64}));
  const std::vector<MethodFidelity> rows = logit_fidelity(
      t.files.config, t.dense, {plan("fp32"), plan("int8"), plan("int4"), plan("int2")}, t.inputs);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].method, "fp32");
  EXPECT_EQ(rows[0].logits.nmse(), 0.0);
  EXPECT_EQ(rows[0].logits.top1_agreement(), 1.0);
  EXPECT_EQ(rows[0].logits.pixels, 2 * 16 * 16);
  // Fewer bits, more damage (a measured ordering on this model, by orders of magnitude).
  EXPECT_GT(rows[1].logits.nmse(), 0.0);
  EXPECT_LT(rows[1].logits.nmse(), rows[2].logits.nmse());
  EXPECT_LT(rows[2].logits.nmse(), rows[3].logits.nmse());
  EXPECT_LT(rows[1].logits.nmse(), 1e-3);  // int8 is near lossless
  EXPECT_LT(rows[3].bytes, rows[2].bytes);
  // int4 by hand.
  const QuantizedModel q = quantize_model(t.dense, plan("int4"));
  auto fp = make_segformer(t.files.config, t.dense);
  auto m4 = make_segformer(t.files.config, q.weights);
  double s = 0, e = 0;
  for (const Tensor& x : t.inputs) {
    const Tensor a = fp->forward(x), b = m4->forward(x);
    for (int64_t i = 0; i < a.numel(); ++i) {
      const double y = a.data<float>()[i], d = b.data<float>()[i] - y;
      s += y * y;
      e += d * d;
    }
  }
  EXPECT_NEAR(rows[2].logits.nmse(), e / s, 1e-12 * e / s);
  EXPECT_EQ(rows[2].bytes, make_size_report(q.weights, "int4").total_bytes);
  const std::string text = logit_fidelity_text(rows);
  EXPECT_NE(text.find("logit NMSE"), std::string::npos);
  EXPECT_EQ(logit_fidelity_json(rows).size(), 4u);
}

TEST(LayerSensitivity, OneLayerAtATimeMostDamagingFirst) {
  const Tiny& t = tiny();
  const SensitivityReport r =
      layer_sensitivity(t.files.config, t.dense, parse_method("int2"), t.inputs);
  EXPECT_EQ(r.method, "int2");
  EXPECT_EQ(r.inputs, 2);
  ASSERT_EQ(r.layers.size(), 72u);  // every Linear and Conv weight of tiny
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const LayerSensitivity& l = r.layers[i];
    EXPECT_TRUE(std::isfinite(l.logits.sqnr_db())) << l.name;
    EXPECT_TRUE(std::isfinite(l.output.sqnr_db())) << l.name;
    EXPECT_GT(l.output.signal, 0.0) << l.name << " was never observed";
    EXPECT_LT(l.bytes_quantized, l.bytes_fp32) << l.name;
    if (i > 0) {
      EXPECT_LE(r.layers[i - 1].logits.sqnr_db(), l.logits.sqnr_db());
    }
  }
  // The classifier's output is the logits: both SQNRs are the same sums.
  const LayerSensitivity* cls = nullptr;
  const LayerSensitivity* worst = &r.layers.front();
  for (const LayerSensitivity& l : r.layers) {
    if (l.name == "decode_head.classifier.weight") cls = &l;
  }
  ASSERT_NE(cls, nullptr);
  EXPECT_DOUBLE_EQ(cls->output.sqnr_db(), cls->logits.sqnr_db());
  // The worst layer by hand: only it quantized.
  WeightSet w = t.dense;
  w[worst->name] =
      quantize_weights(t.dense, single_layer_plan(t.dense, worst->name, parse_method("int2")))
          .at(worst->name);
  auto fp = make_segformer(t.files.config, t.dense);
  auto one = make_segformer(t.files.config, w);
  LogitComparison c;
  for (const Tensor& x : t.inputs) c.add(fp->forward(x), one->forward(x));
  EXPECT_DOUBLE_EQ(c.sqnr_db(), worst->logits.sqnr_db());
  EXPECT_EQ(c.agree, worst->logits.agree);
  EXPECT_NE(sensitivity_text(r).find(worst->name), std::string::npos);
  EXPECT_EQ(sensitivity_json(r)["layers"].size(), 72u);
}

TEST(LayerSensitivity, QuantoScopeVisitsLinearLayersOnly) {
  const Tiny& t = tiny();
  const std::vector<Tensor> one = {t.inputs[0]};
  const SensitivityReport r =
      layer_sensitivity(t.files.config, t.dense, parse_method("quanto:int8"), one);
  EXPECT_EQ(r.layers.size(), 52u);
  for (const LayerSensitivity& l : r.layers) EXPECT_EQ(l.role, "linear") << l.name;
  EXPECT_THROW(layer_sensitivity(t.files.config, t.dense, parse_method("fp32"), one), UsageError);
}

// Both commands end to end on a copy of tiny whose preprocessor_config.json says 64x64.
std::pair<int, std::string> run(const std::string& args) {
  const std::string cmd = std::string(SEGQ_EXE) + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

fs::path tiny64() {
  const fs::path d = scratch() / "tiny64";
  if (!fs::exists(d / "model.safetensors")) {
    fs::create_directories(d);
    fs::copy_file(kTiny + "/config.json", d / "config.json", fs::copy_options::overwrite_existing);
    fs::copy_file(kTiny + "/model.safetensors", d / "model.safetensors",
                  fs::copy_options::overwrite_existing);
    write_file_atomic((d / "preprocessor_config.json").string(),
                      R"({"size": {"height": 64, "width": 64}})");
  }
  return d;
}

TEST(QuantFidelityCli, NmseAndSensitivity) {
  const std::string model = tiny64().string(), data = synth_dir().string();
  auto [code, out] = run("nmse --model " + model + " --data " + data +
                         " --methods fp32,int8,int4-g32-hqq --limit 1 --json");
  ASSERT_EQ(code, 0) << out;
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["inputs"], 1);
  ASSERT_EQ(j["methods"].size(), 3u);
  EXPECT_EQ(j["methods"][0]["logit_nmse"], 0.0);
  EXPECT_EQ(j["methods"][0]["logit_sqnr_db"], "inf");
  EXPECT_EQ(j["methods"][2]["method"], "int4-g32-hqq");
  EXPECT_GT(j["methods"][2]["logit_nmse"].get<double>(), 0.0);

  std::tie(code, out) =
      run("sensitivity --model " + model + " --data " + data + " --method int4 --limit 1 --json");
  ASSERT_EQ(code, 0) << out;
  j = nlohmann::json::parse(out);
  ASSERT_EQ(j["layers"].size(), 72u);
  EXPECT_EQ(j["inputs"], 1);
  for (size_t i = 1; i < j["layers"].size(); ++i) {
    EXPECT_LE(j["layers"][i - 1]["logits_sqnr_db"].get<double>(),
              j["layers"][i]["logits_sqnr_db"].get<double>());
  }
  std::tie(code, out) = run("sensitivity --model " + model + " --data " + data + " --method int4");
  ASSERT_EQ(code, 0);
  EXPECT_NE(out.find("most damaging first"), std::string::npos) << out;
  EXPECT_EQ(run("sensitivity --model " + model + " --data " + data + " --method fp32").first, 2);
  EXPECT_EQ(run("sensitivity --model " + model + " --method int4").first, 2) << "--data required";
  EXPECT_EQ(run("nmse --model " + model + " --data " + data + " --methods int4-g33").first, 2);
}

// Not a test: removes the scratch folder at the end of the run.
class CleanUp : public ::testing::Environment {
 public:
  void TearDown() override { fs::remove_all(scratch()); }
};
[[maybe_unused]] const auto* const kCleanUp = ::testing::AddGlobalTestEnvironment(new CleanUp);

}  // namespace
}  // namespace segq
