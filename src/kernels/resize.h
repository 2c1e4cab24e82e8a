// Bilinear resize with align_corners=False (torch.nn.functional.interpolate, mode="bilinear"), on
// token-major maps, with PyTorch's index arithmetic in float:
//   scale = in / out;  src = max(scale * (dst + 0.5) - 0.5, 0);  i0 = min(floor(src), in - 1);
//   i1 = i0 + (i0 < in - 1);  l1 = src - i0;  l0 = 1 - l1;  equal sizes copy exactly.
//   out = l0y (l0x a00 + l1x a01) + l1y (l0x a10 + l1x a11)
// in: [h_in, w_in, C] with pixel stride ldi (>= C). Writes output rows [y0, y1) of the
// [h_out, w_out, C] result: out[((y - y0) * w_out + x) * ldo + ch] (ldo >= C, e.g. a slice of a
// concatenation buffer); with `accumulate`, adds the result to what out holds (out += resize).
#pragma once

#include <cstdint>

namespace segq {

struct ResizeShape {
  int64_t h_in = 0, w_in = 0, c = 0, h_out = 0, w_out = 0;
};

// Source index and weights along one axis (exposed for the tests and other resize users).
struct LinearTap {
  int64_t i0 = 0, i1 = 0;
  float l0 = 1.0f, l1 = 0.0f;
};
LinearTap bilinear_tap(int64_t dst, int64_t in_size, int64_t out_size);

void resize_bilinear(const ResizeShape& s, const float* in, int64_t ldi, int64_t y0, int64_t y1,
                     float* out, int64_t ldo, bool accumulate = false);
void resize_bilinear_ref(const ResizeShape& s, const float* in, int64_t ldi, int64_t y0, int64_t y1,
                         float* out, int64_t ldo, bool accumulate = false);
void resize_bilinear_avx2(const ResizeShape& s, const float* in, int64_t ldi, int64_t y0,
                          int64_t y1, float* out, int64_t ldo, bool accumulate = false);
// Serial output rows [ya, yb) (absolute) of resize_bilinear_avx2, written relative to y0.
void resize_bilinear_rows_avx2(const ResizeShape& s, const float* in, int64_t ldi, int64_t y0,
                               int64_t ya, int64_t yb, float* out, int64_t ldo, bool accumulate);

}  // namespace segq
