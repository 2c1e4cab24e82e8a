// GELU (exact erf form), exp and LayerNorm: the AVX2 versions against the references.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/kernel_test_util.h"
#include "kernels/layernorm.h"

namespace segq {
namespace {

using testing::kU;
using testing::random_floats;
using testing::ulp_of;

// Bound for the vectorized GELU, counting roundings in units of u (an error of k u |y| is < k ulp):
//  |x| <= 1: A(x^2) Horner 1.2 u, 0.5 x A 1 u, + 0.5 1 u, amplified by |0.5 x A| / Phi <= 2.15
//            where Phi is small (x = -1), then x * Phi 1 u:                          <= 7.2 u
//  x < -1:   exp 2 u, (1 - lo/2) 1 u, product 1 u, r = 1/(t+4) 1 u, v = (t-4) r 2 u (-> 1.4 u
//            through B), B Horner 2.5 u, B r 1 u, 0.5 e q 1 u, x * Phi 1 u:           <= 11.9 u
//  x > 1:    Phi = 1 - Q with Q <= 0.16 of Phi's size:                               <= 4 u
// The polynomial approximation errors (<= 3.5e-9 relative) add < 0.1 u. Bound: 12 ulp, plus
// 1e-37 absolute where the result underflows (|x| > 13.2). Measured worst: ~5 ulp.
constexpr double kGeluUlps = 12.0;

bool gelu_within_bound(float x, float got) {
  const double ref =
      0.5 * static_cast<double>(x) * std::erfc(-static_cast<double>(x) / std::sqrt(2.0));
  return std::fabs(got - ref) <= kGeluUlps * ulp_of(ref) + 1e-37;
}

TEST(Gelu, RefIsTheExactErfForm) {
  EXPECT_EQ(gelu_ref(0.0f), 0.0f);
  // x * Phi(x), 30-digit values (mpmath).
  EXPECT_EQ(gelu_ref(1.0f), static_cast<float>(0.841344746068542948585232545632));
  EXPECT_EQ(gelu_ref(-1.0f), static_cast<float>(-0.158655253931457051414767454368));
  EXPECT_EQ(gelu_ref(3.0f), static_cast<float>(2.9959503059051097164200445557));
  // The tanh approximation would give -1.49e-6 here; the erf form is -1.43e-6.
  EXPECT_EQ(gelu_ref(-5.0f), static_cast<float>(-0.00000143325785939596955836876166437));
}

TEST(Gelu, Avx2WithinDerivedBoundOverTheFloatRange) {
  SEGQ_REQUIRE_AVX2();
  std::vector<float> xs;
  // Every 499th float bit pattern with |x| <= 16 (both signs), plus the region boundaries.
  for (uint32_t bits = 0; bits < 0x41800000u; bits += 499) {
    float x;
    std::memcpy(&x, &bits, 4);
    xs.push_back(x);
    xs.push_back(-x);
  }
  for (float b : {1.0f, 13.2f, 0.0f, 4.0f}) {
    for (int i = -64; i <= 64; ++i) {
      float x = b;
      for (int s = 0; s < std::abs(i); ++s) x = std::nextafter(x, i < 0 ? -100.0f : 100.0f);
      xs.push_back(x);
      xs.push_back(-x);
    }
  }
  for (float x : {20.0f, -20.0f, 1e30f, -1e30f, 1e-30f, -1e-30f}) xs.push_back(x);
  std::vector<float> ys(xs.size());
  gelu_avx2(xs.data(), static_cast<int64_t>(xs.size()), ys.data());
  int64_t bad = 0;
  double worst = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double ref =
        0.5 * static_cast<double>(xs[i]) * std::erfc(-static_cast<double>(xs[i]) / std::sqrt(2.0));
    if (std::fabs(ref) > 1e-30) worst = std::max(worst, std::fabs(ys[i] - ref) / ulp_of(ref));
    if (!gelu_within_bound(xs[i], ys[i])) {
      if (++bad < 5) ADD_FAILURE() << "x=" << xs[i] << " got " << ys[i] << " want " << ref;
    }
  }
  EXPECT_EQ(bad, 0);
  std::printf("[ gelu ] %zu points, worst %.2f ulp (bound %.0f)\n", xs.size(), worst, kGeluUlps);
  // Special values: NaN propagates, infinities saturate to the identity / 0.
  float special[4] = {std::numeric_limits<float>::quiet_NaN(),
                      std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity(), -0.0f};
  float out[4];
  gelu_avx2(special, 4, out);
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_EQ(out[1], std::numeric_limits<float>::infinity());
  EXPECT_TRUE(out[2] == 0.0f || std::isnan(out[2]));  // -inf * 0 -> NaN is acceptable
  EXPECT_EQ(out[3], 0.0f);
}

TEST(Gelu, DispatchAndTails) {
  SEGQ_REQUIRE_AVX2();
  for (int64_t n : {0, 1, 7, 8, 9, 31}) {
    std::vector<float> x = random_floats(static_cast<size_t>(n) + 1, 11, -6.0f, 6.0f);
    std::vector<float> y(x.size(), 123.0f);
    gelu_avx2(x.data(), n, y.data());
    for (int64_t i = 0; i < n; ++i) EXPECT_TRUE(gelu_within_bound(x[i], y[i]));
    EXPECT_EQ(y[n], 123.0f);  // nothing past n is written
  }
}

// exp: Cody-Waite reduction with an exact first FMA, degree-7 polynomial: <= 3 ulp derived
// (reduction 0.5 u, polynomial 1.5 u, final additions 1 u); results below FLT_MIN are clamped to
// ~1.2e-38 (absolute error < 1.2e-38). Valid for x <= 88.37 (callers pass x <= 0).
TEST(Exp, Avx2WithinThreeUlp) {
  SEGQ_REQUIRE_AVX2();
  std::vector<float> xs;
  for (float x = -100.0f; x < 88.37f; x += 0.00731f) xs.push_back(x);
  for (float x : {0.0f, -0.0f, 88.37f, -87.3f, 1e-20f, -1e-20f}) xs.push_back(x);
  std::vector<float> ys(xs.size());
  exp_avx2(xs.data(), static_cast<int64_t>(xs.size()), ys.data());
  int64_t bad = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double ref = std::exp(static_cast<double>(xs[i]));
    if (!(std::fabs(ys[i] - ref) <= 3.0 * ulp_of(ref) + 1.2e-38)) {
      if (++bad < 5) ADD_FAILURE() << "x=" << xs[i] << " got " << ys[i] << " want " << ref;
    }
  }
  EXPECT_EQ(bad, 0);
}

// LayerNorm bound, per path: mean error e_mu <= (C + 1) u mean|x|; d = x - mean off by
// e_mu + u |d|; the variance and rstd relative error <= (C/2 + 3) u (+ e_mu^2/var, negligible);
// y = d r gamma + beta adds 2 u |y|. So |y_avx2 - y_ref| <= 2 (|gamma| r (e_mu + (C/2 + 6) u |d|)
// + 2 u |y|).
void check_layernorm(int64_t rows, int64_t c, float offset, bool in_place, int64_t pad) {
  const int64_t ld = c + pad;
  std::vector<float> x = random_floats(static_cast<size_t>(rows * ld), 21, -2.0f, 2.0f);
  for (float& v : x) v += offset;
  const std::vector<float> gamma = random_floats(static_cast<size_t>(c), 22, 0.5f, 1.5f);
  const std::vector<float> beta = random_floats(static_cast<size_t>(c), 23, -0.5f, 0.5f);
  std::vector<float> ref(x.size(), 7.0f), got(x.size(), 7.0f);
  layernorm_ref(rows, c, x.data(), ld, gamma.data(), beta.data(), 1e-5f, ref.data(), ld);
  if (in_place) {
    got = x;
    layernorm_avx2(rows, c, got.data(), ld, gamma.data(), beta.data(), 1e-5f, got.data(), ld);
  } else {
    layernorm_avx2(rows, c, x.data(), ld, gamma.data(), beta.data(), 1e-5f, got.data(), ld);
  }
  int64_t bad = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * ld;
    double mean = 0, abs_mean = 0;
    for (int64_t i = 0; i < c; ++i) {
      mean += xr[i];
      abs_mean += std::fabs(xr[i]);
    }
    mean /= c;
    abs_mean /= c;
    double var = 0;
    for (int64_t i = 0; i < c; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    const double rstd = 1.0 / std::sqrt(var / c + 1e-5);
    const double e_mu = (c + 1) * kU * abs_mean;
    for (int64_t i = 0; i < c; ++i) {
      const double d = std::fabs(xr[i] - mean);
      const double y = std::fabs(ref[r * ld + i]);
      const double tol =
          2.0 * (std::fabs(gamma[i]) * rstd * (e_mu + (c / 2.0 + 6) * kU * d) + 2 * kU * y) + 1e-30;
      if (!(std::fabs(got[r * ld + i] - ref[r * ld + i]) <= tol)) ++bad;
    }
    for (int64_t i = c; i < ld; ++i) {
      if (!in_place) {
        EXPECT_EQ(got[r * ld + i], 7.0f);  // padding untouched
      }
    }
  }
  EXPECT_EQ(bad, 0) << "rows=" << rows << " C=" << c << " offset=" << offset;
}

TEST(LayerNorm, Avx2MatchesRef) {
  SEGQ_REQUIRE_AVX2();
  for (int64_t c : {32, 64, 160, 256, 320, 512, 768}) check_layernorm(67, c, 0.0f, false, 0);
  for (int64_t c : {1, 3, 7, 9, 17, 33}) check_layernorm(5, c, 0.0f, false, 3);
  check_layernorm(40, 160, 100.0f, false, 0);  // large common offset: cancellation in the mean
  check_layernorm(40, 64, 0.0f, true, 0);
  check_layernorm(600, 32, 0.5f, true, 5);  // threaded over rows
}

TEST(LayerNorm, RefMatchesDefinition) {
  const float x[4] = {1, 2, 3, 4};
  const float g[4] = {1, 1, 2, 1};
  const float b[4] = {0, 0, 0, 1};
  float y[4];
  layernorm_ref(1, 4, x, 4, g, b, 1e-5f, y, 4);
  const double rstd = 1.0 / std::sqrt(1.25 + 1e-5);  // biased variance of 1..4 is 1.25
  EXPECT_NEAR(y[0], -1.5 * rstd, 1e-6);
  EXPECT_NEAR(y[2], 2 * 0.5 * rstd, 1e-6);
  EXPECT_NEAR(y[3], 1.5 * rstd + 1, 1e-6);
}

}  // namespace
}  // namespace segq
