// Int8 GEMM (w8a8): activation quantization, the integer core and the epilogue, AVX2 against the
// scalar reference and both against exact int64 sums, on b0/b2 shapes, odd edge shapes and the
// extreme values that would saturate a naive vpmaddubsw scheme.
//
// Exactness: the integer sums are exact on both paths (compared to int64), the activation
// quantization is bit-identical, and the epilogue is the same sequence of float operations, so the
// outputs are equal bit for bit (GELU: the AVX2 GELU is within 12 ulp of the reference's).
//
// Against the fp32 GEMM on the dequantized weights (what w8a8 approximates): with qa = q(a), sa
// the per-row scale, |a_k - qa_k sa| <= sa / 2 (1 + 2^-20) + 4 u |a_k| (the rounding of a * inv,
// of inv and of sa), hence
//   |y_w8a8 - y_fp32| <= Σ_k |w_k| (sa / 2 (1 + 2^-20) + 4 u |a_k|)       (activation rounding)
//                      + (K + 1) u Σ_k |w_k a_k|                          (fp32 GEMM rounding)
//                      + 3 u (Σ_k |w_k| |a_k| + Σ_k |w_k| sa / 2)         (two scalings, cast)
// plus the epilogue's roundings (bias) on the magnitudes involved.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/decode_layout.h"
#include "kernels/gemm.h"
#include "kernels/gemm_int8.h"
#include "kernels/kernel_test_util.h"

namespace segq {
namespace {

using testing::kU;
using testing::random_floats;

// A symmetric per-channel INT8 weight as quant/ stores it: codes c = q + 128, fp32 scales.
struct I8Weight {
  std::vector<uint8_t> codes;
  std::vector<float> scales;
  WeightView view;
  std::vector<float> dequant;  // [N, K] q * scale
};

I8Weight make_weight(int64_t n, int64_t k, uint32_t seed) {
  I8Weight w;
  const std::vector<float> r =
      random_floats(static_cast<size_t>(std::max<int64_t>(1, n * k)), seed, -127.5f, 127.5f);
  const std::vector<float> s = random_floats(static_cast<size_t>(n), seed + 1, 1e-3f, 2e-2f);
  w.codes.resize(static_cast<size_t>(std::max<int64_t>(1, n * k)));
  w.scales = s;
  w.dequant.resize(w.codes.size());
  for (int64_t i = 0; i < n * k; ++i) {
    const int q = static_cast<int>(std::nearbyint(r[i]));
    w.codes[i] = static_cast<uint8_t>(std::clamp(q, -128, 127) + 128);
  }
  w.view.format = WeightFormat::INT8;
  w.view.rows = n;
  w.view.cols = k;
  w.view.codes = w.codes.data();
  w.view.scales = w.scales.data();
  w.view.scale_dtype = DType::F32;
  w.view.group_size = k;
  w.view.groups_per_row = 1;
  w.view.row_stride_bytes = k;
  w.view.symmetric = true;
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t kk = 0; kk < k; ++kk) {
      w.dequant[j * k + kk] = static_cast<float>(w.codes[j * k + kk] - 128) * w.scales[j];
    }
  }
  return w;
}

int qw_at(const I8Weight& w, int64_t n, int64_t k) {
  return static_cast<int>(w.codes[n * w.view.cols + k]) - 128;
}

TEST(GemmInt8, QuantizeRowsAvx2EqualsRefAndRespectsTheRange) {
  SEGQ_REQUIRE_AVX2();
  for (int64_t k : {1, 3, 4, 7, 8, 9, 32, 147, 1024, 1027}) {
    const int64_t m = 7, lda = k + 3;
    std::vector<float> a = random_floats(static_cast<size_t>(m * lda), 11, -3.0f, 3.0f);
    for (int64_t c = 0; c < k; ++c) a[2 * lda + c] = 0.0f;  // an all-zero row
    a[3 * lda + k / 2] = -50.0f;                            // a negative amax
    const int64_t k4 = gemm_i8_row_bytes(k), ldq = k4 + 4;
    std::vector<int8_t> q1(static_cast<size_t>(m * ldq), 99), q2 = q1;
    std::vector<float> s1(m), s2(m);
    quantize_rows_i8_ref(m, k, a.data(), lda, q1.data(), ldq, s1.data());
    quantize_rows_i8_avx2(m, k, a.data(), lda, q2.data(), ldq, s2.data());
    EXPECT_EQ(s1, s2) << "k=" << k;
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t c = 0; c < k4; ++c) {
        const size_t i = static_cast<size_t>(r * ldq + c);
        ASSERT_EQ(q1[i], q2[i]) << "k=" << k << " row " << r << " col " << c;
        if (c >= k) {
          EXPECT_EQ(q1[i], 0);  // K padding
        }
        EXPECT_GE(q1[i], -127);
        if (c < k) {  // |a - q sa| <= sa / 2 (+ rounding)
          const double err = std::fabs(a[r * lda + c] - q1[i] * static_cast<double>(s1[r]));
          EXPECT_LE(err, s1[r] * 0.5 * (1 + 0x1p-20) + 4 * kU * std::fabs(a[r * lda + c]));
        }
      }
      for (int64_t c = k4; c < ldq; ++c) EXPECT_EQ(q1[r * ldq + c], 99);  // beyond the row
    }
    EXPECT_EQ(s1[2], 0.0f);
    EXPECT_EQ(q1[3 * ldq + k / 2], -127);  // amax maps to ±127 exactly
  }
}

// acc = Σ qa qw on both paths equals the int64 sum.
void check_acc(int64_t m, int64_t n, int64_t k, const std::vector<int8_t>& qa, int64_t ldq,
               const I8Weight& w) {
  const GemmI8Weights p = gemm_i8_pack_weights(w.view);
  std::vector<int32_t> r(static_cast<size_t>(m * n)), v(r.size(), 7);
  gemm_i8_acc_ref(m, qa.data(), ldq, p, r.data(), n);
  if (kernel_isa_available(KernelIsa::kAvx2)) gemm_i8_acc_avx2(m, qa.data(), ldq, p, v.data(), n);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t s = 0;
      for (int64_t kk = 0; kk < k; ++kk) s += int64_t{qa[i * ldq + kk]} * qw_at(w, j, kk);
      ASSERT_EQ(r[i * n + j], s) << "ref m=" << m << " n=" << n << " k=" << k;
      if (kernel_isa_available(KernelIsa::kAvx2)) {
        ASSERT_EQ(v[i * n + j], s)
            << "avx2 m=" << m << " n=" << n << " k=" << k << " at " << i << "," << j;
      }
    }
  }
}

TEST(GemmInt8, IntegerSumsAreExactOnEdgeShapes) {
  for (int64_t m : {1, 3, 4, 5, 13}) {
    for (int64_t n : {1, 8, 15, 16, 17, 33}) {
      for (int64_t k : {1, 2, 3, 4, 5, 7, 64, 513}) {
        const I8Weight w = make_weight(n, k, static_cast<uint32_t>(m * 100 + n * 10 + k));
        const int64_t ldq = gemm_i8_row_bytes(k) + 4 * (k % 2);
        std::vector<int8_t> qa(static_cast<size_t>(m * ldq), 0);
        const std::vector<float> r = random_floats(qa.size(), 5, -127.5f, 127.5f);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t c = 0; c < k; ++c) {
            qa[i * ldq + c] = static_cast<int8_t>(std::nearbyint(r[i * ldq + c]));
          }
        }
        check_acc(m, n, k, qa, ldq, w);
      }
    }
  }
}

// The extremes: every activation ±127 and every weight -128, -127 or +127 (the products and pair
// sums a saturating u8 x s8 scheme would clip), at the largest real K (b2's linear_fuse, 3072) and
// at the largest K the int32 accumulator allows.
TEST(GemmInt8, ExtremeValuesDoNotSaturate) {
  for (int64_t k : {int64_t{3072}, kGemmI8MaxK}) {
    const int64_t m = 6, n = 17;
    I8Weight w = make_weight(n, k, 3);
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t kk = 0; kk < k; ++kk) {
        int q = j % 3 == 0 ? -128 : (j % 3 == 1 ? 127 : -127);
        if (j >= 12 && kk % 2) q = -q == 128 ? 127 : -q;  // alternating signs on some rows
        w.codes[j * k + kk] = static_cast<uint8_t>(q + 128);
      }
    }
    const int64_t ldq = gemm_i8_row_bytes(k);
    std::vector<int8_t> qa(static_cast<size_t>(m * ldq), 0);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t c = 0; c < k; ++c) {
        int8_t v = i % 2 == 0 ? 127 : -127;
        if (i >= 4 && c % 3 == 0) v = static_cast<int8_t>(-v);
        qa[i * ldq + c] = v;
      }
    }
    check_acc(m, n, k, qa, ldq, w);
  }
}

// Whole GEMM from fp32 activations: the activation quantizer meets ±amax, so codes ±127 appear.
TEST(GemmInt8, ExtremeActivationsThroughTheQuantizer) {
  SEGQ_REQUIRE_AVX2();
  const int64_t m = 5, n = 19, k = 3072;
  I8Weight w = make_weight(n, k, 8);
  for (int64_t i = 0; i < n * k; ++i) w.codes[i] = i % 2 ? 0 : 255;  // -128 / +127
  std::vector<float> a(static_cast<size_t>(m * k));
  for (int64_t i = 0; i < m * k; ++i) a[i] = (i / k) % 2 ? -2.5f : 2.5f;  // all ±amax: ±127
  const GemmI8Weights p = gemm_i8_pack_weights(w.view);
  std::vector<float> r(static_cast<size_t>(m * n)), v(r.size());
  gemm_i8_ref(m, a.data(), k, p, r.data(), n);
  gemm_i8_avx2(m, a.data(), k, p, v.data(), n);
  EXPECT_EQ(r, v);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t s = 0;
      for (int64_t kk = 0; kk < k; ++kk) s += (i % 2 ? -127 : 127) * int64_t{qw_at(w, j, kk)};
      const float sa = 2.5f / 127.0f;
      EXPECT_EQ(r[i * n + j], static_cast<float>(s) * sa * w.scales[j]);
    }
  }
}

struct Case {
  const char* name;
  int64_t m, n, k;
  Activation act = Activation::kNone;
  bool bias = true, scale = false, accumulate = false;
  int64_t pad = 0;
};

void check_gemm(const Case& c) {
  const I8Weight w = make_weight(c.n, c.k, static_cast<uint32_t>(c.n + 7 * c.k));
  const GemmI8Weights p = gemm_i8_pack_weights(w.view);
  const int64_t lda = c.k + c.pad, ldc = c.n + c.pad;
  const std::vector<float> a =
      random_floats(static_cast<size_t>(std::max<int64_t>(1, c.m * lda)), 1, -2.0f, 2.0f);
  const std::vector<float> bias = random_floats(static_cast<size_t>(c.n), 3, -1.0f, 1.0f);
  const std::vector<float> scale = random_floats(static_cast<size_t>(c.n), 4, 0.2f, 2.0f);
  const std::vector<float> c0 =
      random_floats(static_cast<size_t>(std::max<int64_t>(1, c.m * ldc)), 5, -2.0f, 2.0f);
  GemmEpilogue ep;
  ep.bias = c.bias ? bias.data() : nullptr;
  ep.scale = c.scale ? scale.data() : nullptr;
  ep.act = c.act;
  ep.accumulate = c.accumulate;
  std::vector<float> ref = c0, got = c0, f32 = c0;
  gemm_i8_ref(c.m, a.data(), lda, p, ref.data(), ldc, ep);
  gemm_i8_avx2(c.m, a.data(), lda, p, got.data(), ldc, ep);
  // The fp32 GEMM on the dequantized weights.
  GemmWeights gw;
  gw.view.rows = c.n;
  gw.view.cols = c.k;
  gw.view.codes = w.dequant.data();
  gw.view.group_size = c.k;
  gw.view.row_stride_bytes = c.k * 4;
  gemm_ref(c.m, a.data(), lda, gw, f32.data(), ldc, ep);

  std::vector<float> sa(static_cast<size_t>(c.m));
  for (int64_t i = 0; i < c.m; ++i) {
    float amax = 0;
    for (int64_t kk = 0; kk < c.k; ++kk) amax = std::max(amax, std::fabs(a[i * lda + kk]));
    sa[i] = amax / 127.0f;
  }
  const double lip = c.act == Activation::kGelu ? 1.129 : 1.0;
  int64_t bad_exact = 0, bad_bound = 0;
  double worst = 0;
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t idx = static_cast<size_t>(i * ldc + j);
      if (j >= c.n) {
        EXPECT_EQ(got[idx], c0[idx]);
        EXPECT_EQ(ref[idx], c0[idx]);
        continue;
      }
      if (c.act == Activation::kGelu) {
        if (!(std::fabs(got[idx] - ref[idx]) <= 24 * kU * std::fabs(ref[idx]) + 1e-30)) {
          ++bad_exact;
        }
      } else if (std::memcmp(&got[idx], &ref[idx], 4) != 0) {
        ++bad_exact;
      }
      double wa = 0, wsum = 0, wabs_a = 0;
      for (int64_t kk = 0; kk < c.k; ++kk) {
        const double wk = std::fabs(w.dequant[j * c.k + kk]);
        const double ak = std::fabs(a[i * lda + kk]);
        wa += wk * ak;
        wsum += wk;
        wabs_a += wk * 4 * kU * ak;
      }
      const double sc = c.scale ? scale[j] : 1.0;
      const double act_err = wsum * sa[i] * 0.5 * (1 + 0x1p-20) + wabs_a;
      const double mag = sc * (wa + act_err) + (c.bias ? std::fabs(bias[j]) : 0.0) +
                         (c.accumulate ? std::fabs(c0[idx]) : 0.0);
      double tol = lip * (sc * (act_err + (c.k + 1) * kU * wa + 3 * kU * (wa + wsum * sa[i])) +
                          8 * kU * mag);
      if (c.act == Activation::kGelu) tol += 24 * kU * std::fabs(f32[idx]);
      tol += 1e-30;
      const double d = std::fabs(static_cast<double>(ref[idx]) - f32[idx]);
      worst = std::max(worst, d / tol);
      if (!(d <= tol)) ++bad_bound;
    }
  }
  EXPECT_EQ(bad_exact, 0) << c.name << " m=" << c.m << " n=" << c.n << " k=" << c.k
                          << ": AVX2 differs from the reference";
  EXPECT_EQ(bad_bound, 0) << c.name << " m=" << c.m << " n=" << c.n << " k=" << c.k
                          << ": worst diff/bound vs fp32 " << worst;
}

TEST(GemmInt8, Avx2EqualsRefAndStaysWithinTheBoundOfFp32OnSegformerShapes) {
  SEGQ_REQUIRE_AVX2();
  std::vector<Case> cases = {
      {"b0.s1.patch_embed", 250, 32, 147},
      {"b0.s1.query", 97, 32, 32},
      {"b0.s1.sr", 97, 32, 2048},
      {"b0.s1.dense1", 250, 128, 32},
      {"b0.s1.dense2", 97, 32, 128},
      {"b0.s3.dense1", 97, 640, 160},
      {"b0.s4.patch_embed", 97, 256, 1440},
      {"b0.head.linear_fuse", 250, 256, 1024},
      {"b0.head.classifier", 97, 150, 256},
      {"b2.s4.dense2", 45, 512, 2048},
      {"b2.head.linear_fuse", 13, 768, 3072},
  };
  cases[4].accumulate = true;
  cases[7].scale = true;
  cases[7].act = Activation::kRelu;
  cases[9].accumulate = true;
  cases[3].act = Activation::kGelu;
  for (const Case& c : cases) check_gemm(c);
}

TEST(GemmInt8, EdgeShapesAndEpilogues) {
  SEGQ_REQUIRE_AVX2();
  for (int64_t m : {1, 4, 5, 7}) {
    for (int64_t n : {1, 15, 16, 17}) {
      for (int64_t k : {0, 1, 3, 5, 130}) {
        Case c{"edge", m, n, k};
        c.pad = (m + n + k) % 3;
        check_gemm(c);
      }
    }
  }
  for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kGelu}) {
    for (bool scale : {false, true}) {
      for (bool bias : {false, true}) {
        check_gemm(Case{"epilogue", 37, 70, 90, act, bias, scale, false, 3});
      }
    }
  }
  check_gemm(Case{"accumulate", 37, 70, 90, Activation::kNone, true, false, true, 1});
  check_gemm(Case{"accumulate-nobias", 9, 20, 33, Activation::kNone, false, false, true, 0});
}

TEST(GemmInt8, DeterministicAcrossThreadCounts) {
  SEGQ_REQUIRE_AVX2();
  const I8Weight w = make_weight(200, 300, 4);
  const GemmI8Weights p = gemm_i8_pack_weights(w.view);
  const std::vector<float> a = random_floats(301 * 300, 6);
  std::vector<std::vector<float>> outs;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    std::vector<float> out(301 * 200);
    gemm_i8_avx2(301, a.data(), 300, p, out.data(), 200);
    outs.push_back(out);
  }
  set_num_threads(0);
  EXPECT_EQ(outs[0], outs[1]);
  EXPECT_EQ(outs[0], outs[2]);
}

TEST(GemmInt8, PackRejectsNonPerChannelInt8) {
  I8Weight w = make_weight(4, 32, 1);
  WeightView v = w.view;
  v.format = WeightFormat::INT4;
  EXPECT_THROW(gemm_i8_pack_weights(v), Error);
  v = w.view;
  v.groups_per_row = 2;
  v.group_size = 16;
  EXPECT_THROW(gemm_i8_pack_weights(v), Error);
  v = w.view;
  v.symmetric = false;
  EXPECT_THROW(gemm_i8_pack_weights(v), Error);
}

}  // namespace
}  // namespace segq
