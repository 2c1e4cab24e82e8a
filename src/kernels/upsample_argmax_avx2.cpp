// AVX2 versions of the fused upsample + argmax row primitives; bit-identical to the scalar
// reference in upsample_argmax.cpp (fma(a, w0, b * w1) in the same places; the same argmax order).
#include <immintrin.h>

#include <cstdint>

#include "kernels/upsample_argmax.h"

namespace segq {

namespace {

// Lanes [0, n) active, n in [0, 8].
static inline __m256i tail_mask(int n) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
}

// out[i] = fma(a[i], wa, b[i] * wb) for i in [0, n); b null: out[i] = a[i] * wa.
static inline void blend_span(const float* a, const float* b, float wa, float wb, int64_t n,
                              float* out) {
  const __m256 va = _mm256_set1_ps(wa);
  const __m256 vb = _mm256_set1_ps(wb);
  int64_t i = 0;
  if (b == nullptr) {
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), va));
    if (i < n) {
      const __m256i m = tail_mask(static_cast<int>(n - i));
      _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(_mm256_maskload_ps(a + i, m), va));
    }
    return;
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 y = _mm256_mul_ps(_mm256_loadu_ps(b + i), vb);
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(_mm256_loadu_ps(a + i), va, y));
  }
  if (i < n) {
    const __m256i m = tail_mask(static_cast<int>(n - i));
    const __m256 y = _mm256_mul_ps(_mm256_maskload_ps(b + i, m), vb);
    _mm256_maskstore_ps(out + i, m, _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), va, y));
  }
}

static void interp_row_avx2(const float* in_row, const int32_t* x0, const int32_t* x1,
                            const float* w0, const float* w1, int out_w, int num_labels,
                            float* out) {
  for (int x = 0; x < out_w; ++x) {
    const float* a = in_row + static_cast<int64_t>(x0[x]) * num_labels;
    const float* b = in_row + static_cast<int64_t>(x1[x]) * num_labels;
    blend_span(a, w1[x] == 0.0f ? nullptr : b, w0[x], w1[x], num_labels,
               out + static_cast<int64_t>(x) * num_labels);
  }
}

static void blend_rows_avx2(const float* a, const float* b, float w0, float w1, int64_t n,
                            float* out) {
  blend_span(a, w1 == 0.0f ? nullptr : b, w0, w1, n, out);
}

// Per lane: replace (best, idx) by (v, c) where v beats best in torch.argmax order: greater, or
// NaN over a non-NaN. Each lane sees its channels in increasing order, so it keeps its first max.
static inline void lane_update(__m256 v, __m256i c, __m256* best, __m256i* idx) {
  const __m256 gt = _mm256_cmp_ps(v, *best, _CMP_GT_OQ);
  const __m256 v_nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
  const __m256 best_nan = _mm256_cmp_ps(*best, *best, _CMP_UNORD_Q);
  const __m256 take = _mm256_or_ps(gt, _mm256_andnot_ps(best_nan, v_nan));
  *best = _mm256_blendv_ps(*best, v, take);
  *idx = _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(*idx), _mm256_castsi256_ps(c), take));
}

static inline float lane0_fma(float a, float b, float c) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}

static inline bool scalar_better(float v, float best) {
  return v > best || (v != v && best == best);
}

static void blend_argmax_row_avx2(const float* a, const float* b, float w0, float w1, int out_w,
                                  int num_labels, uint8_t* labels) {
  const bool two = b != nullptr && w1 != 0.0f;
  const __m256 va = _mm256_set1_ps(w0);
  const __m256 vb = _mm256_set1_ps(w1);
  const __m256i eight = _mm256_set1_epi32(8);
  const int full = num_labels / 8 * 8;
  for (int x = 0; x < out_w; ++x) {
    const float* pa = a + static_cast<int64_t>(x) * num_labels;
    const float* pb = two ? b + static_cast<int64_t>(x) * num_labels : nullptr;
    float best;
    int best_c;
    int c = 0;
    if (full >= 8) {
      __m256i cidx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      __m256 vbest =
          two ? _mm256_fmadd_ps(_mm256_loadu_ps(pa), va, _mm256_mul_ps(_mm256_loadu_ps(pb), vb))
              : _mm256_mul_ps(_mm256_loadu_ps(pa), va);
      __m256i vidx = cidx;
      for (c = 8; c < full; c += 8) {
        cidx = _mm256_add_epi32(cidx, eight);
        const __m256 v = two ? _mm256_fmadd_ps(_mm256_loadu_ps(pa + c), va,
                                               _mm256_mul_ps(_mm256_loadu_ps(pb + c), vb))
                             : _mm256_mul_ps(_mm256_loadu_ps(pa + c), va);
        lane_update(v, cidx, &vbest, &vidx);
      }
      // Across lanes: the best value, ties (and NaN vs NaN) to the smallest channel.
      alignas(32) float lv[8];
      alignas(32) int32_t li[8];
      _mm256_store_ps(lv, vbest);
      _mm256_store_si256(reinterpret_cast<__m256i*>(li), vidx);
      best = lv[0];
      best_c = li[0];
      for (int l = 1; l < 8; ++l) {
        const bool better = scalar_better(lv[l], best);
        const bool same = (lv[l] == best) || (lv[l] != lv[l] && best != best);
        if (better || (same && li[l] < best_c)) {
          best = lv[l];
          best_c = li[l];
        }
      }
    } else {
      best = two ? lane0_fma(pa[0], w0, pb[0] * w1) : pa[0] * w0;
      best_c = 0;
      c = 1;
    }
    // The remaining channels all have larger indices: only a strictly better value replaces.
    if (c < num_labels) {
      const int rest = num_labels - c;
      const __m256i m = tail_mask(rest);
      const __m256 v = two ? _mm256_fmadd_ps(_mm256_maskload_ps(pa + c, m), va,
                                             _mm256_mul_ps(_mm256_maskload_ps(pb + c, m), vb))
                           : _mm256_mul_ps(_mm256_maskload_ps(pa + c, m), va);
      alignas(32) float lv[8];
      _mm256_store_ps(lv, v);
      for (int l = 0; l < rest; ++l) {
        if (scalar_better(lv[l], best)) {
          best = lv[l];
          best_c = c + l;
        }
      }
    }
    labels[x] = static_cast<uint8_t>(best_c);
  }
}

}  // namespace

const UpsampleArgmaxRowKernels& upsample_argmax_kernels_avx2() {
  static const UpsampleArgmaxRowKernels k{interp_row_avx2, blend_rows_avx2, blend_argmax_row_avx2};
  return k;
}

}  // namespace segq
