// Fused bilinear upsampling + argmax of segmentation logits: the logits grid [h, w, L] (NHWC, one
// image) goes through one or more bilinear resizes (align_corners=False) and is argmaxed over L at
// the last size, without ever materializing a resized [H, W, L] tensor. Only two resized rows per
// resize step are alive at a time.
//
// Arithmetic: exactly PyTorch 2.7's CPU upsample_bilinear2d for float32 NCHW logits as transformers
// resizes them (F.interpolate(mode="bilinear", align_corners=False), then torch.argmax), in the
// generic kernel (upsample_generic_Nd_kernel_impl, chosen when out_h + out_w > 128) of the AVX2
// build that x86-64 machines dispatch to, where the compiler contracted a*b + c into FMAs:
//   scale = float(in) / float(out); src = max(fma(scale, dst + 0.5f, -0.5f), 0)     (float32)
//   i0 = min(floor(src), in - 1); i1 = i0 + (i0 < in - 1); l1 = clamp(src - i0, 0, 1); l0 = 1 - l1
//   equal sizes: i0 = i1 = dst, l0 = 1, l1 = 0 (identity)
//   t_r = fma(x[r][j0], lw0, x[r][j1] * lw1) for r = i0, i1      (width first)
//   value = fma(t_i0, lh0, t_i1 * lh1)
// (checked bit for bit against torch 2.7.1 by tests/fixtures/metrics/upsample_argmax.json). A term
// whose weight is exactly 0 is dropped, which differs only for non-finite logits. Argmax: first
// maximum wins; a NaN counts as the maximum (the first NaN wins), as in torch.argmax.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace segq {

// Source indices and weights of one resized axis (the formula above).
struct BilinearAxis {
  std::vector<int32_t> index0, index1;  // [out_size], in [0, in_size)
  std::vector<float> weight0, weight1;  // [out_size], weight0 + weight1 == 1
};
BilinearAxis bilinear_axis(int in_size, int out_size);

// The three row primitives of the fused kernel; one table per ISA, bit-identical results.
struct UpsampleArgmaxRowKernels {
  // out[x][c] = fma(in_row[x0[x]][c], w0[x], in_row[x1[x]][c] * w1[x])
  // in_row: [w_in, L]; out: [out_w, L]
  void (*interp_row)(const float* in_row, const int32_t* x0, const int32_t* x1, const float* w0,
                     const float* w1, int out_w, int num_labels, float* out);
  // out[i] = fma(a[i], w0, b[i] * w1), i in [0, n); b may be null when w1 == 0 (out = a * w0).
  void (*blend_rows)(const float* a, const float* b, float w0, float w1, int64_t n, float* out);
  // labels[x] = argmax_c fma(a[x][c], w0, b[x][c] * w1); a, b: [out_w, L]; b null when w1 == 0.
  void (*blend_argmax_row)(const float* a, const float* b, float w0, float w1, int out_w,
                           int num_labels, uint8_t* labels);
};
const UpsampleArgmaxRowKernels& upsample_argmax_kernels_ref();
const UpsampleArgmaxRowKernels& upsample_argmax_kernels_avx2();  // only when use_avx2()
const UpsampleArgmaxRowKernels& upsample_argmax_kernels();       // chosen at run time

// A plan for one logits grid size and one chain of output sizes. Holds the axis tables; the
// caller provides scratch, so several threads can run disjoint row ranges of one plan at once.
class UpsampleArgmaxPlan {
 public:
  // logits grid in_h x in_w with num_labels (<= 256) channels; sizes: the resize chain, in order,
  // each (height, width) >= 1; the argmax happens at sizes.back(). An empty chain argmaxes the
  // logits grid itself.
  UpsampleArgmaxPlan(int in_h, int in_w, int num_labels, std::vector<std::pair<int, int>> sizes);

  int out_h() const { return heights_.back(); }
  int out_w() const { return widths_.back(); }
  // Floats of scratch one run() call needs.
  size_t scratch_floats() const { return scratch_floats_; }

  // Writes rows [row_begin, row_end) of the final label map: labels[(y - row_begin) * out_w + x]
  // for y in the range. logits: [in_h, in_w, L]. scratch: scratch_floats() floats.
  void run(const float* logits, int row_begin, int row_end, uint8_t* labels, float* scratch,
           const UpsampleArgmaxRowKernels& kernels = upsample_argmax_kernels()) const;

 private:
  struct Level;  // per resize step: axis tables and the scratch offsets of its two cached rows
  struct RowCache;
  const float* level_row(int level, int row, const float* logits, float* scratch, RowCache* cache,
                         const UpsampleArgmaxRowKernels& k) const;
  const float* interp_row(int level, int src_row, const float* logits, float* scratch,
                          RowCache* cache, const UpsampleArgmaxRowKernels& k) const;

  int num_labels_;
  std::vector<int> heights_, widths_;          // [levels + 1]: level 0 = logits grid
  std::vector<BilinearAxis> y_axes_, x_axes_;  // [levels]: axis k maps level k to level k + 1
  std::vector<size_t> slot_offset_;            // [levels][2]: cached interp rows of level k + 1
  std::vector<size_t> blend_offset_;           // [levels]: a blended row of level k (k >= 1)
  size_t scratch_floats_ = 0;
};

// Convenience: the whole final map [out_h, out_w] on the calling thread, allocating its scratch.
std::vector<uint8_t> upsample_argmax(const float* logits, int in_h, int in_w, int num_labels,
                                     const std::vector<std::pair<int, int>>& sizes);

}  // namespace segq
