#include "kernels/resize.h"

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "kernels/isa.h"

namespace segq {

LinearTap bilinear_tap(int64_t dst, int64_t in_size, int64_t out_size) {
  LinearTap t;
  if (in_size == out_size) {
    t.i0 = t.i1 = dst;
    return t;
  }
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  float src = scale * (static_cast<float>(dst) + 0.5f) - 0.5f;
  if (src < 0.0f) src = 0.0f;
  t.i0 = std::min(static_cast<int64_t>(std::floor(src)), in_size - 1);
  t.i1 = t.i0 + (t.i0 < in_size - 1 ? 1 : 0);
  t.l1 = std::min(std::max(src - static_cast<float>(t.i0), 0.0f), 1.0f);
  t.l0 = 1.0f - t.l1;
  return t;
}

void resize_bilinear(const ResizeShape& s, const float* in, int64_t ldi, int64_t y0, int64_t y1,
                     float* out, int64_t ldo, bool accumulate) {
  if (kernel_isa() == KernelIsa::kAvx2) {
    resize_bilinear_avx2(s, in, ldi, y0, y1, out, ldo, accumulate);
  } else {
    resize_bilinear_ref(s, in, ldi, y0, y1, out, ldo, accumulate);
  }
}

void resize_bilinear_ref(const ResizeShape& s, const float* in, int64_t ldi, int64_t y0, int64_t y1,
                         float* out, int64_t ldo, bool accumulate) {
  global_pool().parallel_for(y1 - y0, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t y = y0 + r0; y < y0 + r1; ++y) {
      const LinearTap ty = bilinear_tap(y, s.h_in, s.h_out);
      for (int64_t x = 0; x < s.w_out; ++x) {
        const LinearTap tx = bilinear_tap(x, s.w_in, s.w_out);
        const float* a00 = in + (ty.i0 * s.w_in + tx.i0) * ldi;
        const float* a01 = in + (ty.i0 * s.w_in + tx.i1) * ldi;
        const float* a10 = in + (ty.i1 * s.w_in + tx.i0) * ldi;
        const float* a11 = in + (ty.i1 * s.w_in + tx.i1) * ldi;
        float* o = out + ((y - y0) * s.w_out + x) * ldo;
        for (int64_t ch = 0; ch < s.c; ++ch) {
          const float top = tx.l0 * a00[ch] + tx.l1 * a01[ch];
          const float bottom = tx.l0 * a10[ch] + tx.l1 * a11[ch];
          const float v = ty.l0 * top + ty.l1 * bottom;
          o[ch] = accumulate ? o[ch] + v : v;
        }
      }
    }
  });
}

void resize_bilinear_avx2(const ResizeShape& s, const float* in, int64_t ldi, int64_t y0,
                          int64_t y1, float* out, int64_t ldo, bool accumulate) {
  global_pool().parallel_for(y1 - y0, 1, [&](int64_t r0, int64_t r1) {
    resize_bilinear_rows_avx2(s, in, ldi, y0, y0 + r0, y0 + r1, out, ldo, accumulate);
  });
}

}  // namespace segq
