#include "kernels/layernorm.h"

#include <cmath>

#include "core/thread_pool.h"
#include "kernels/isa.h"

namespace segq {

void layernorm(int64_t rows, int64_t c, const float* x, int64_t ldx, const float* gamma,
               const float* beta, float eps, float* y, int64_t ldy) {
  if (kernel_isa() == KernelIsa::kAvx2) {
    layernorm_avx2(rows, c, x, ldx, gamma, beta, eps, y, ldy);
  } else {
    layernorm_ref(rows, c, x, ldx, gamma, beta, eps, y, ldy);
  }
}

void layernorm_ref(int64_t rows, int64_t c, const float* x, int64_t ldx, const float* gamma,
                   const float* beta, float eps, float* y, int64_t ldy) {
  global_pool().parallel_for(rows, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * ldx;
      float* yr = y + r * ldy;
      float sum = 0.0f;
      for (int64_t i = 0; i < c; ++i) sum += xr[i];
      const float mean = sum / static_cast<float>(c);
      float sq = 0.0f;
      for (int64_t i = 0; i < c; ++i) {
        const float d = xr[i] - mean;
        sq += d * d;
      }
      const float rstd = 1.0f / std::sqrt(sq / static_cast<float>(c) + eps);
      for (int64_t i = 0; i < c; ++i) yr[i] = (xr[i] - mean) * rstd * gamma[i] + beta[i];
    }
  });
}

void layernorm_avx2(int64_t rows, int64_t c, const float* x, int64_t ldx, const float* gamma,
                    const float* beta, float eps, float* y, int64_t ldy) {
  global_pool().parallel_for(rows, 64, [&](int64_t r0, int64_t r1) {
    layernorm_rows_avx2(r0, r1, c, x, ldx, gamma, beta, eps, y, ldy);
  });
}

}  // namespace segq
