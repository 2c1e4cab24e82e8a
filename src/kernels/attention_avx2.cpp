#include <cmath>

#include "kernels/attention.h"
#include "kernels/vec_math_avx2.h"

namespace segq {

void softmax_rows_avx2(int64_t rows, int64_t n, float* x, int64_t ld, float scale) {
  const int64_t n8 = n & ~int64_t{7};
  const int tail = static_cast<int>(n - n8);
  const __m256i mask = tail_mask_avx2(tail);
  const __m256 vscale = _mm256_set1_ps(scale);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * ld;
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    for (int64_t j = 0; j < n8; j += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(row + j));
    float m = hmax_ps_avx2(vmax);
    for (int64_t j = n8; j < n; ++j) m = row[j] > m ? row[j] : m;
    // exp(scale * x - scale * max); scale > 0, so scale * max is the max of the scaled row.
    const __m256 vneg = _mm256_set1_ps(-scale * m);
    __m256 vsum = _mm256_setzero_ps();
    for (int64_t j = 0; j < n8; j += 8) {
      const __m256 e = exp_ps_avx2(_mm256_fmadd_ps(_mm256_loadu_ps(row + j), vscale, vneg));
      _mm256_storeu_ps(row + j, e);
      vsum = _mm256_add_ps(vsum, e);
    }
    if (tail) {
      const __m256 e = _mm256_and_ps(
          exp_ps_avx2(_mm256_fmadd_ps(_mm256_maskload_ps(row + n8, mask), vscale, vneg)),
          _mm256_castsi256_ps(mask));
      _mm256_maskstore_ps(row + n8, mask, e);
      vsum = _mm256_add_ps(vsum, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / hsum_ps_avx2(vsum));
    for (int64_t j = 0; j < n8; j += 8) {
      _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), inv));
    }
    if (tail) {
      _mm256_maskstore_ps(row + n8, mask, _mm256_mul_ps(_mm256_maskload_ps(row + n8, mask), inv));
    }
  }
}

void exp_avx2(const float* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp_ps_avx2(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i mask = tail_mask_avx2(static_cast<int>(n - i));
    _mm256_maskstore_ps(y + i, mask, exp_ps_avx2(_mm256_maskload_ps(x + i, mask)));
  }
}

}  // namespace segq
