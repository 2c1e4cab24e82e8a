// LayerNorm over the last dimension (torch.nn.LayerNorm, biased variance):
//   y[r, :] = (x[r, :] - mean_r) / sqrt(var_r + eps) * gamma + beta,  r < rows, C channels.
// x and y have row strides ldx, ldy (elements) and may be the same buffer (in place).
#pragma once

#include <cstdint>

namespace segq {

void layernorm(int64_t rows, int64_t c, const float* x, int64_t ldx, const float* gamma,
               const float* beta, float eps, float* y, int64_t ldy);
// Reference: mean and variance by sequential float sums (two passes).
void layernorm_ref(int64_t rows, int64_t c, const float* x, int64_t ldx, const float* gamma,
                   const float* beta, float eps, float* y, int64_t ldy);
void layernorm_avx2(int64_t rows, int64_t c, const float* x, int64_t ldx, const float* gamma,
                    const float* beta, float eps, float* y, int64_t ldy);

// Serial row range [r0, r1) of layernorm_avx2 (threads are split in layernorm.cpp).
void layernorm_rows_avx2(int64_t r0, int64_t r1, int64_t c, const float* x, int64_t ldx,
                         const float* gamma, const float* beta, float eps, float* y, int64_t ldy);

}  // namespace segq
