#include "kernels/im2col.h"

#include "core/thread_pool.h"

namespace segq {

void im2col(const ConvGeometry& g, const float* in, int64_t cs, int64_t ys, int64_t xs, int64_t oy0,
            int64_t oy1, float* out, int64_t ldo) {
  const int64_t ow = g.out_w();
  const int64_t taps = static_cast<int64_t>(g.kh) * g.kw;
  // Loop order by memory layout: channel-planar inputs (NCHW, xs < cs) copy runs along kx;
  // token-major inputs (xs >= cs) read the channels of one pixel contiguously.
  const bool planar = xs < cs;
  global_pool().parallel_for(oy1 - oy0, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t oy = oy0 + r0; oy < oy0 + r1; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        float* row = out + ((oy - oy0) * ow + ox) * ldo;
        const int64_t x0 = ox * g.sw - g.pw;
        for (int ky = 0; ky < g.kh; ++ky) {
          const int64_t y = oy * g.sh - g.ph + ky;
          const bool y_in = y >= 0 && y < g.h;
          if (planar) {
            for (int64_t ci = 0; ci < g.cin; ++ci) {
              float* dst = row + ci * taps + ky * g.kw;
              const float* src = in + ci * cs + y * ys;
              for (int kx = 0; kx < g.kw; ++kx) {
                const int64_t x = x0 + kx;
                dst[kx] = (y_in && x >= 0 && x < g.w) ? src[x * xs] : 0.0f;
              }
            }
          } else {
            for (int kx = 0; kx < g.kw; ++kx) {
              const int64_t x = x0 + kx;
              float* dst = row + ky * g.kw + kx;
              if (!y_in || x < 0 || x >= g.w) {
                for (int64_t ci = 0; ci < g.cin; ++ci) dst[ci * taps] = 0.0f;
              } else {
                const float* src = in + y * ys + x * xs;
                for (int64_t ci = 0; ci < g.cin; ++ci) dst[ci * taps] = src[ci * cs];
              }
            }
          }
        }
      }
    }
  });
}

}  // namespace segq
