// Acceptance 2: segq's quantized-then-dequantized weights equal optimum-quanto 0.2.7's bit for bit
// (SHA-256 of the float32 bytes per tensor), and the set of quantized tensors is the same, for
// qint8, qint4, qint2, qfloat8 on the tiny and b0 fixtures. "quanto" = transformers' QuantoConfig
// path (segq scope quanto:); "all" = quanto.quantize on every Linear and Conv2d (segq's default
// scope). Fixture: tools/make_quant_fixtures.py.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "io/file_util.h"
#include "kernels/decode_layout.h"
#include "quant/quantize_tensor.h"
#include "quant_test_util.h"

namespace segq {
namespace {

const nlohmann::json& parity_fixture() {
  static const nlohmann::json j =
      nlohmann::json::parse(read_file(test::fixture_path("quant/quanto_parity.json")));
  return j;
}

const WeightSet& weights_of(const std::string& model) {
  static std::map<std::string, WeightSet> cache;
  auto it = cache.find(model);
  if (it == cache.end()) it = cache.emplace(model, test::fixture_weights(model)).first;
  return it->second;
}

struct Case {
  const char* model;
  const char* qtype;
  const char* scope;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.model << "/" << c.qtype << "/" << c.scope;
}

class QuantoParity : public ::testing::TestWithParam<Case> {};

TEST_P(QuantoParity, DequantizedWeightsMatchBitForBit) {
  const Case c = GetParam();
  static const std::map<std::string, std::string> method_of = {
      {"qint8", "int8"}, {"qint4", "int4"}, {"qint2", "int2"}, {"qfloat8", "fp8"}};
  const std::string method =
      (std::string(c.scope) == "quanto" ? "quanto:" : "") + method_of.at(c.qtype);
  const nlohmann::json& expected = parity_fixture()[c.model][c.qtype][c.scope];
  ASSERT_FALSE(expected.empty());

  const WeightSet& dense = weights_of(c.model);
  PlanOptions options;
  options.method = parse_method(method);
  const QuantPlan plan = make_quant_plan(dense, options);
  const WeightSet q = quantize_weights(dense, plan);

  std::set<std::string> ours, theirs;
  for (const auto& [name, w] : q) {
    if (w.is_quantized()) ours.insert(name);
  }
  for (auto it = expected.begin(); it != expected.end(); ++it) theirs.insert(it.key());
  EXPECT_EQ(ours, theirs) << method;

  int matched = 0;
  for (const std::string& name : ours) {
    if (!theirs.count(name)) continue;
    const QTensor& qt = q.at(name).qtensor();
    const nlohmann::json& e = expected[name];
    const int64_t want_group = e["group_size"].is_null() ? qt.cols : e["group_size"].get<int64_t>();
    if (weight_format_is_int(qt.format)) {
      EXPECT_EQ(qt.group_size, want_group) << name;
    }
    const Tensor deq = dequantize(qt);
    const std::string ref_digest = sha256_hex(deq.raw(), deq.nbytes());
    EXPECT_EQ(ref_digest, e["sha256"].get<std::string>()) << method << " " << name;
    // The run-time decoders (AVX2 where available) give the same bytes.
    Tensor fast = Tensor::empty(DType::F32, qt.shape);
    weight_format_kernels(qt.format).decode_rows(qt.view(), 0, qt.rows, fast.data<float>());
    EXPECT_EQ(sha256_hex(fast.raw(), fast.nbytes()), ref_digest) << name;
    matched += ref_digest == e["sha256"].get<std::string>();
  }
  EXPECT_EQ(matched, static_cast<int>(theirs.size()));
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (const char* model : {"tiny", "b0"}) {
    for (const char* qtype : {"qint8", "qint4", "qint2", "qfloat8"}) {
      for (const char* scope : {"quanto", "all"}) out.push_back({model, qtype, scope});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, QuantoParity, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.model) + "_" + info.param.qtype + "_" +
                                  info.param.scope;
                         });

}  // namespace
}  // namespace segq
