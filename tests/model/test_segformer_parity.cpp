// Parity with transformers' SegformerForSemanticSegmentation (tools/make_fixtures.py): every
// fixture model, every input size, both kernel paths (scalar reference and AVX2/FMA), and the
// folded decode head.
//   max |logit - expected| <= 1e-4 * max(1, |expected|)
//   argmax identical wherever the expected top-2 gap exceeds that tolerance.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <ostream>
#include <string>

#include "io/model_files.h"
#include "io/safetensors.h"
#include "kernels/isa.h"
#include "model/fixture_input.h"
#include "model/segformer.h"
#include "model/weight_set.h"

namespace segq {
namespace {

const std::string kFixtures = std::string(SEGQ_SOURCE_DIR) + "/tests/fixtures/models/";

struct Fixture {
  std::unique_ptr<SegformerModel> model;
  std::unique_ptr<SegformerModel> folded;  // SegformerOptions::fold_decode_head
  std::map<std::string, Tensor> expected;
  std::map<std::string, std::string> meta;
};

Fixture& fixture(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Fixture>> cache;
  auto& slot = cache[name];
  if (!slot) {
    slot = std::make_unique<Fixture>();
    const ModelFiles files = load_model_files(kFixtures + name);
    const WeightSet weights = dense_weight_set(files.tensors);
    slot->model = make_segformer(files.config, weights);
    SegformerOptions fold;
    fold.fold_decode_head = true;
    slot->folded = make_segformer(files.config, weights, "config.json", fold);
    SafetensorsFile exp = read_safetensors(kFixtures + name + "/expected.safetensors");
    for (auto& [k, t] : exp.tensors) slot->expected[k] = t.clone();
    slot->meta = exp.metadata;
  }
  return *slot;
}

struct Case {
  std::string model;
  int64_t batch, height, width;
  KernelIsa isa;
  bool fold = false;
};

std::string case_label(const Case& c) {
  return c.model + "_" + std::to_string(c.batch) + "x" + std::to_string(c.height) + "x" +
         std::to_string(c.width) + "_" + kernel_isa_name(c.isa) + (c.fold ? "_folded" : "");
}
std::string case_name(const ::testing::TestParamInfo<Case>& info) { return case_label(info.param); }
void PrintTo(const Case& c, std::ostream* os) { *os << case_label(c); }

class SegformerParity : public ::testing::TestWithParam<Case> {};

TEST_P(SegformerParity, MatchesTransformers) {
  const Case& c = GetParam();
  if (!kernel_isa_available(c.isa)) GTEST_SKIP() << "CPU lacks " << kernel_isa_name(c.isa);
  ScopedKernelIsa isa(c.isa);
  Fixture& f = fixture(c.model);
  const std::string key =
      std::to_string(c.batch) + "x" + std::to_string(c.height) + "x" + std::to_string(c.width);
  const uint64_t seed = std::stoull(f.meta.at("seed_" + key));
  SegformerModel& model = c.fold ? *f.folded : *f.model;
  const Tensor logits = model.forward(testing::fixture_input(c.batch, c.height, c.width, seed));

  const int64_t L = model.num_labels();
  const auto [h, w] = model.output_size(c.height, c.width);
  ASSERT_EQ(logits.shape(), (Shape{c.batch, h, w, L}));
  const float* got = logits.data<float>();

  // Logits: full [B, L, h, w], or [B, L, ceil(h/s), ceil(w/s)] = logits[:, :, ::s, ::s].
  int64_t stride = 1;
  const Tensor* exp = nullptr;
  if (f.expected.count("logits_" + key)) {
    exp = &f.expected.at("logits_" + key);
  } else {
    exp = &f.expected.at("logits_strided_" + key);
    stride = std::stoll(f.meta.at("stride_" + key));
  }
  const int64_t hs = (h + stride - 1) / stride, ws = (w + stride - 1) / stride;
  ASSERT_EQ(exp->shape(), (Shape{c.batch, L, hs, ws}));
  const float* e = exp->data<float>();
  double max_diff = 0.0, max_excess = 0.0;
  int64_t bad = 0;
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t l = 0; l < L; ++l) {
      for (int64_t y = 0; y < hs; ++y) {
        for (int64_t x = 0; x < ws; ++x) {
          const float ev = e[((b * L + l) * hs + y) * ws + x];
          const float gv = got[((b * h + y * stride) * w + x * stride) * L + l];
          const double diff = std::fabs(static_cast<double>(gv) - ev);
          const double tol = 1e-4 * std::max(1.0, std::fabs(static_cast<double>(ev)));
          max_diff = std::max(max_diff, diff);
          max_excess = std::max(max_excess, diff / tol);
          if (!(diff <= tol)) ++bad;
        }
      }
    }
  }
  EXPECT_EQ(bad, 0) << "max |diff| " << max_diff << ", max diff/tol " << max_excess;

  // Argmax over the full map, except near-ties.
  const Tensor& am = f.expected.at("argmax_" + key);
  const Tensor& gap = f.expected.at("gap_" + key);
  ASSERT_EQ(am.shape(), (Shape{c.batch, h, w}));
  int64_t mismatches = 0, exempt = 0;
  for (int64_t p = 0; p < c.batch * h * w; ++p) {
    const float* row = got + p * L;
    const int64_t mine = std::max_element(row, row + L) - row;  // first maximum
    const int32_t want = am.data<int32_t>()[p];
    const double tol = 1e-4 * std::max(1.0, std::fabs(static_cast<double>(row[want])));
    if (gap.data<float>()[p] <= tol) {
      ++exempt;
      continue;
    }
    if (mine != want) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0) << "argmax differs at " << mismatches << " pixels (" << exempt
                           << " near-ties exempt)";
  std::printf("[ parity ] %s %s%s: max |diff| %.3g (%.3g of tolerance), %lld near-ties exempt\n",
              c.model.c_str(), key.c_str(), c.fold ? " folded" : "", max_diff, max_excess,
              static_cast<long long>(exempt));
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const char* m : {"tiny", "b0", "b2narrow"}) {
    for (KernelIsa isa : {KernelIsa::kAvx2, KernelIsa::kRef}) {
      cases.push_back({m, 1, 512, 512, isa});
      cases.push_back({m, 2, 64, 64, isa});
      cases.push_back({m, 1, 67, 93, isa});
    }
    // The folded decode head meets the same acceptance tolerance.
    cases.push_back({m, 1, 512, 512, KernelIsa::kAvx2, true});
    cases.push_back({m, 1, 67, 93, KernelIsa::kAvx2, true});
    cases.push_back({m, 2, 64, 64, KernelIsa::kRef, true});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SegformerParity, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace segq
