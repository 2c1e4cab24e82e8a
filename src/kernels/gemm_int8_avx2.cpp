// The AVX2 int8 GEMM compute (scheme and exactness argument in gemm_int8.h): per-token activation
// quantization and a 4x16 register tile (8 int32 accumulators; per 4 inputs: 2 weight loads, 2
// vpabsb, then per row one broadcast, 2 vpsignb, 2 vpmaddubsw, 2 vpmaddwd, 2 vpaddd).
#include <cmath>

#include "kernels/gemm_int8.h"
#include "kernels/vec_math_avx2.h"

namespace segq {

void quantize_rows_i8_avx2(int64_t m, int64_t k, const float* a, int64_t lda, int8_t* qa,
                           int64_t ldq, float* sa) {
  const int64_t k4 = gemm_i8_row_bytes(k);
  const int64_t k8 = k & ~int64_t{7};
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  for (int64_t r = 0; r < m; ++r) {
    const float* x = a + r * lda;
    int8_t* q = qa + r * ldq;
    __m256 vmax = _mm256_setzero_ps();
    for (int64_t i = 0; i < k8; i += 8) {
      vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign_bit, _mm256_loadu_ps(x + i)));
    }
    float amax = hmax_ps_avx2(vmax);
    for (int64_t i = k8; i < k; ++i) {
      const float v = std::fabs(x[i]);
      amax = v > amax ? v : amax;
    }
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    sa[r] = amax / 127.0f;
    const __m256 vinv = _mm256_set1_ps(inv);
    int64_t i = 0;
    for (; i < k8; i += 8) {
      __m256 t = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv),
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      t = _mm256_min_ps(hi, _mm256_max_ps(lo, t));
      const __m256i v32 = _mm256_cvtps_epi32(t);
      // int32 -> int16 -> int8 (values in [-127, 127], no saturation happens).
      const __m128i v16 =
          _mm_packs_epi32(_mm256_castsi256_si128(v32), _mm256_extracti128_si256(v32, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), _mm_packs_epi16(v16, v16));
    }
    for (; i < k; ++i) {
      float t = std::nearbyint(x[i] * inv);
      t = t < -127.0f ? -127.0f : (t > 127.0f ? 127.0f : t);
      q[i] = static_cast<int8_t>(t);
    }
    for (; i < k4; ++i) q[i] = 0;
  }
}

namespace gemm_i8_detail {
namespace {

static inline __m256 apply_act(__m256 v, Activation act) {
  if (act == Activation::kRelu) return _mm256_max_ps(v, _mm256_setzero_ps());
  if (act == Activation::kGelu) return gelu_ps_avx2(v);
  return v;
}

static inline __m256 load_lanes(const float* p, int lanes, __m256i mask) {
  return lanes >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
}
static inline void store_lanes(float* p, int lanes, __m256i mask, __m256 v) {
  if (lanes >= 8) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, mask, v);
  }
}

// 8 output lanes of one row: y = float(acc) * sa * sw, then the epilogue (as finish_ref).
static inline void finish8(__m256i acc, float sa, const float* sw, const float* bias,
                           const float* scale, const GemmEpilogue& ep, float* c, int lanes,
                           __m256i mask) {
  __m256 y = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(sa));
  y = _mm256_mul_ps(y, load_lanes(sw, lanes, mask));
  if (ep.accumulate) {
    if (bias) y = _mm256_add_ps(y, load_lanes(bias, lanes, mask));
    store_lanes(c, lanes, mask, _mm256_add_ps(load_lanes(c, lanes, mask), y));
    return;
  }
  if (scale) y = _mm256_mul_ps(y, load_lanes(scale, lanes, mask));
  if (bias) y = _mm256_add_ps(y, load_lanes(bias, lanes, mask));
  store_lanes(c, lanes, mask, apply_act(y, ep.act));
}

// R rows x 16 columns over k4 / 4 groups of 4 inputs. a: R rows of int8 (stride ldq); b: one
// strip (16 x 4 bytes per group). Writes the int32 sums to acc (R x 16).
template <int R>
static inline void ukernel_i8(int64_t kq, const int8_t* a, int64_t ldq, const int8_t* b,
                              __m256i* acc) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i s0[R], s1[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    s0[r] = _mm256_setzero_si256();
    s1[r] = _mm256_setzero_si256();
  }
  for (int64_t q = 0; q < kq; ++q) {
    const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + q * 64));
    const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + q * 64 + 32));
    const __m256i u0 = _mm256_abs_epi8(w0);
    const __m256i u1 = _mm256_abs_epi8(w1);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256i av = _mm256_broadcastd_epi32(_mm_loadu_si32(a + r * ldq + q * 4));
      const __m256i p0 = _mm256_maddubs_epi16(u0, _mm256_sign_epi8(av, w0));
      const __m256i p1 = _mm256_maddubs_epi16(u1, _mm256_sign_epi8(av, w1));
      s0[r] = _mm256_add_epi32(s0[r], _mm256_madd_epi16(p0, ones));
      s1[r] = _mm256_add_epi32(s1[r], _mm256_madd_epi16(p1, ones));
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    acc[2 * r] = s0[r];
    acc[2 * r + 1] = s1[r];
  }
}

template <int R>
static void tile(int64_t kq, const int8_t* a, int64_t ldq, const int8_t* b, int64_t n0, int nr,
                 const float* sa, const GemmI8Weights& w, float* c, int64_t ldc,
                 const GemmEpilogue& ep, int32_t* acc_out, int64_t ldacc) {
  __m256i acc[2 * R];
  ukernel_i8<R>(kq, a, ldq, b, acc);
  const int lanes0 = nr < 8 ? nr : 8;
  const int lanes1 = nr - 8;
  const __m256i mask0 = tail_mask_avx2(lanes0);
  const __m256i mask1 = tail_mask_avx2(lanes1 > 0 ? lanes1 : 0);
  for (int r = 0; r < R; ++r) {
    if (acc_out) {
      int32_t* o = acc_out + r * ldacc + n0;
      _mm256_maskstore_epi32(o, mask0, acc[2 * r]);
      if (lanes1 > 0) _mm256_maskstore_epi32(o + 8, mask1, acc[2 * r + 1]);
      continue;
    }
    const float* bias = ep.bias ? ep.bias + n0 : nullptr;
    const float* scale = ep.scale ? ep.scale + n0 : nullptr;
    float* cr = c + r * ldc + n0;
    finish8(acc[2 * r], sa[r], w.scales + n0, bias, scale, ep, cr, lanes0, mask0);
    if (lanes1 > 0) {
      finish8(acc[2 * r + 1], sa[r], w.scales + n0 + 8, bias ? bias + 8 : nullptr,
              scale ? scale + 8 : nullptr, ep, cr + 8, lanes1, mask1);
    }
  }
}

using TileFn = void (*)(int64_t, const int8_t*, int64_t, const int8_t*, int64_t, int, const float*,
                        const GemmI8Weights&, float*, int64_t, const GemmEpilogue&, int32_t*,
                        int64_t);
constexpr TileFn kTiles[5] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>};

}  // namespace

void rows_avx2(int64_t m, const int8_t* qa, int64_t ldq, const float* sa, const GemmI8Weights& w,
               float* c, int64_t ldc, const GemmEpilogue& ep, int32_t* acc_out, int64_t ldacc) {
  const int64_t k4 = gemm_i8_row_bytes(w.cols);
  const int64_t kq = k4 / 4;
  for (int64_t n0 = 0; n0 < w.rows; n0 += kGemmNr) {
    const int nr = static_cast<int>(w.rows - n0 < kGemmNr ? w.rows - n0 : kGemmNr);
    const int8_t* b = w.panels + (n0 / kGemmNr) * kGemmNr * k4;
    for (int64_t i = 0; i < m; i += 4) {
      const int rows = static_cast<int>(m - i < 4 ? m - i : 4);
      kTiles[rows](kq, qa + i * ldq, ldq, b, n0, nr, sa ? sa + i : nullptr, w,
                   c ? c + i * ldc : nullptr, ldc, ep, acc_out ? acc_out + i * ldacc : nullptr,
                   ldacc);
    }
  }
}

}  // namespace gemm_i8_detail
}  // namespace segq
