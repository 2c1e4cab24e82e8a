// Plans: scopes, --include/--exclude globs, the override file, single-layer plans, and applying a
// plan (a quantized weight set keeps no fp32 copy; quantizing twice is an error).
#include <gtest/gtest.h>

#include "quant_test_util.h"

namespace segq {
namespace {

const WeightSet& tiny() {
  static const WeightSet w = test::fixture_weights("tiny");
  return w;
}

int count_quantized(const QuantPlan& p, TensorRole role) {
  int n = 0;
  for (const PlanEntry& e : p.entries) n += e.quantized && e.role == role;
  return n;
}

TEST(Plan, Roles) {
  EXPECT_EQ(tensor_role("a.query.weight", {16, 16}), TensorRole::Linear);
  EXPECT_EQ(tensor_role("a.sr.weight", {16, 16, 8, 8}), TensorRole::Conv);
  EXPECT_EQ(tensor_role("a.dwconv.weight", {64, 1, 3, 3}), TensorRole::DepthwiseConv);
  EXPECT_EQ(tensor_role("a.linear_fuse.weight", {32, 128, 1, 1}), TensorRole::Conv);
  EXPECT_EQ(tensor_role("a.query.bias", {16}), TensorRole::Float);
  EXPECT_EQ(tensor_role("a.layer_norm.weight", {16}), TensorRole::Float);
  EXPECT_EQ(tensor_role("a.running_mean", {16}), TensorRole::Float);
}

TEST(Plan, ScopesOnTheTinyModel) {
  PlanOptions o;
  o.method = parse_method("int4");
  const QuantPlan all = make_quant_plan(tiny(), o);
  EXPECT_EQ(all.name, "int4");
  EXPECT_EQ(count_quantized(all, TensorRole::Linear), 52);
  EXPECT_EQ(count_quantized(all, TensorRole::Conv), 12);  // 4 patch embeds, 6 sr, fuse, classifier
  EXPECT_EQ(count_quantized(all, TensorRole::DepthwiseConv), 8);
  EXPECT_EQ(all.num_quantized(), 72);
  EXPECT_EQ(count_quantized(all, TensorRole::Float), 0);

  o.method = parse_method("quanto:int4");
  const QuantPlan quanto = make_quant_plan(tiny(), o);
  EXPECT_EQ(quanto.num_quantized(), 52);
  EXPECT_EQ(count_quantized(quanto, TensorRole::Linear), 52);
  EXPECT_FALSE(quanto.find("decode_head.classifier.weight")->quantized);
  EXPECT_NE(quanto.find("decode_head.classifier.weight")->rule.find("quanto"), std::string::npos);

  o.method = parse_method("fp32");
  EXPECT_EQ(make_quant_plan(tiny(), o).num_quantized(), 0);
}

TEST(Plan, IncludeExclude) {
  PlanOptions o;
  o.method = parse_method("int8");
  o.exclude = {"*.classifier.weight", "*patch_embeddings.0.*"};
  QuantPlan p = make_quant_plan(tiny(), o);
  EXPECT_EQ(p.num_quantized(), 70);
  EXPECT_EQ(p.name, "int8+custom");
  EXPECT_EQ(p.find("decode_head.classifier.weight")->rule, "excluded by '*.classifier.weight'");

  o.exclude.clear();
  o.include = {"segformer.encoder.block.3.*"};
  p = make_quant_plan(tiny(), o);
  EXPECT_EQ(p.num_quantized(), 14);  // 2 blocks x (q, k, v, out, dense1, dense2, dwconv)
  for (const PlanEntry& e : p.entries) {
    if (e.quantized) {
      EXPECT_EQ(e.name.rfind("segformer.encoder.block.3.", 0), 0u) << e.name;
    }
  }
}

TEST(Plan, OverrideFileFirstMatchWins) {
  const std::string json = R"({
    "*.dwconv.weight": "int8",
    "*attention.self.*": "fp32",
    "decode_head.*": "int2-g16-mse-sym",
    "*": "int4-g32"
  })";
  PlanOptions o;
  o.method = parse_method("fp8");
  o.overrides = parse_override_json(json, "plan.json");
  ASSERT_EQ(o.overrides.size(), 4u);
  const QuantPlan p = make_quant_plan(tiny(), o);
  EXPECT_EQ(p.find("segformer.encoder.block.0.0.mlp.dwconv.dwconv.weight")->method.name, "int8");
  EXPECT_FALSE(p.find("segformer.encoder.block.0.0.attention.self.query.weight")->quantized);
  EXPECT_FALSE(p.find("segformer.encoder.block.0.0.attention.self.sr.weight")->quantized);
  EXPECT_EQ(p.find("decode_head.classifier.weight")->method.name, "int2-g16-mse-sym");
  EXPECT_EQ(p.find("segformer.encoder.block.0.0.mlp.dense1.weight")->method.name, "int4-g32");
  EXPECT_FALSE(p.find("segformer.encoder.block.0.0.mlp.dense1.bias")->quantized);
  EXPECT_EQ(p.find("segformer.encoder.block.0.0.mlp.dense1.weight")->rule, "override '*'");

  EXPECT_THROW(parse_override_json("{\"a\": 3}", "f.json"), UsageError);
  EXPECT_THROW(parse_override_json("[1]", "f.json"), UsageError);
  EXPECT_THROW(parse_override_json("{\"a\": \"int4\"", "f.json"), UsageError);
  try {
    parse_override_json(R"({"*.query.weight": "int5"})", "f.json");
    FAIL();
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("f.json"), std::string::npos) << what;
    EXPECT_NE(what.find("*.query.weight"), std::string::npos) << what;
    EXPECT_NE(what.find("int5"), std::string::npos) << what;
  }
  EXPECT_THROW(parse_override_json(R"({"*": "quanto:int4"})", "f.json"), UsageError);
}

TEST(Plan, ApplyKeepsNoFp32CopyAndRefusesToQuantizeTwice) {
  PlanOptions o;
  o.method = parse_method("int4-g32-hqq-s16");
  const QuantPlan p = make_quant_plan(tiny(), o);
  const WeightSet q = quantize_weights(tiny(), p);
  ASSERT_EQ(q.size(), tiny().size());
  for (const PlanEntry& e : p.entries) {
    const Weight& w = q.at(e.name);
    EXPECT_EQ(w.is_quantized(), e.quantized) << e.name;
    if (e.quantized) {
      EXPECT_THROW(w.dense_tensor(), Error);
      EXPECT_EQ(w.qtensor().method, "int4-g32-hqq-s16");
      EXPECT_EQ(w.qtensor().scales.dtype(), DType::F16);
    } else {
      // Float tensors share storage with the input set.
      EXPECT_EQ(w.dense_tensor().raw(), tiny().at(e.name).dense_tensor().raw());
    }
  }
  EXPECT_THROW(quantize_weights(q, p), Error);
}

TEST(Plan, QuantizeModelIsPlanPlusApply) {
  PlanOptions o;
  o.method = parse_method("int8");
  o.exclude = {"*.dwconv.weight"};
  const QuantizedModel m = quantize_model(tiny(), o);
  EXPECT_EQ(m.plan.name, "int8+custom");
  EXPECT_EQ(m.plan.num_quantized(), 64);
  int n = 0;
  for (const auto& [name, w] : m.weights) n += w.is_quantized();
  EXPECT_EQ(n, 64);
}

TEST(Plan, SingleLayer) {
  EXPECT_EQ(candidate_weights(tiny()).size(), 72u);
  const std::string name = "segformer.encoder.block.1.0.mlp.dense2.weight";
  const QuantPlan p = single_layer_plan(tiny(), name, parse_method("int2"));
  EXPECT_EQ(p.num_quantized(), 1);
  EXPECT_TRUE(p.find(name)->quantized);
  EXPECT_EQ(p.name, "int2@" + name);
  EXPECT_THROW(single_layer_plan(tiny(), "nope.weight", parse_method("int2")), UsageError);
  EXPECT_THROW(single_layer_plan(tiny(), "decode_head.classifier.bias", parse_method("int2")),
               UsageError);
}

TEST(Plan, FixtureWeightSetDropsIntegerBuffers) {
  EXPECT_EQ(tiny().count("decode_head.batch_norm.num_batches_tracked"), 0u);
  EXPECT_EQ(tiny().count("decode_head.batch_norm.running_mean"), 1u);
  EXPECT_EQ(tiny().at("decode_head.batch_norm.running_mean").dense_tensor().dtype(), DType::F32);
}

}  // namespace
}  // namespace segq
