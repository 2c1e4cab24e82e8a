// int8-w8a8 end to end: which layers run the int8 GEMM (all but the decode-head MLPs, which run
// int8 weight-only so the head folds), that they compute exactly what the int8 GEMM reference
// computes, and that the whole model runs (finite logits, really different from int8 weight-only;
// the fold used by default and refused where a plan puts w8a8 on the head's MLPs).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "io/model_files.h"
#include "kernels/isa.h"
#include "kernels/kernel_test_util.h"
#include "model/fixture_input.h"
#include "model/ops.h"
#include "model/segformer.h"
#include "model/weight_set.h"
#include "quant/plan.h"

namespace segq {
namespace {

const std::string kFixtures = std::string(SEGQ_SOURCE_DIR) + "/tests/fixtures/models/";

WeightSet quantized(const WeightSet& dense, const char* method,
                    const std::vector<std::pair<std::string, MethodSpec>>& overrides = {}) {
  PlanOptions po;
  po.method = parse_method(method);
  po.overrides = overrides;
  return quantize_model(dense, po).weights;
}

bool is_head_mlp(const std::string& name) {
  return name.rfind("decode_head.linear_c.", 0) == 0 || name == "decode_head.linear_fuse.weight";
}

TEST(W8a8, OnlyW8a8Int8WeightsAreMarked) {
  const ModelFiles files = load_model_files(kFixtures + "tiny");
  const WeightSet dense = dense_weight_set(files.tensors);
  const WeightSet w8a8 = quantized(dense, "int8-w8a8");
  const WeightSet int8 = quantized(dense, "int8");
  int64_t runs = 0;
  for (const auto& [name, w] : w8a8) {
    // Every quantized weight carries the method (the depthwise convs read it weight-only), but
    // the decode-head MLPs, which are int8 weight-only.
    EXPECT_EQ(weight_runs_w8a8(w), w.is_quantized() && !is_head_mlp(name)) << name;
    if (is_head_mlp(name) && w.is_quantized()) {
      EXPECT_EQ(w.qtensor().method, "int8") << name;
    }
    runs += weight_runs_w8a8(w);
    EXPECT_FALSE(weight_runs_w8a8(int8.at(name))) << name;
    EXPECT_FALSE(weight_runs_w8a8(dense.at(name))) << name;
  }
  EXPECT_GT(runs, 10);
}

TEST(W8a8, LinearOpRunsTheInt8Gemm) {
  const ModelFiles files = load_model_files(kFixtures + "b0");
  const WeightSet w8a8 = quantized(dense_weight_set(files.tensors), "int8-w8a8");
  const std::string name = "segformer.encoder.block.1.0.mlp.dense1";
  const Weight& bias = w8a8.at(name + ".bias");
  const LinearOp op = LinearOp::bind(name + ".weight", w8a8.at(name + ".weight"), &bias);
  ASSERT_NE(op.i8.panels, nullptr);
  const int64_t m = 37, k = op.in_features(), n = op.out_features();
  const std::vector<float> x = testing::random_floats(static_cast<size_t>(m * k), 3, -3, 3);
  for (KernelIsa isa : {KernelIsa::kRef, KernelIsa::kAvx2}) {
    if (!kernel_isa_available(isa)) continue;
    ScopedKernelIsa scoped(isa);
    std::vector<float> got(static_cast<size_t>(m * n)), want(got.size());
    ops::linear(m, x.data(), k, op, got.data(), n);
    GemmEpilogue ep;
    ep.bias = op.bias.data<float>();
    gemm_i8_ref(m, x.data(), k, op.i8, want.data(), n, ep);
    EXPECT_EQ(got, want) << kernel_isa_name(isa);
  }
}

TEST(W8a8, RunsEndToEndFoldedAndRefusesTheFoldWhereTheHeadIsW8a8) {
  for (const char* fixture : {"tiny", "b0"}) {
    const ModelFiles files = load_model_files(kFixtures + fixture);
    const WeightSet dense = dense_weight_set(files.tensors);
    const WeightSet w8a8 = quantized(dense, "int8-w8a8");
    const WeightSet int8 = quantized(dense, "int8");
    // A plan that forces w8a8 onto the head's MLPs too.
    const WeightSet w8a8_head =
        quantized(dense, "int8-w8a8", {{"decode_head.linear_*", parse_method("int8-w8a8")}});
    SegformerOptions fold, plain;
    fold.fold_decode_head = true;
    plain.fold_decode_head = false;
    auto m_fold = make_segformer(files.config, w8a8, "config.json", fold);
    auto m_plain = make_segformer(files.config, w8a8, "config.json", plain);
    auto m_int8 = make_segformer(files.config, int8, "config.json", plain);
    auto m_head_fold = make_segformer(files.config, w8a8_head, "config.json", fold);
    auto m_head_plain = make_segformer(files.config, w8a8_head, "config.json", plain);
    EXPECT_TRUE(m_fold->options().fold_decode_head) << fixture;
    EXPECT_FALSE(m_head_fold->options().fold_decode_head) << fixture;
    const Tensor x = testing::fixture_input(2, 64, 67, 5);
    const Tensor a = m_fold->forward(x);
    const Tensor b = m_plain->forward(x);
    const Tensor c = m_int8->forward(x);
    const Tensor d = m_head_fold->forward(x);
    const Tensor e = m_head_plain->forward(x);
    ASSERT_EQ(a.shape(), b.shape());
    ASSERT_EQ(d.shape(), e.shape());
    EXPECT_EQ(std::memcmp(d.raw(), e.raw(), d.nbytes()), 0) << fixture;  // the fold was refused
    double max_diff = 0, max_abs = 0, fold_diff = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      ASSERT_TRUE(std::isfinite(a.data<float>()[i])) << fixture << " logit " << i;
      ASSERT_TRUE(std::isfinite(d.data<float>()[i])) << fixture << " logit " << i;
      max_diff = std::max<double>(max_diff, std::fabs(b.data<float>()[i] - c.data<float>()[i]));
      fold_diff = std::max<double>(fold_diff, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
      max_abs = std::max<double>(max_abs, std::fabs(c.data<float>()[i]));
    }
    // Activation rounding changes the logits (a no-op w8a8 would leave them bit-identical). The
    // fold changes float rounding only, but the classifier (w8a8) requantizes its input per
    // token, so a rounding difference can move an activation by one int8 step: the folded and
    // plain logits differ by far less than w8a8's own activation rounding does.
    EXPECT_GT(max_diff, 0.0) << fixture;
    EXPECT_LE(fold_diff, 0.25 * max_diff) << fixture;
    std::printf(
        "[ w8a8 ] %s: max |w8a8 - int8| %.3g, max |folded - plain| %.3g (max |logit| %.3g)\n",
        fixture, max_diff, fold_diff, max_abs);
  }
}

}  // namespace
}  // namespace segq
