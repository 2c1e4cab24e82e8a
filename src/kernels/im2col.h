// im2col for the convolutions that SegFormer runs as GEMMs (overlapping patch embeddings
// k=7 s=4 p=3 and k=3 s=2 p=1; sequence-reduction convs k=s=r, p=0).
// Input: one image with element (ci, y, x) at in[ci * cs + y * ys + x * xs] — NCHW pixels
// (cs = H*W, ys = W, xs = 1) and token-major maps (cs = 1, ys = W*C, xs = C) alike.
// Output rows are output pixels oy in [oy0, oy1), ox in [0, ow) (PyTorch's exact conv arithmetic:
// oh = (h + 2 ph - kh) / sh + 1); columns in PyTorch's weight flattening order (ci, ky, kx), so
// a row times a Conv2d weight [O, I, kh, kw] viewed as [O, I*kh*kw] is the conv output:
//   out[((oy - oy0) * ow + ox) * ldo + (ci * kh + ky) * kw + kx]
//     = in(ci, oy*sh - ph + ky, ox*sw - pw + kx), 0 outside the image.
// Pure data movement (no arithmetic), so there is one implementation; threaded over output rows.
#pragma once

#include <cstdint>

namespace segq {

struct ConvGeometry {
  int64_t cin = 0, h = 0, w = 0;  // input
  int kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  int64_t out_h() const { return (h + 2 * ph - kh) / sh + 1; }
  int64_t out_w() const { return (w + 2 * pw - kw) / sw + 1; }
  int64_t patch_size() const { return cin * kh * kw; }  // K of the GEMM
};

void im2col(const ConvGeometry& g, const float* in, int64_t cs, int64_t ys, int64_t xs, int64_t oy0,
            int64_t oy1, float* out, int64_t ldo);

}  // namespace segq
