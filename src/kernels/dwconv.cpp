#include "kernels/dwconv.h"

#include "core/thread_pool.h"
#include "kernels/isa.h"

namespace segq {

void dwconv3x3_taps_from_oihw(int64_t c, const float* w_oihw, float* taps) {
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int t = 0; t < 9; ++t) taps[t * c + ch] = w_oihw[ch * 9 + t];
  }
}

void dwconv3x3(int64_t batch, int64_t h, int64_t w, int64_t c, const float* x, const float* w_taps,
               const float* bias, Activation act, float* y) {
  if (kernel_isa() == KernelIsa::kAvx2) {
    dwconv3x3_avx2(batch, h, w, c, x, w_taps, bias, act, y);
  } else {
    dwconv3x3_ref(batch, h, w, c, x, w_taps, bias, act, y);
  }
}

void dwconv3x3_ref(int64_t batch, int64_t h, int64_t w, int64_t c, const float* x,
                   const float* w_taps, const float* bias, Activation act, float* y) {
  // Per output: bias, then + w*x for each in-image tap in (ky, kx) order; channels innermost so
  // the compiler can vectorize across them.
  global_pool().parallel_for(batch * h, 1, [&](int64_t row0, int64_t row1) {
    for (int64_t row = row0; row < row1; ++row) {
      const int64_t b = row / h;
      const int64_t r = row % h;
      const float* img = x + b * h * w * c;
      for (int64_t col = 0; col < w; ++col) {
        float* out = y + ((b * h + r) * w + col) * c;
        for (int64_t ch = 0; ch < c; ++ch) out[ch] = bias[ch];
        for (int ky = 0; ky < 3; ++ky) {
          const int64_t yy = r + ky - 1;
          if (yy < 0 || yy >= h) continue;
          for (int kx = 0; kx < 3; ++kx) {
            const int64_t xx = col + kx - 1;
            if (xx < 0 || xx >= w) continue;
            const float* wt = w_taps + (ky * 3 + kx) * c;
            const float* in = img + (yy * w + xx) * c;
            for (int64_t ch = 0; ch < c; ++ch) out[ch] += wt[ch] * in[ch];
          }
        }
        if (act != Activation::kNone) {
          for (int64_t ch = 0; ch < c; ++ch) out[ch] = activation_ref(act, out[ch]);
        }
      }
    }
  });
}

void dwconv3x3_avx2(int64_t batch, int64_t h, int64_t w, int64_t c, const float* x,
                    const float* w_taps, const float* bias, Activation act, float* y) {
  global_pool().parallel_for(batch * h, 1, [&](int64_t row0, int64_t row1) {
    dwconv3x3_rows_avx2(row0, row1, h, w, c, x, w_taps, bias, act, y);
  });
}

}  // namespace segq
