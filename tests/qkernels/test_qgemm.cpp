// GEMM on every weight format against the fp32 reference computed on the dequantized weights, on
// b0 and b2 layer shapes and odd edge shapes, with every epilogue the model uses.
//
// For each case, W~ = dequantize(W) and, per output, y = Σ_k a_k W~[n, k] (exact, in double),
// S = Σ_k |a_k W~[n, k]| and M = scale_n S + |bias_n| (+ |C0| when accumulating). Checks:
//   1. gemm_ref on the packed format == gemm_ref on W~ (dense fp32), bit for bit: the reference
//      decoders are exact and gemm_ref sums every output in k order whatever the format.
//   2. The dispatching gemm() under the scalar ISA equals (1) bit for bit.
//   3. Each path (reference, AVX2 decode-per-tile) is within gamma_{K+4} M of the exact epilogue
//      value: the K products and at most 3 epilogue operations (scale, bias, residual add) form a
//      summation tree of depth <= K + 3 on any path, each node one rounding on a partial result of
//      magnitude <= M (FMA: one rounding per step); ReLU is 1-Lipschitz. So AVX2 and scalar agree
//      within 2 gamma_{K+4} M.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/gemm.h"
#include "qkernels/qkernel_test_util.h"

namespace segq {
namespace {

using qtest::gamma;

struct GemmCase {
  const char* name;
  int64_t m, n, k;
  bool scale = false;
  Activation act = Activation::kNone;
  bool accumulate = false;
};

// (N, K) of b0 and b2 layers; M cut to 13 rows (two 6-row tiles and a remainder) for speed.
std::vector<GemmCase> segformer_shapes() {
  std::vector<GemmCase> v = {
      {"b0.s1.query", 13, 32, 32},
      {"b0.s1.dense1", 13, 128, 32},
      {"b0.s1.dense2", 13, 32, 128, false, Activation::kNone, true},
      {"b0.s2.key", 13, 64, 64},
      {"b0.s3.query", 13, 160, 160},
      {"b0.s3.dense1", 13, 640, 160},
      {"b0.s3.dense2", 13, 160, 640, false, Activation::kNone, true},
      {"b0.s4.out", 13, 256, 256, false, Activation::kNone, true},
      {"b0.s4.dense2", 13, 256, 1024, false, Activation::kNone, true},
      {"b0.head.linear_c2", 13, 256, 160},
      {"b0.head.linear_fuse", 13, 256, 1024, true, Activation::kRelu},
      {"b0.head.classifier", 13, 150, 256},
      {"b2.s2.query", 13, 128, 128},
      {"b2.s3.dense2", 13, 320, 1280, false, Activation::kNone, true},
      {"b2.s4.dense1", 13, 2048, 512},
      {"b2.s4.dense2", 13, 512, 2048, false, Activation::kNone, true},
      {"b2.head.linear_fuse", 13, 768, 3072, true, Activation::kRelu},
      {"b2.head.classifier", 13, 150, 768},
  };
  return v;
}

// Odd M (tile remainders), N (strip remainders), K (group and byte remainders, several K tiles,
// groups that do not divide K or the K tile).
std::vector<GemmCase> edge_shapes() {
  std::vector<GemmCase> v;
  for (int64_t m : {1, 7}) {
    for (int64_t n : {1, 17, 33}) {
      for (int64_t k : {1, 3, 9, 16, 17, 48, 147, 515, 1100}) {
        v.push_back(
            {"edge", m, n, k, n == 17, n == 33 ? Activation::kRelu : Activation::kNone, n == 1});
      }
    }
  }
  return v;
}

int64_t count_bad_and_check(const std::string& method, const GemmCase& c, std::string* detail) {
  const uint32_t seed = static_cast<uint32_t>(c.n * 131 + c.k * 7 + c.m);
  const qtest::TestWeight w = qtest::make_test_weight(method, {c.n, c.k}, seed);
  const std::vector<float> a = qtest::random_values(c.m * c.k, seed + 1);
  const std::vector<float> bias = qtest::random_values(c.n, seed + 2);
  const std::vector<float> scale = qtest::random_values(c.n, seed + 3, 0.2f, 2.0f);
  const std::vector<float> c0 = qtest::random_values(c.m * c.n, seed + 4, -2.0f, 2.0f);
  GemmEpilogue ep;
  ep.bias = bias.data();
  ep.scale = c.scale ? scale.data() : nullptr;
  ep.act = c.act;
  ep.accumulate = c.accumulate;

  // Exact values and magnitudes from W~.
  const float* wv = w.values();
  std::vector<double> exact(static_cast<size_t>(c.m * c.n)), tol(exact.size());
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      double y = 0, s = 0;
      for (int64_t kk = 0; kk < c.k; ++kk) {
        const double p = static_cast<double>(a[i * c.k + kk]) * wv[j * c.k + kk];
        y += p;
        s += std::fabs(p);
      }
      const size_t idx = static_cast<size_t>(i * c.n + j);
      const double sc = c.scale ? scale[j] : 1.0;
      double v, mag = sc * s + std::fabs(bias[j]);
      if (c.accumulate) {
        v = c0[idx] + (y + bias[j]);
        mag += std::fabs(c0[idx]);
      } else {
        v = y * sc + bias[j];
        if (c.act == Activation::kRelu) v = std::max(0.0, v);
      }
      exact[idx] = v;
      tol[idx] = gamma(static_cast<double>(c.k + 4)) * mag + 1e-30;
    }
  }

  GemmWeights dq, q;
  dq.view = w.dequantized.view();
  q.view = w.stored.view();
  std::vector<float> ref_dq = c0, ref_q = c0;
  gemm_ref(c.m, a.data(), c.k, dq, ref_dq.data(), c.n, ep);
  gemm_ref(c.m, a.data(), c.k, q, ref_q.data(), c.n, ep);
  int64_t bad = 0;
  if (std::memcmp(ref_dq.data(), ref_q.data(), ref_q.size() * sizeof(float)) != 0) {
    ++bad;
    *detail += " ref(packed) != ref(dequantized);";
  }
  auto within = [&](const std::vector<float>& got, const char* what) {
    double worst = 0;
    int64_t n_bad = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const double d = std::fabs(static_cast<double>(got[i]) - exact[i]);
      worst = std::max(worst, d / tol[i]);
      if (!(d <= tol[i])) ++n_bad;
    }
    if (n_bad)
      *detail += str_cat(" ", what, ": ", n_bad, " outside bound, worst diff/tol ", worst, ";");
    return n_bad;
  };
  bad += within(ref_dq, "ref");
  for (KernelIsa isa : qtest::available_isas()) {
    ScopedKernelIsa scoped(isa);
    std::vector<float> got = c0;
    gemm(c.m, a.data(), c.k, q, got.data(), c.n, ep);
    if (isa == KernelIsa::kRef) {
      if (std::memcmp(got.data(), ref_dq.data(), got.size() * sizeof(float)) != 0) {
        ++bad;
        *detail += " gemm() under the scalar ISA != gemm_ref;";
      }
    } else {
      bad += within(got, "avx2");
    }
  }
  return bad;
}

class QGemm : public ::testing::TestWithParam<std::string> {};

TEST_P(QGemm, SegformerShapesMatchTheDequantizedReference) {
  for (const GemmCase& c : segformer_shapes()) {
    std::string detail;
    EXPECT_EQ(count_bad_and_check(GetParam(), c, &detail), 0)
        << GetParam() << " " << c.name << " m=" << c.m << " n=" << c.n << " k=" << c.k << ":"
        << detail;
  }
}

TEST_P(QGemm, EdgeShapesMatchTheDequantizedReference) {
  for (const GemmCase& c : edge_shapes()) {
    std::string detail;
    EXPECT_EQ(count_bad_and_check(GetParam(), c, &detail), 0)
        << GetParam() << " m=" << c.m << " n=" << c.n << " k=" << c.k << ":" << detail;
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, QGemm, ::testing::ValuesIn(qtest::all_formats()),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) {
                             if (ch == '-') ch = '_';
                           }
                           return s;
                         });

// The formats under test really are stored packed (not silently dense) with the group layout
// the method names: the bound above would hold trivially for a dense copy.
TEST(QGemm, WeightsAreStoredInTheirFormat) {
  const qtest::TestWeight i4 = qtest::make_test_weight("int4-g96", {33, 1100}, 1);
  ASSERT_TRUE(i4.stored.is_quantized());
  EXPECT_EQ(i4.stored.view().format, WeightFormat::INT4);
  EXPECT_EQ(i4.stored.view().group_size, 96);
  EXPECT_EQ(i4.stored.view().groups_per_row, 12);  // 11 full groups + 44
  EXPECT_EQ(i4.stored.stored_bytes(), 33u * (550 + 12 * 4 * 2));
  const qtest::TestWeight q = qtest::make_test_weight("int4", {256, 1440}, 2);
  EXPECT_EQ(q.stored.view().group_size, 96);  // quanto's rule on a 1440-long row
  const qtest::TestWeight f8 = qtest::make_test_weight("fp8-e5m2-s16", {7, 9}, 3);
  EXPECT_EQ(f8.stored.view().format, WeightFormat::FP8_E5M2);
  EXPECT_EQ(f8.stored.view().scale_dtype, DType::F16);
}

}  // namespace
}  // namespace segq
