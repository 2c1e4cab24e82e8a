#include "kernels/activation.h"
#include "kernels/vec_math_avx2.h"

namespace segq {

void gelu_avx2(const float* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, gelu_ps_avx2(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i mask = tail_mask_avx2(static_cast<int>(n - i));
    _mm256_maskstore_ps(y + i, mask, gelu_ps_avx2(_mm256_maskload_ps(x + i, mask)));
  }
}

}  // namespace segq
