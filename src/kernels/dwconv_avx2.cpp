#include "kernels/dwconv.h"
#include "kernels/vec_math_avx2.h"

namespace segq {

namespace {

static inline __m256 finish(__m256 v, Activation act) {
  if (act == Activation::kGelu) return gelu_ps_avx2(v);
  if (act == Activation::kRelu) return _mm256_max_ps(v, _mm256_setzero_ps());
  return v;
}

// One output row, channels [c0, c0 + 8) (lanes = 8, or a masked tail): the 9 taps and the bias
// stay in registers while the window slides along the row; 3 input rows (up/dn null outside the
// image: those taps are skipped, as are the columns outside it), taps in (ky, kx) order as in the
// reference. Writes the pre-activation sums.
template <bool kUp, bool kDn, bool kFull>
static inline void row_block(int64_t w, int64_t c, const float* up, const float* mid,
                             const float* dn, const float* w_taps, const float* bias, int64_t c0,
                             __m256i mask, float* out) {
  auto ld = [&](const float* p) {
    return kFull ? _mm256_loadu_ps(p + c0) : _mm256_maskload_ps(p + c0, mask);
  };
  __m256 t[9];
  for (int k = 0; k < 9; ++k) t[k] = ld(w_taps + k * c);
  const __m256 b = ld(bias);
  const float* rows[3] = {up, mid, dn};
  for (int64_t x = 0; x < w; ++x) {
    __m256 acc = b;
    const int64_t xl = x - 1, xr = x + 1;
#pragma GCC unroll 3
    for (int ky = 0; ky < 3; ++ky) {
      if ((ky == 0 && !kUp) || (ky == 2 && !kDn)) continue;
      const float* r = rows[ky];
      if (xl >= 0) acc = _mm256_fmadd_ps(t[ky * 3 + 0], ld(r + xl * c), acc);
      acc = _mm256_fmadd_ps(t[ky * 3 + 1], ld(r + x * c), acc);
      if (xr < w) acc = _mm256_fmadd_ps(t[ky * 3 + 2], ld(r + xr * c), acc);
    }
    if (kFull) {
      _mm256_storeu_ps(out + x * c + c0, acc);
    } else {
      _mm256_maskstore_ps(out + x * c + c0, mask, acc);
    }
  }
}

template <bool kUp, bool kDn>
static void conv_row(int64_t w, int64_t c, const float* up, const float* mid, const float* dn,
                     const float* w_taps, const float* bias, float* out) {
  int64_t c0 = 0;
  const __m256i all = _mm256_set1_epi32(-1);
  for (; c0 + 8 <= c; c0 += 8) {
    row_block<kUp, kDn, true>(w, c, up, mid, dn, w_taps, bias, c0, all, out);
  }
  if (c0 < c) {
    const __m256i mask = tail_mask_avx2(static_cast<int>(c - c0));
    row_block<kUp, kDn, false>(w, c, up, mid, dn, w_taps, bias, c0, mask, out);
  }
}

// In place over n floats.
static void activate(float* y, int64_t n, Activation act) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, finish(_mm256_loadu_ps(y + i), act));
  if (i < n) {
    const __m256i mask = tail_mask_avx2(static_cast<int>(n - i));
    _mm256_maskstore_ps(y + i, mask, finish(_mm256_maskload_ps(y + i, mask), act));
  }
}

}  // namespace

void dwconv3x3_rows_avx2(int64_t row0, int64_t row1, int64_t h, int64_t w, int64_t c,
                         const float* x, const float* w_taps, const float* bias, Activation act,
                         float* y) {
  for (int64_t row = row0; row < row1; ++row) {
    const int64_t b = row / h;
    const int64_t r = row % h;
    const float* mid = x + (b * h + r) * w * c;
    const float* up = r > 0 ? mid - w * c : nullptr;
    const float* dn = r + 1 < h ? mid + w * c : nullptr;
    float* out = y + row * w * c;
    if (up && dn) {
      conv_row<true, true>(w, c, up, mid, dn, w_taps, bias, out);
    } else if (up) {
      conv_row<true, false>(w, c, up, mid, dn, w_taps, bias, out);
    } else if (dn) {
      conv_row<false, true>(w, c, up, mid, dn, w_taps, bias, out);
    } else {
      conv_row<false, false>(w, c, up, mid, dn, w_taps, bias, out);
    }
    // The activation on the row just written (still in L1/L2).
    if (act != Activation::kNone) activate(out, w * c, act);
  }
}

}  // namespace segq
