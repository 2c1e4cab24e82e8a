#include <cmath>

#include "kernels/layernorm.h"
#include "kernels/vec_math_avx2.h"

namespace segq {

namespace {
static void layernorm_row_avx2(int64_t c, const float* x, const float* gamma, const float* beta,
                               float eps, float* y) {
  const int64_t c8 = c & ~int64_t{7};
  const int tail = static_cast<int>(c - c8);
  const __m256i mask = tail_mask_avx2(tail);
  __m256 s = _mm256_setzero_ps();
  for (int64_t i = 0; i < c8; i += 8) s = _mm256_add_ps(s, _mm256_loadu_ps(x + i));
  if (tail) s = _mm256_add_ps(s, _mm256_maskload_ps(x + c8, mask));
  const float mean = hsum_ps_avx2(s) / static_cast<float>(c);
  const __m256 vmean = _mm256_set1_ps(mean);
  __m256 q = _mm256_setzero_ps();
  for (int64_t i = 0; i < c8; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vmean);
    q = _mm256_fmadd_ps(d, d, q);
  }
  if (tail) {
    // Masked-off lanes load 0, so d = -mean there: mask them out of the sum.
    const __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + c8, mask), vmean),
                                   _mm256_castsi256_ps(mask));
    q = _mm256_fmadd_ps(d, d, q);
  }
  const float rstd = 1.0f / std::sqrt(hsum_ps_avx2(q) / static_cast<float>(c) + eps);
  const __m256 vrstd = _mm256_set1_ps(rstd);
  for (int64_t i = 0; i < c8; i += 8) {
    const __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmean), vrstd);
    _mm256_storeu_ps(y + i,
                     _mm256_fmadd_ps(n, _mm256_loadu_ps(gamma + i), _mm256_loadu_ps(beta + i)));
  }
  if (tail) {
    const __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x + c8, mask), vmean), vrstd);
    _mm256_maskstore_ps(y + c8, mask,
                        _mm256_fmadd_ps(n, _mm256_maskload_ps(gamma + c8, mask),
                                        _mm256_maskload_ps(beta + c8, mask)));
  }
}
}  // namespace

void layernorm_rows_avx2(int64_t r0, int64_t r1, int64_t c, const float* x, int64_t ldx,
                         const float* gamma, const float* beta, float eps, float* y, int64_t ldy) {
  for (int64_t r = r0; r < r1; ++r) {
    layernorm_row_avx2(c, x + r * ldx, gamma, beta, eps, y + r * ldy);
  }
}

}  // namespace segq
