#include "kernels/dwconv.h"
#include "kernels/vec_math_avx2.h"

namespace segq {

namespace {

static inline __m256 finish(__m256 v, Activation act) {
  if (act == Activation::kGelu) return gelu_ps_avx2(v);
  if (act == Activation::kRelu) return _mm256_max_ps(v, _mm256_setzero_ps());
  return v;
}

static inline __m256 load8(const float* p, bool full, __m256i mask) {
  return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
}

// One output row, 8 channels [c0, c0 + lanes). The 9 tap weights stay in registers while the row
// is swept; a row outside the image gets zero weights and a valid (ignored) row pointer, so the
// interior columns run without branches. Accumulation order: bias, then taps (ky, kx) — the
// zero-weighted taps add exact zeros, so the result equals skipping them.
static void row_block(const float* img, int64_t h, int64_t w, int64_t c, int64_t r, int64_t c0,
                      int lanes, const float* w_taps, const float* bias, Activation act,
                      float* out_row) {
  const __m256i mask = tail_mask_avx2(lanes);
  const bool full = lanes == 8;
  const float* rows[3];
  __m256 wt[9];
  for (int ky = 0; ky < 3; ++ky) {
    const int64_t yy = r + ky - 1;
    const bool inside = yy >= 0 && yy < h;
    rows[ky] = img + (inside ? yy : r) * w * c + c0;
    for (int kx = 0; kx < 3; ++kx) {
      const int t = ky * 3 + kx;
      wt[t] = inside ? load8(w_taps + t * c + c0, full, mask) : _mm256_setzero_ps();
    }
  }
  const __m256 vb = load8(bias + c0, full, mask);
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t col = 0; col < w; ++col) {
    __m256 acc = vb;
    if (col > 0 && col + 1 < w) {
      const int64_t o = (col - 1) * c;
      for (int ky = 0; ky < 3; ++ky) {
        const float* p = rows[ky] + o;
        acc = _mm256_fmadd_ps(wt[ky * 3 + 0], load8(p, full, mask), acc);
        acc = _mm256_fmadd_ps(wt[ky * 3 + 1], load8(p + c, full, mask), acc);
        acc = _mm256_fmadd_ps(wt[ky * 3 + 2], load8(p + 2 * c, full, mask), acc);
      }
    } else {
      for (int ky = 0; ky < 3; ++ky) {
        for (int kx = 0; kx < 3; ++kx) {
          const int64_t xx = col + kx - 1;
          const __m256 v = (xx < 0 || xx >= w) ? zero : load8(rows[ky] + xx * c, full, mask);
          acc = _mm256_fmadd_ps(wt[ky * 3 + kx], v, acc);
        }
      }
    }
    acc = finish(acc, act);
    float* o = out_row + col * c + c0;
    if (full) {
      _mm256_storeu_ps(o, acc);
    } else {
      _mm256_maskstore_ps(o, mask, acc);
    }
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
    for (int64_t c0 = 0; c0 < c; c0 += 8) {
      const int lanes = static_cast<int>(c - c0 < 8 ? c - c0 : 8);
      row_block(img, h, w, c, r, c0, lanes, w_taps, bias, act, out_row);
    }
  }
}

}  // namespace segq
