// GEMM: the AVX2 driver (packed fp32 and decode-per-tile through the weight-format table) against
// the scalar reference on the real b0/b2 layer shapes and odd edge shapes, every epilogue.
// Bound: both paths compute y = Σ_k a_k w_k with at most K roundings each, so
//   |y_avx2 - y_ref| <= 2 (K + 1) u Σ_k |a_k w_k|
// plus 2 u per path for each epilogue rounding (scale, bias, residual add) on the magnitudes
// involved; an activation scales differences by its Lipschitz constant (GELU: max |gelu'| =
// 1.129) and adds its own error (vectorized GELU: <= 12 ulp, see test_elementwise.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/half.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/kernel_test_util.h"

namespace segq {
namespace {

using testing::kU;
using testing::random_floats;

struct GemmCase {
  const char* name;
  int64_t m, n, k;
  Activation act = Activation::kNone;
  bool bias = true, scale = false, accumulate = false;
  WeightFormat format = WeightFormat::F32;
  int64_t pad = 0;  // extra row stride of A and C
};

struct GemmData {
  std::vector<float> a, w, bias, scale, c0;
  std::vector<uint16_t> w16;  // F16/BF16 codes
  WeightView view;
};

GemmData make_data(const GemmCase& c) {
  GemmData d;
  const int64_t lda = c.k + c.pad, ldc = c.n + c.pad;
  d.a = random_floats(static_cast<size_t>(std::max<int64_t>(1, c.m * lda)), 1, -1.0f, 1.0f);
  d.w = random_floats(static_cast<size_t>(std::max<int64_t>(1, c.n * c.k)), 2, -0.5f, 0.5f);
  d.bias = random_floats(static_cast<size_t>(c.n), 3, -1.0f, 1.0f);
  d.scale = random_floats(static_cast<size_t>(c.n), 4, 0.2f, 2.0f);
  d.c0 = random_floats(static_cast<size_t>(std::max<int64_t>(1, c.m * ldc)), 5, -2.0f, 2.0f);
  d.view.format = c.format;
  d.view.rows = c.n;
  d.view.cols = c.k;
  d.view.group_size = c.k;
  if (c.format == WeightFormat::F32) {
    d.view.codes = d.w.data();
    d.view.row_stride_bytes = c.k * 4;
  } else {
    d.w16.resize(d.w.size());
    for (size_t i = 0; i < d.w.size(); ++i) {
      d.w16[i] = c.format == WeightFormat::F16 ? f32_to_f16(d.w[i]) : f32_to_bf16(d.w[i]);
      d.w[i] = c.format == WeightFormat::F16 ? f16_to_f32(d.w16[i]) : bf16_to_f32(d.w16[i]);
    }
    d.view.codes = d.w16.data();
    d.view.row_stride_bytes = c.k * 2;
  }
  return d;
}

void check_case(const GemmCase& c, bool packed) {
  const GemmData d = make_data(c);
  const int64_t lda = c.k + c.pad, ldc = c.n + c.pad;
  GemmEpilogue ep;
  ep.bias = c.bias ? d.bias.data() : nullptr;
  ep.scale = c.scale ? d.scale.data() : nullptr;
  ep.act = c.act;
  ep.accumulate = c.accumulate;
  GemmWeights gw;
  gw.view = d.view;
  GemmPackedWeights pw;
  if (packed) {
    pw = gemm_pack_weights(d.view);
    gw.packed = pw.panels;
  }
  std::vector<float> ref = d.c0, got = d.c0;
  gemm_ref(c.m, d.a.data(), lda, gw, ref.data(), ldc, ep);
  gemm_f32_avx2(c.m, d.a.data(), lda, gw, got.data(), ldc, ep);

  const double lip = c.act == Activation::kGelu ? 1.129 : 1.0;
  int64_t bad = 0;
  double worst = 0;
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t idx = static_cast<size_t>(i * ldc + j);
      if (j >= c.n) {  // padding columns are never written
        EXPECT_EQ(got[idx], d.c0[idx]);
        continue;
      }
      double s = 0;
      for (int64_t kk = 0; kk < c.k; ++kk) {
        s += std::fabs(static_cast<double>(d.a[i * lda + kk]) * d.w[j * c.k + kk]);
      }
      const double sc = c.scale ? d.scale[j] : 1.0;
      const double mag = sc * s + (c.bias ? std::fabs(d.bias[j]) : 0.0) +
                         (c.accumulate ? std::fabs(d.c0[idx]) : 0.0);
      double tol = lip * (2.0 * (c.k + 1) * kU * sc * s + 8.0 * kU * mag);
      if (c.act == Activation::kGelu) tol += 12.0 * 2.0 * kU * std::fabs(ref[idx]);
      tol += 1e-30;
      const double diff = std::fabs(static_cast<double>(got[idx]) - ref[idx]);
      worst = std::max(worst, diff / tol);
      if (!(diff <= tol)) ++bad;
    }
  }
  if (std::getenv("SEGQ_TEST_VERBOSE"))
    std::printf("%s m=%lld n=%lld k=%lld worst %.3g\n", c.name, (long long)c.m, (long long)c.n,
                (long long)c.k, worst);
  EXPECT_EQ(bad, 0) << c.name << " m=" << c.m << " n=" << c.n << " k=" << c.k
                    << (packed ? " packed" : " decoded") << ": worst diff/tol " << worst;
}

std::vector<GemmCase> real_shapes() {
  // (N, K) of b0 and b2 layers at 512x512; M cut to 97/250 rows (not multiples of 6) for speed.
  std::vector<GemmCase> v = {
      {"b0.s1.patch_embed", 250, 32, 147},
      {"b0.s1.query", 97, 32, 32},
      {"b0.s1.sr", 97, 32, 2048},
      {"b0.s1.dense1", 250, 128, 32},
      {"b0.s1.dense2", 97, 32, 128},
      {"b0.s2.patch_embed", 97, 64, 288},
      {"b0.s3.dense1", 97, 640, 160},
      {"b0.s3.dense2", 97, 160, 640},
      {"b0.s4.patch_embed", 97, 256, 1440},
      {"b0.s4.dense2", 97, 256, 1024},
      {"b0.head.linear_fuse", 250, 256, 1024},
      {"b0.head.classifier", 97, 150, 256},
      {"b2.s3.dense1", 97, 1280, 320},
      {"b2.s4.dense2", 97, 512, 2048},
      {"b2.head.linear_fuse", 13, 768, 3072},
  };
  v[10].scale = true;  // linear_fuse carries the BatchNorm scale/shift and ReLU
  v[10].act = Activation::kRelu;
  v[14].scale = true;
  v[14].act = Activation::kRelu;
  v[4].accumulate = true;  // dense2 adds onto the residual stream
  v[9].accumulate = true;
  v[13].accumulate = true;
  return v;
}

TEST(Gemm, Avx2MatchesRefOnSegformerShapes) {
  SEGQ_REQUIRE_AVX2();
  for (const GemmCase& c : real_shapes()) {
    check_case(c, true);
    check_case(c, false);
  }
}

TEST(Gemm, Avx2MatchesRefOnEdgeShapes) {
  SEGQ_REQUIRE_AVX2();
  for (int64_t m : {1, 5, 6, 7, 13}) {
    for (int64_t n : {1, 8, 15, 16, 17, 33}) {
      for (int64_t k : {0, 1, 2, 7, 513}) {
        GemmCase c{"edge", m, n, k};
        c.pad = (m + n + k) % 3;
        check_case(c, true);
        check_case(c, false);
      }
    }
  }
}

TEST(Gemm, EveryEpilogueAndDenseFormat) {
  SEGQ_REQUIRE_AVX2();
  for (WeightFormat f : {WeightFormat::F32, WeightFormat::F16, WeightFormat::BF16}) {
    for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kGelu}) {
      for (bool scale : {false, true}) {
        for (bool bias : {false, true}) {
          for (int64_t k : {40, 1100}) {  // one K tile, several K tiles
            GemmCase c{"epilogue", 37, 70, k, act, bias, scale, false, f, 3};
            check_case(c, false);
            if (f == WeightFormat::F32) check_case(c, true);
          }
        }
      }
      GemmCase acc{"accumulate", 37, 70, 1100, Activation::kNone, true, false, true, f, 1};
      check_case(acc, false);
    }
  }
}

// The reference applies the epilogue exactly as documented.
TEST(Gemm, RefEpilogueSemantics) {
  const float a[2] = {1.0f, 2.0f};   // A [1, 2]
  const float w[4] = {3, 4, -5, 6};  // W [2, 2]
  const float bias[2] = {0.5f, -1.0f};
  const float scale[2] = {2.0f, 0.5f};
  GemmWeights gw;
  gw.view.rows = 2;
  gw.view.cols = 2;
  gw.view.codes = w;
  gw.view.row_stride_bytes = 8;
  gw.view.group_size = 2;
  float c[2] = {100, 200};
  GemmEpilogue ep;
  ep.bias = bias;
  ep.scale = scale;
  ep.act = Activation::kRelu;
  gemm_ref(1, a, 2, gw, c, 2, ep);  // y = (11, 7): relu(22 + 0.5), relu(3.5 - 1)
  EXPECT_EQ(c[0], 22.5f);
  EXPECT_EQ(c[1], 2.5f);
  GemmEpilogue acc;
  acc.bias = bias;
  acc.accumulate = true;
  gemm_ref(1, a, 2, gw, c, 2, acc);  // c += y + b
  EXPECT_EQ(c[0], 22.5f + 11.5f);
  EXPECT_EQ(c[1], 2.5f + 6.0f);
}

// Results do not depend on the thread count (fixed K tiling, no reductions across threads).
TEST(Gemm, DeterministicAcrossThreadCounts) {
  SEGQ_REQUIRE_AVX2();
  GemmCase c{"threads", 301, 200, 1030, Activation::kGelu, true, true};
  const GemmData d = make_data(c);
  GemmWeights gw;
  gw.view = d.view;
  GemmEpilogue ep;
  ep.bias = d.bias.data();
  ep.scale = d.scale.data();
  ep.act = c.act;
  std::vector<std::vector<float>> outs;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    std::vector<float> out(static_cast<size_t>(c.m * c.n));
    gemm_f32_avx2(c.m, d.a.data(), c.k, gw, out.data(), c.n, ep);
    outs.push_back(out);
  }
  set_num_threads(0);
  EXPECT_EQ(outs[0], outs[1]);
  EXPECT_EQ(outs[0], outs[2]);
}

TEST(Gemm, PackingLayout) {
  // W [3, 2] -> one strip: [k][j], columns 3..15 zero.
  const float w[6] = {1, 2, 3, 4, 5, 6};
  WeightView v;
  v.rows = 3;
  v.cols = 2;
  v.codes = w;
  v.row_stride_bytes = 8;
  v.group_size = 2;
  std::vector<float> p(static_cast<size_t>(gemm_packed_floats(3, 2)), -1.0f);
  ASSERT_EQ(p.size(), 32u);
  gemm_pack_weights_into(v, p.data());
  EXPECT_EQ(p[0], 1);
  EXPECT_EQ(p[1], 3);
  EXPECT_EQ(p[2], 5);
  EXPECT_EQ(p[3], 0);
  EXPECT_EQ(p[16], 2);
  EXPECT_EQ(p[17], 4);
  EXPECT_EQ(p[18], 6);
  EXPECT_EQ(p[31], 0);
  // B [K=2, N=3] row-major packs to the same strip as its transpose W.
  const float b[6] = {1, 3, 5, 2, 4, 6};
  std::vector<float> q(32, -1.0f);
  gemm_pack_kn_into(2, 3, b, 3, q.data());
  EXPECT_EQ(p, q);
}

}  // namespace
}  // namespace segq
