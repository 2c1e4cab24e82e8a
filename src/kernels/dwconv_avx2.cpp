#include "kernels/dwconv.h"
#include "kernels/vec_math_avx2.h"

namespace segq {

namespace {

static inline __m256 finish(__m256 v, Activation act) {
  if (act == Activation::kGelu) return gelu_ps_avx2(v);
  if (act == Activation::kRelu) return _mm256_max_ps(v, _mm256_setzero_ps());
  return v;
}

// One output pixel, all channels. Channels are innermost so input, weights and output are read
// and written contiguously (weights [9, C] stay in L1); the channel blocks are independent, so the
// out-of-order core overlaps their 9-FMA chains. Taps outside the image are skipped (the order of
// the remaining taps is (ky, kx), as in the reference).
static void pixel(int64_t c, int ntaps, const float* const* src, const float* const* wts,
                  const float* bias, Activation act, float* out) {
  int64_t c0 = 0;
  for (; c0 + 8 <= c; c0 += 8) {
    __m256 acc = _mm256_loadu_ps(bias + c0);
    for (int t = 0; t < ntaps; ++t) {
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(wts[t] + c0), _mm256_loadu_ps(src[t] + c0), acc);
    }
    _mm256_storeu_ps(out + c0, finish(acc, act));
  }
  if (c0 < c) {
    const __m256i mask = tail_mask_avx2(static_cast<int>(c - c0));
    __m256 acc = _mm256_maskload_ps(bias + c0, mask);
    for (int t = 0; t < ntaps; ++t) {
      acc = _mm256_fmadd_ps(_mm256_maskload_ps(wts[t] + c0, mask),
                            _mm256_maskload_ps(src[t] + c0, mask), acc);
    }
    _mm256_maskstore_ps(out + c0, mask, finish(acc, act));
  }
}

}  // namespace

void dwconv3x3_rows_avx2(int64_t row0, int64_t row1, int64_t h, int64_t w, int64_t c,
                         const float* x, const float* w_taps, const float* bias, Activation act,
                         float* y) {
  for (int64_t row = row0; row < row1; ++row) {
    const int64_t b = row / h;
    const int64_t r = row % h;
    const float* img = x + b * h * w * c;
    float* out_row = y + row * w * c;
    for (int64_t col = 0; col < w; ++col) {
      const float* src[9];
      const float* wts[9];
      int n = 0;
      for (int ky = 0; ky < 3; ++ky) {
        const int64_t yy = r + ky - 1;
        if (yy < 0 || yy >= h) continue;
        for (int kx = 0; kx < 3; ++kx) {
          const int64_t xx = col + kx - 1;
          if (xx < 0 || xx >= w) continue;
          src[n] = img + (yy * w + xx) * c;
          wts[n] = w_taps + (ky * 3 + kx) * c;
          ++n;
        }
      }
      pixel(c, n, src, wts, bias, act, out_row + col * c);
    }
  }
}

}  // namespace segq
