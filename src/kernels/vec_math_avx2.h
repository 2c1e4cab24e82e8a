// Vector math for the AVX2/FMA kernels: exp, exact-erf GELU, horizontal reductions.
// Include only from *_avx2.cpp files: everything here is `static inline` so each AVX2 translation
// unit gets its own copy and no AVX2 code can be shared with the baseline build.
//
// Constants: tools/fit_gelu_coeffs.py (near-minimax fits against 40-digit mpmath values; the
// polynomial approximation errors are <= 3.5e-9 relative, far below float rounding). The float
// evaluation error is bounded in tests/kernels/test_elementwise.cpp.
#pragma once

#ifndef __AVX2__
#error "vec_math_avx2.h is for *_avx2.cpp translation units only"
#endif

#include <immintrin.h>

namespace segq {
namespace {

// exp(x) for float lanes, x <= 88.37 (the callers pass x <= 0; larger x saturates at 2.4e38).
// Arguments below -87.33 are clamped: results below FLT_MIN come out as ~1.2e-38 instead of
// subnormal/0 (an absolute error below 1.2e-38). Error <= 3 ulp (tests/kernels).
static inline __m256 exp_ps_avx2(__m256 x) {
  const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
  const __m256 ln2_hi = _mm256_set1_ps(0.693147182464599609375f);  // float(ln 2)
  const __m256 ln2_lo = _mm256_set1_ps(-1.904654299957768e-09f);   // ln 2 - ln2_hi
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.3365448f));
  x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626f));
  const __m256 n =
      _mm256_round_ps(_mm256_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // r = x - n ln2: the first FMA is exact (Cody-Waite with an FMA), |r| <= ln(2)/2 + tiny.
  __m256 r = _mm256_fnmadd_ps(n, ln2_hi, x);
  r = _mm256_fnmadd_ps(n, ln2_lo, r);
  // e^r = 1 + r + r^2 C(r)
  __m256 c = _mm256_set1_ps(1.984951849e-04f);
  c = _mm256_fmadd_ps(c, r, _mm256_set1_ps(1.393358128e-03f));
  c = _mm256_fmadd_ps(c, r, _mm256_set1_ps(8.333373128e-03f));
  c = _mm256_fmadd_ps(c, r, _mm256_set1_ps(4.166646572e-02f));
  c = _mm256_fmadd_ps(c, r, _mm256_set1_ps(1.666666650e-01f));
  c = _mm256_fmadd_ps(c, r, _mm256_set1_ps(5.000000013e-01f));
  const __m256 r2 = _mm256_mul_ps(r, r);
  const __m256 p = _mm256_add_ps(_mm256_fmadd_ps(r2, c, r), _mm256_set1_ps(1.0f));
  // 2^n for n in [-126, 127]: build the exponent field directly.
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// GELU(x) = x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2, the exact (erf) form.
//   |x| <= 1: Phi = 0.5 + 0.5 x A(x^2)
//   |x| >  1: Q = 1 - Phi(|x|) = 0.5 exp(-x^2/2) B(v) r, r = 1/(|x| + 4), v = (|x| - 4) r
//             (one division per vector),
//             Phi = x > 0 ? 1 - Q : Q; Q = 0 past |x| = 13.2 (Q(13.2) < 1e-38).
// exp(-x^2/2) uses x^2 = hi + lo (lo exact by FMA), exp(-hi/2) (1 - lo/2), so no error from
// rounding x^2 at large |x|.
static inline __m256 gelu_ps_avx2(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 half = _mm256_set1_ps(0.5f);
  const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);

  const __m256 s = _mm256_mul_ps(x, x);
  __m256 a = _mm256_set1_ps(-1.536176919e-05f);
  a = _mm256_fmadd_ps(a, s, _mm256_set1_ps(2.271151153e-04f));
  a = _mm256_fmadd_ps(a, s, _mm256_set1_ps(-2.372796168e-03f));
  a = _mm256_fmadd_ps(a, s, _mm256_set1_ps(1.994670246e-02f));
  a = _mm256_fmadd_ps(a, s, _mm256_set1_ps(-1.329807286e-01f));
  a = _mm256_fmadd_ps(a, s, _mm256_set1_ps(7.978845606e-01f));
  const __m256 phi_small = _mm256_fmadd_ps(_mm256_mul_ps(half, x), a, half);

  const __m256 t = _mm256_min_ps(ax, _mm256_set1_ps(13.2f));
  const __m256 four = _mm256_set1_ps(4.0f);
  const __m256 r = _mm256_div_ps(one, _mm256_add_ps(t, four));
  const __m256 v = _mm256_mul_ps(_mm256_sub_ps(t, four), r);
  __m256 b = _mm256_set1_ps(-4.048811330e-04f);
  b = _mm256_fmadd_ps(b, v, _mm256_set1_ps(2.624044181e-04f));
  b = _mm256_fmadd_ps(b, v, _mm256_set1_ps(3.243642492e-03f));
  b = _mm256_fmadd_ps(b, v, _mm256_set1_ps(-6.957744995e-03f));
  b = _mm256_fmadd_ps(b, v, _mm256_set1_ps(-1.507789529e-02f));
  b = _mm256_fmadd_ps(b, v, _mm256_set1_ps(1.207929097e-01f));
  b = _mm256_fmadd_ps(b, v, _mm256_set1_ps(-3.730438533e-01f));
  b = _mm256_fmadd_ps(b, v, _mm256_set1_ps(7.742748132e-01f));
  b = _mm256_fmadd_ps(b, v, _mm256_set1_ps(-1.215793282e+00f));
  b = _mm256_fmadd_ps(b, v, _mm256_set1_ps(1.510570261e+00f));
  const __m256 q = _mm256_mul_ps(b, r);
  const __m256 hi = _mm256_mul_ps(t, t);
  const __m256 lo = _mm256_fmsub_ps(t, t, hi);
  const __m256 e = _mm256_mul_ps(exp_ps_avx2(_mm256_mul_ps(_mm256_set1_ps(-0.5f), hi)),
                                 _mm256_fnmadd_ps(half, lo, one));
  // Past 13.2, Q < 1e-38: Phi is exactly 0 or 1 in float.
  const __m256 beyond = _mm256_cmp_ps(ax, _mm256_set1_ps(13.2f), _CMP_GT_OQ);
  const __m256 tail = _mm256_andnot_ps(beyond, _mm256_mul_ps(_mm256_mul_ps(half, e), q));
  const __m256 positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
  const __m256 phi_large = _mm256_blendv_ps(tail, _mm256_sub_ps(one, tail), positive);

  const __m256 small = _mm256_cmp_ps(ax, one, _CMP_LE_OQ);
  return _mm256_mul_ps(x, _mm256_blendv_ps(phi_large, phi_small, small));
}

static inline float hsum_ps_avx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static inline float hmax_ps_avx2(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Lane mask for the first n (0..8) lanes, for maskload/maskstore.
static inline __m256i tail_mask_avx2(int n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

}  // namespace
}  // namespace segq
