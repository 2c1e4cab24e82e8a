// SegFormer config parsing, parameter/MAC counting, weight binding errors, and the forward running
// weights in another storage format through the same code.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/half.h"
#include "io/model_files.h"
#include "kernels/isa.h"
#include "model/fixture_input.h"
#include "model/segformer.h"
#include "model/segformer_stats.h"
#include "model/weight_set.h"
#include "quant/qtensor.h"

namespace segq {
namespace {

const std::string kFixtures = std::string(SEGQ_SOURCE_DIR) + "/tests/fixtures/models/";

SegformerConfig variant(std::vector<int> hidden, std::vector<int> depths, int decoder) {
  SegformerConfig c;
  c.hidden_sizes = std::move(hidden);
  c.depths = std::move(depths);
  c.decoder_hidden_size = decoder;
  c.num_labels = 150;
  return c;
}

TEST(SegformerStats, ParameterCountsOfB0ToB5) {
  // The spec's table (transformers' num_parameters() for the ADE checkpoints).
  EXPECT_EQ(segformer_parameter_count(variant({32, 64, 160, 256}, {2, 2, 2, 2}, 256)), 3752694);
  EXPECT_EQ(segformer_parameter_count(variant({64, 128, 320, 512}, {2, 2, 2, 2}, 256)), 13715798);
  EXPECT_EQ(segformer_parameter_count(variant({64, 128, 320, 512}, {3, 4, 6, 3}, 768)), 27461974);
  EXPECT_EQ(segformer_parameter_count(variant({64, 128, 320, 512}, {3, 4, 18, 3}, 768)), 47337814);
  EXPECT_EQ(segformer_parameter_count(variant({64, 128, 320, 512}, {3, 8, 27, 3}, 768)), 64108374);
  EXPECT_EQ(segformer_parameter_count(variant({64, 128, 320, 512}, {3, 6, 40, 3}, 768)), 84708694);
}

TEST(SegformerStats, B0MacsAt512) {
  const SegformerStats s =
      segformer_stats(variant({32, 64, 160, 256}, {2, 2, 2, 2}, 256), 512, 512);
  EXPECT_EQ(s.params, 3752694);
  EXPECT_NEAR(s.macs / 1e9, 8.39, 0.005);
  EXPECT_NEAR(s.macs_without_attention() / 1e9, 7.35, 0.005);
  EXPECT_EQ(s.macs, 8387821568);  // conv + linear + depthwise + QKᵀ + P·V, summed per layer
  EXPECT_EQ(s.macs_without_attention(), 7347634176);
  int64_t fuse = 0, sum_params = 0;
  for (const ModuleStats& m : s.modules) {
    if (m.module == "decode_head.linear_fuse") fuse = m.macs;
    sum_params += m.params;
  }
  EXPECT_EQ(fuse, 128LL * 128 * 1024 * 256);  // 4.29 GMAC, 51 % of the total
  EXPECT_EQ(sum_params, s.params);
}

TEST(SegformerConfig, FixtureB0MatchesTheStateDict) {
  const ModelFiles files = load_model_files(kFixtures + "b0");
  const SegformerConfig c = SegformerConfig::from_json(files.config);
  EXPECT_EQ(c.num_labels, 150);
  EXPECT_EQ(c.labels.size(), 150u);
  EXPECT_EQ(c.hidden_sizes, (std::vector<int>{32, 64, 160, 256}));
  const auto specs = segformer_parameter_specs(c);
  EXPECT_EQ(specs.size(), 208u);  // the spec's state-dict entry count, num_batches_tracked included
  ASSERT_EQ(files.tensors.size(), specs.size());
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : files.tensors) shapes[name] = t.shape();
  for (const ParamSpec& p : specs) {
    ASSERT_TRUE(shapes.count(p.name)) << p.name;
    EXPECT_EQ(shapes[p.name], p.shape) << p.name;
  }
}

TEST(SegformerConfig, GeometryFollowsConvArithmetic) {
  const auto g = segformer_geometry(SegformerConfig{}, 67, 93);
  // floor((H + 2p - k)/s) + 1: 67 -> 17 -> 9 -> 5 -> 3; 93 -> 24 -> 12 -> 6 -> 3.
  EXPECT_EQ(g[0].h, 17);
  EXPECT_EQ(g[0].w, 24);
  EXPECT_EQ(g[1].h, 9);
  EXPECT_EQ(g[1].w, 12);
  EXPECT_EQ(g[2].h, 5);
  EXPECT_EQ(g[2].w, 6);
  EXPECT_EQ(g[3].h, 3);
  EXPECT_EQ(g[3].w, 3);
  EXPECT_EQ(g[0].h_kv, 2);  // floor(17 / 8)
  EXPECT_EQ(g[0].w_kv, 3);
  EXPECT_EQ(g[3].kv_tokens(), 9);                                      // sr 1
  EXPECT_THROW(segformer_geometry(SegformerConfig{}, 20, 20), Error);  // 5x5 < sr ratio 8
}

std::string error_of(const nlohmann::json& j) {
  try {
    SegformerConfig::from_json(j);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SegformerConfig, ClearErrorsForBadFields) {
  using json = nlohmann::json;
  EXPECT_NE(error_of(json{{"hidden_sizes", "wide"}}).find("'hidden_sizes'"), std::string::npos);
  EXPECT_NE(error_of(json{{"depths", json::array({2, 2, 2})}}).find("'depths' has 3 entries"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"hidden_sizes", json::array({32, 63, 160, 256})}})
                .find("not a multiple of num_attention_heads"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"hidden_act", "relu"}}).find("'hidden_act'"), std::string::npos);
  EXPECT_NE(error_of(json{{"model_type", "vit"}}).find("'model_type'"), std::string::npos);
  EXPECT_NE(error_of(json{{"id2label", {{"0", "a"}, {"2", "c"}}}}).find("id 1 is missing"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"decoder_hidden_size", 1.5}}).find("'decoder_hidden_size'"),
            std::string::npos);
  EXPECT_NE(error_of(json::array()).find("expected a JSON object"), std::string::npos);
  // Defaults are transformers' (b0 architecture, 2 labels).
  const SegformerConfig d = SegformerConfig::from_json(json::object());
  EXPECT_EQ(d.num_labels, 2);
  EXPECT_EQ(d.depths, (std::vector<int>{2, 2, 2, 2}));
  EXPECT_EQ(SegformerConfig::from_json(json{{"num_labels", 7}}).num_labels, 7);
}

struct TinyFiles {
  ModelFiles files;
  WeightSet weights;
};
const TinyFiles& tiny() {
  static const TinyFiles t = [] {
    TinyFiles x{load_model_files(kFixtures + "tiny"), {}};
    x.weights = dense_weight_set(x.files.tensors);
    return x;
  }();
  return t;
}

std::string bind_error(const WeightSet& w) {
  try {
    make_segformer(tiny().files.config, w);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SegformerBind, MissingTensorIsNamed) {
  WeightSet w = tiny().weights;
  w.erase("segformer.encoder.block.2.1.attention.self.sr.weight");
  const std::string msg = bind_error(w);
  EXPECT_NE(msg.find("missing tensor 'segformer.encoder.block.2.1.attention.self.sr.weight'"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("[48, 48, 2, 2]"), std::string::npos) << msg;
}

TEST(SegformerBind, ShapeMismatchNamesBothShapes) {
  WeightSet w = tiny().weights;
  w["decode_head.classifier.weight"] = Weight::dense(Tensor::zeros(DType::F32, {12, 32, 1, 1}));
  const std::string msg = bind_error(w);
  EXPECT_NE(msg.find("'decode_head.classifier.weight' has shape [12, 32, 1, 1], expected "
                     "[11, 32, 1, 1]"),
            std::string::npos)
      << msg;
}

// Every weight of >= 2 dims handed over as a packed QTensor in F16 storage: the same forward runs
// it through the decode-per-tile path (and the depthwise decode) and, since the values are the
// same fp16 numbers the fixture holds, must give bit-identical logits to the dense fp32 weights.
TEST(SegformerForward, AnyWeightFormatThroughTheSameCode) {
  const TinyFiles& t = tiny();
  WeightSet q;
  int quantized = 0;
  for (const auto& [name, tensor] : t.files.tensors) {
    if (tensor.dtype() != DType::F16) continue;
    if (tensor.ndim() < 2) {
      q[name] = Weight::dense(tensor);
      continue;
    }
    auto qt = std::make_shared<QTensor>();
    qt->format = WeightFormat::F16;
    qt->shape = tensor.shape();
    qt->rows = tensor.dim(0);
    qt->cols = tensor.numel() / tensor.dim(0);
    qt->group_size = qt->cols;
    qt->codes = Tensor::empty(DType::U8, {static_cast<int64_t>(tensor.nbytes())});
    std::memcpy(qt->codes.raw(), tensor.raw(), tensor.nbytes());
    q[name] = Weight::quantized(qt);
    ++quantized;
  }
  ASSERT_GT(quantized, 50);
  for (KernelIsa isa : {KernelIsa::kRef, KernelIsa::kAvx2}) {
    if (!kernel_isa_available(isa)) continue;
    ScopedKernelIsa scoped(isa);
    auto dense = make_segformer(t.files.config, t.weights);
    auto packed = make_segformer(t.files.config, q);
    const Tensor x = testing::fixture_input(2, 45, 61, 5);
    const Tensor a = dense->forward(x);
    const Tensor b = packed->forward(x);
    ASSERT_EQ(a.shape(), b.shape());
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0) << kernel_isa_name(isa);
  }
}

TEST(SegformerForward, RejectsBadInput) {
  auto m = make_segformer(tiny().files.config, tiny().weights);
  EXPECT_THROW(m->forward(Tensor::zeros(DType::F32, {1, 4, 64, 64})), Error);
  EXPECT_THROW(m->forward(Tensor::zeros(DType::F32, {3, 64, 64})), Error);
  EXPECT_THROW(m->forward(Tensor::zeros(DType::F32, {1, 3, 16, 64})), Error);  // too small
  const Tensor out = m->forward(Tensor::zeros(DType::F32, {1, 3, 33, 40}));
  EXPECT_EQ(out.shape(), (Shape{1, 9, 10, 11}));
  EXPECT_EQ(m->output_stride(), 4);
}

// The same model saved as pytorch_model.bin must give bit-identical logits.
TEST(SegformerForward, PytorchBinMatchesSafetensorsBitForBit) {
  const ModelFiles bin = load_model_files(kFixtures + "tiny-bin");
  ASSERT_EQ(bin.format, "pytorch_bin");
  auto a = make_segformer(tiny().files.config, tiny().weights);
  auto b = make_segformer(bin.config, dense_weight_set(bin.tensors));
  const Tensor x = testing::fixture_input(1, 67, 93, 3);
  const Tensor la = a->forward(x);
  const Tensor lb = b->forward(x);
  ASSERT_EQ(la.shape(), lb.shape());
  EXPECT_EQ(std::memcmp(la.raw(), lb.raw(), la.nbytes()), 0);
}

}  // namespace
}  // namespace segq
