#include "kernels/resize.h"
#include "kernels/vec_math_avx2.h"

namespace segq {

namespace {
// bilinear_tap, repeated here so the AVX2 unit calls no function of the baseline build in its loop
// (the arithmetic is the same float sequence; tests compare both).
static inline void tap(int64_t dst, int64_t in_size, int64_t out_size, int64_t* i0, int64_t* i1,
                       float* l0, float* l1) {
  if (in_size == out_size) {
    *i0 = *i1 = dst;
    *l0 = 1.0f;
    *l1 = 0.0f;
    return;
  }
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  float src = scale * (static_cast<float>(dst) + 0.5f) - 0.5f;
  if (src < 0.0f) src = 0.0f;
  int64_t f = static_cast<int64_t>(src);  // src >= 0: truncation is floor
  if (f > in_size - 1) f = in_size - 1;
  *i0 = f;
  *i1 = f + (f < in_size - 1 ? 1 : 0);
  float l = src - static_cast<float>(f);
  l = l < 0.0f ? 0.0f : (l > 1.0f ? 1.0f : l);
  *l1 = l;
  *l0 = 1.0f - l;
}
}  // namespace

void resize_bilinear_rows_avx2(const ResizeShape& s, const float* in, int64_t ldi, int64_t y0,
                               int64_t ya, int64_t yb, float* out, int64_t ldo, bool accumulate) {
  const int64_t c8 = s.c & ~int64_t{7};
  const int tail = static_cast<int>(s.c - c8);
  const __m256i mask = tail_mask_avx2(tail);
  for (int64_t y = ya; y < yb; ++y) {
    int64_t iy0, iy1;
    float ly0, ly1;
    tap(y, s.h_in, s.h_out, &iy0, &iy1, &ly0, &ly1);
    const __m256 vly0 = _mm256_set1_ps(ly0), vly1 = _mm256_set1_ps(ly1);
    for (int64_t x = 0; x < s.w_out; ++x) {
      int64_t ix0, ix1;
      float lx0, lx1;
      tap(x, s.w_in, s.w_out, &ix0, &ix1, &lx0, &lx1);
      const __m256 vlx0 = _mm256_set1_ps(lx0), vlx1 = _mm256_set1_ps(lx1);
      const float* a00 = in + (iy0 * s.w_in + ix0) * ldi;
      const float* a01 = in + (iy0 * s.w_in + ix1) * ldi;
      const float* a10 = in + (iy1 * s.w_in + ix0) * ldi;
      const float* a11 = in + (iy1 * s.w_in + ix1) * ldi;
      float* o = out + ((y - y0) * s.w_out + x) * ldo;
      for (int64_t ch = 0; ch < c8; ch += 8) {
        const __m256 top = _mm256_fmadd_ps(vlx1, _mm256_loadu_ps(a01 + ch),
                                           _mm256_mul_ps(vlx0, _mm256_loadu_ps(a00 + ch)));
        const __m256 bottom = _mm256_fmadd_ps(vlx1, _mm256_loadu_ps(a11 + ch),
                                              _mm256_mul_ps(vlx0, _mm256_loadu_ps(a10 + ch)));
        __m256 v = _mm256_fmadd_ps(vly1, bottom, _mm256_mul_ps(vly0, top));
        if (accumulate) v = _mm256_add_ps(_mm256_loadu_ps(o + ch), v);
        _mm256_storeu_ps(o + ch, v);
      }
      if (tail) {
        const __m256 top = _mm256_fmadd_ps(vlx1, _mm256_maskload_ps(a01 + c8, mask),
                                           _mm256_mul_ps(vlx0, _mm256_maskload_ps(a00 + c8, mask)));
        const __m256 bottom =
            _mm256_fmadd_ps(vlx1, _mm256_maskload_ps(a11 + c8, mask),
                            _mm256_mul_ps(vlx0, _mm256_maskload_ps(a10 + c8, mask)));
        __m256 v = _mm256_fmadd_ps(vly1, bottom, _mm256_mul_ps(vly0, top));
        if (accumulate) v = _mm256_add_ps(_mm256_maskload_ps(o + c8, mask), v);
        _mm256_maskstore_ps(o + c8, mask, v);
      }
    }
  }
}

}  // namespace segq
