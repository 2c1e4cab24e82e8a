// Attention (QKᵀ·scale, softmax, ·V per head) and the row softmax: AVX2 vs reference.
// Bound per output o = Σ_j p_j v_j: each path's scores t_j = scale Σ_t q_t k_jt are off by at most
// E = scale (d + 2) u max_j Σ_t |q_t k_jt|; a softmax input shift of at most E changes p_j by at
// most p_j (2E + exp 3 ulp + sum/division (n_kv + 2) u); the P·V sum adds n_kv u Σ_j p_j |v_j|.
// Both paths: |o_avx2 - o_ref| <= 2 (2E + (2 n_kv + 12) u) Σ_j p_j |v_j|.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/kernel_test_util.h"

namespace segq {
namespace {

using testing::kU;
using testing::random_floats;

void check_attention(AttentionShape s, int64_t pad, float spread) {
  const int64_t c = s.heads * s.head_dim;
  const int64_t ld = c + pad;
  const std::vector<float> q =
      random_floats(static_cast<size_t>(s.batch * s.n_q * ld), 31, -spread, spread);
  const std::vector<float> k =
      random_floats(static_cast<size_t>(s.batch * s.n_kv * ld), 32, -spread, spread);
  const std::vector<float> v = random_floats(static_cast<size_t>(s.batch * s.n_kv * ld), 33);
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  std::vector<float> ref(q.size(), 5.0f), got(q.size(), 5.0f);
  attention_ref(s, q.data(), ld, k.data(), ld, v.data(), ld, scale, ref.data(), ld);
  attention_avx2(s, q.data(), ld, k.data(), ld, v.data(), ld, scale, got.data(), ld);
  int64_t bad = 0;
  const int64_t d = s.head_dim;
  std::vector<double> p(static_cast<size_t>(s.n_kv));
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t h = 0; h < s.heads; ++h) {
      for (int64_t i = 0; i < s.n_q; ++i) {
        const float* qi = q.data() + (b * s.n_q + i) * ld + h * d;
        double max_abs_dot = 0, max_t = -1e300;
        for (int64_t j = 0; j < s.n_kv; ++j) {
          const float* kj = k.data() + (b * s.n_kv + j) * ld + h * d;
          double dot = 0, abs_dot = 0;
          for (int64_t t = 0; t < d; ++t) {
            dot += static_cast<double>(qi[t]) * kj[t];
            abs_dot += std::fabs(static_cast<double>(qi[t]) * kj[t]);
          }
          p[j] = dot * scale;
          max_t = std::max(max_t, p[j]);
          max_abs_dot = std::max(max_abs_dot, abs_dot);
        }
        double sum = 0;
        for (double& pj : p) sum += (pj = std::exp(pj - max_t));
        for (double& pj : p) pj /= sum;
        const double e = scale * (d + 2) * kU * max_abs_dot;
        for (int64_t t = 0; t < d; ++t) {
          double weighted = 0;
          for (int64_t j = 0; j < s.n_kv; ++j) {
            weighted += p[j] * std::fabs(v[(b * s.n_kv + j) * ld + h * d + t]);
          }
          const double tol = 2.0 * (2.0 * e + (2.0 * s.n_kv + 12) * kU) * weighted + 1e-30;
          const size_t idx = static_cast<size_t>((b * s.n_q + i) * ld + h * d + t);
          if (!(std::fabs(got[idx] - ref[idx]) <= tol)) ++bad;
        }
      }
    }
  }
  for (size_t idx = 0; idx < got.size(); ++idx) {
    if (static_cast<int64_t>(idx % ld) >= c) {
      EXPECT_EQ(got[idx], 5.0f);  // padding untouched
    }
  }
  EXPECT_EQ(bad, 0) << "batch=" << s.batch << " n_q=" << s.n_q << " n_kv=" << s.n_kv
                    << " heads=" << s.heads << " d=" << s.head_dim;
}

TEST(Attention, Avx2MatchesRefOnSegformerShapes) {
  SEGQ_REQUIRE_AVX2();
  // b0/b2 heads and head dims against 256 reduced keys; queries cut from 16384/4096/1024.
  check_attention({1, 300, 256, 1, 32}, 0, 1.0f);  // b0 stage 1
  check_attention({1, 200, 256, 2, 32}, 0, 1.0f);  // b0 stage 2
  check_attention({2, 100, 256, 5, 32}, 0, 1.0f);  // b0 stage 3, batch 2
  check_attention({1, 256, 256, 8, 32}, 0, 1.0f);  // b0 stage 4 (sr 1: n_kv = n_q)
  check_attention({1, 130, 256, 5, 64}, 0, 1.0f);  // b2 stage 3
  check_attention({1, 97, 256, 2, 32}, 0, 3.0f);   // peaked softmax (large scores)
}

TEST(Attention, Avx2MatchesRefOnEdgeShapes) {
  SEGQ_REQUIRE_AVX2();
  for (int64_t n_q : {1, 5, 47, 48, 49}) {
    for (int64_t n_kv : {1, 2, 7, 17}) {
      for (int64_t d : {1, 3, 8, 17}) {
        check_attention({1, n_q, n_kv, 2, d}, (n_q + d) % 3, 1.0f);
      }
    }
  }
  check_attention({3, 9, 6, 3, 5}, 2, 1.0f);  // 67x93-style odd grids: 9 keys etc.
}

TEST(Attention, SingleKeyCopiesValue) {
  // One key: softmax is exactly 1, the output is V.
  const AttentionShape s{1, 3, 1, 2, 2};
  const float q[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const float k[4] = {1, -1, 2, 2};
  const float v[4] = {0.5f, -0.25f, 3, 4};
  float out[12];
  attention_ref(s, q, 4, k, 4, v, 4, 0.7f, out, 4);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) EXPECT_EQ(out[i * 4 + j], v[j]);
  }
}

TEST(Softmax, Avx2MatchesRef) {
  SEGQ_REQUIRE_AVX2();
  for (int64_t n : {1, 7, 8, 9, 256, 259}) {
    std::vector<float> x = random_floats(static_cast<size_t>(3 * (n + 2)), 41, -20.0f, 20.0f);
    std::vector<float> a = x, b = x;
    softmax_rows_ref(3, n, a.data(), n + 2, 0.3f);
    softmax_rows_avx2(3, n, b.data(), n + 2, 0.3f);
    for (int64_t r = 0; r < 3; ++r) {
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        const float pa = a[r * (n + 2) + j], pb = b[r * (n + 2) + j];
        // |Δp| <= p ((n + 8) u + 3 ulp of exp + scale·20·2u input rounding) for both paths
        EXPECT_NEAR(pb, pa, 2.0 * pa * ((n + 8) * kU + 6 * kU + 0.3 * 20 * 2 * kU) + 1e-37);
        sum += pb;
      }
      EXPECT_NEAR(sum, 1.0, (n + 8) * 2 * kU);
      EXPECT_EQ(b[r * (n + 2) + n], x[r * (n + 2) + n]);  // past n untouched
    }
  }
}

}  // namespace
}  // namespace segq
