// Depthwise 3x3 convolution, stride 1, zero padding 1, with bias and an optional fused activation,
// on token-major maps (SegFormer's Mix-FFN dwconv + GELU):
//   y[b, r, c, ch] = act(bias[ch] + Σ_{ky,kx in 0..2} w[(ky*3 + kx) * C + ch] · x[b, r+ky-1,
//   c+kx-1, ch])
// x, y: [batch, h, w, C] (must not overlap); w_taps: tap-major [9, C] (PyTorch's [C, 1, 3, 3]
// transposed, see dwconv3x3_taps_from_oihw); bias: [C].
#pragma once

#include <cstdint>

#include "kernels/activation.h"

namespace segq {

// w_oihw [C, 1, 3, 3] -> taps [9, C].
void dwconv3x3_taps_from_oihw(int64_t c, const float* w_oihw, float* taps);

void dwconv3x3(int64_t batch, int64_t h, int64_t w, int64_t c, const float* x, const float* w_taps,
               const float* bias, Activation act, float* y);
// Reference: bias first, then the 9 taps in (ky, kx) order, float multiply-add, activation_ref.
void dwconv3x3_ref(int64_t batch, int64_t h, int64_t w, int64_t c, const float* x,
                   const float* w_taps, const float* bias, Activation act, float* y);
void dwconv3x3_avx2(int64_t batch, int64_t h, int64_t w, int64_t c, const float* x,
                    const float* w_taps, const float* bias, Activation act, float* y);
// Serial output rows [row0, row1) of image-major rows (row = b * h + r) for the AVX2 path.
void dwconv3x3_rows_avx2(int64_t row0, int64_t row1, int64_t h, int64_t w, int64_t c,
                         const float* x, const float* w_taps, const float* bias, Activation act,
                         float* y);

}  // namespace segq
