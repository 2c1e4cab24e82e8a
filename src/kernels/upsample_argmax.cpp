#include "kernels/upsample_argmax.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "core/cpu.h"
#include "core/error.h"

namespace segq {

namespace {

constexpr int kMaxResizeSteps = 4;

size_t align_floats(size_t n) { return (n + 15) / 16 * 16; }  // 64-byte steps

// The scalar reference of the three row primitives. std::fma is correctly rounded everywhere
// (hardware or glibc's exact emulation), so it matches the AVX2 _mm256_fmadd_ps bit for bit.
void interp_row_ref(const float* in_row, const int32_t* x0, const int32_t* x1, const float* w0,
                    const float* w1, int out_w, int num_labels, float* out) {
  for (int x = 0; x < out_w; ++x) {
    const float* a = in_row + static_cast<int64_t>(x0[x]) * num_labels;
    const float* b = in_row + static_cast<int64_t>(x1[x]) * num_labels;
    float* o = out + static_cast<int64_t>(x) * num_labels;
    const float wa = w0[x];
    const float wb = w1[x];
    if (wb == 0.0f) {
      for (int c = 0; c < num_labels; ++c) o[c] = a[c] * wa;
    } else {
      for (int c = 0; c < num_labels; ++c) o[c] = std::fma(a[c], wa, b[c] * wb);
    }
  }
}

void blend_rows_ref(const float* a, const float* b, float w0, float w1, int64_t n, float* out) {
  if (b == nullptr || w1 == 0.0f) {
    for (int64_t i = 0; i < n; ++i) out[i] = a[i] * w0;
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = std::fma(a[i], w0, b[i] * w1);
  }
}

// True when v should replace best under torch.argmax's order (NaN above everything, first wins).
inline bool argmax_better(float v, float best) {
  return v > best || (std::isnan(v) && !std::isnan(best));
}

void blend_argmax_row_ref(const float* a, const float* b, float w0, float w1, int out_w,
                          int num_labels, uint8_t* labels) {
  const bool two = b != nullptr && w1 != 0.0f;
  for (int x = 0; x < out_w; ++x) {
    const float* pa = a + static_cast<int64_t>(x) * num_labels;
    const float* pb = two ? b + static_cast<int64_t>(x) * num_labels : nullptr;
    float best = two ? std::fma(pa[0], w0, pb[0] * w1) : pa[0] * w0;
    int best_c = 0;
    for (int c = 1; c < num_labels; ++c) {
      const float v = two ? std::fma(pa[c], w0, pb[c] * w1) : pa[c] * w0;
      if (argmax_better(v, best)) {
        best = v;
        best_c = c;
      }
    }
    labels[x] = static_cast<uint8_t>(best_c);
  }
}

}  // namespace

BilinearAxis bilinear_axis(int in_size, int out_size) {
  SEGQ_CHECK(in_size >= 1 && out_size >= 1, "bilinear resize: sizes must be >= 1, got ", in_size,
             " -> ", out_size);
  BilinearAxis axis;
  axis.index0.resize(out_size);
  axis.index1.resize(out_size);
  axis.weight0.resize(out_size);
  axis.weight1.resize(out_size);
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  for (int dst = 0; dst < out_size; ++dst) {
    if (in_size == out_size) {
      axis.index0[dst] = axis.index1[dst] = dst;
      axis.weight0[dst] = 1.0f;
      axis.weight1[dst] = 0.0f;
      continue;
    }
    float src = std::fma(scale, static_cast<float>(dst) + 0.5f, -0.5f);
    if (src < 0.0f) src = 0.0f;
    const int i0 = std::min(static_cast<int>(std::floor(src)), in_size - 1);
    const float l1 = std::min(std::max(src - static_cast<float>(i0), 0.0f), 1.0f);
    axis.index0[dst] = i0;
    axis.index1[dst] = i0 + (i0 < in_size - 1 ? 1 : 0);
    axis.weight1[dst] = l1;
    axis.weight0[dst] = 1.0f - l1;
  }
  return axis;
}

const UpsampleArgmaxRowKernels& upsample_argmax_kernels_ref() {
  static const UpsampleArgmaxRowKernels k{interp_row_ref, blend_rows_ref, blend_argmax_row_ref};
  return k;
}

const UpsampleArgmaxRowKernels& upsample_argmax_kernels() {
  return use_avx2() ? upsample_argmax_kernels_avx2() : upsample_argmax_kernels_ref();
}

// Which source rows of level k+1 (interpolated to level k+1's width) each step holds.
struct UpsampleArgmaxPlan::RowCache {
  int tag[kMaxResizeSteps][2];
};

UpsampleArgmaxPlan::UpsampleArgmaxPlan(int in_h, int in_w, int num_labels,
                                       std::vector<std::pair<int, int>> sizes)
    : num_labels_(num_labels) {
  SEGQ_CHECK(num_labels >= 1 && num_labels <= 256, "upsample_argmax: num_labels ", num_labels,
             " outside [1, 256] (labels are stored as uint8)");
  SEGQ_CHECK(in_h >= 1 && in_w >= 1, "upsample_argmax: empty logits grid ", in_h, "x", in_w);
  SEGQ_CHECK(static_cast<int>(sizes.size()) <= kMaxResizeSteps, "upsample_argmax: at most ",
             kMaxResizeSteps, " resize steps, got ", sizes.size());
  heights_.push_back(in_h);
  widths_.push_back(in_w);
  for (const auto& [h, w] : sizes) {
    SEGQ_CHECK(h >= 1 && w >= 1, "upsample_argmax: bad target size ", h, "x", w);
    y_axes_.push_back(bilinear_axis(heights_.back(), h));
    x_axes_.push_back(bilinear_axis(widths_.back(), w));
    heights_.push_back(h);
    widths_.push_back(w);
  }
  const size_t steps = y_axes_.size();
  size_t offset = 0;
  slot_offset_.resize(2 * steps);
  blend_offset_.assign(steps, 0);
  for (size_t s = 0; s < steps; ++s) {
    const size_t row = align_floats(static_cast<size_t>(widths_[s + 1]) * num_labels);
    slot_offset_[2 * s] = offset;
    slot_offset_[2 * s + 1] = offset + row;
    offset += 2 * row;
    if (s >= 1) {  // a blended row of level s, the input of step s
      blend_offset_[s] = offset;
      offset += align_floats(static_cast<size_t>(widths_[s]) * num_labels);
    }
  }
  scratch_floats_ = offset;
}

// Row `row` of level `level` >= 1 (all L channels), blended from step level-1's cached rows into
// the level's blend buffer.
const float* UpsampleArgmaxPlan::level_row(int level, int row, const float* logits, float* scratch,
                                           RowCache* cache,
                                           const UpsampleArgmaxRowKernels& k) const {
  const int step = level - 1;
  const BilinearAxis& ya = y_axes_[step];
  const int r0 = ya.index0[row], r1 = ya.index1[row];
  const float w1 = ya.weight1[row];
  const float* a = interp_row(step, r0, logits, scratch, cache, k);
  const float* b = w1 != 0.0f ? interp_row(step, r1, logits, scratch, cache, k) : nullptr;
  // interp_row keeps the other needed row cached (see the eviction rule there), so `a` is intact.
  float* out = scratch + blend_offset_[level];
  k.blend_rows(a, b, ya.weight0[row], w1, static_cast<int64_t>(widths_[level]) * num_labels_, out);
  return out;
}

// Row `src_row` of level `step`, interpolated to the width of level step+1; cached.
const float* UpsampleArgmaxPlan::interp_row(int step, int src_row, const float* logits,
                                            float* scratch, RowCache* cache,
                                            const UpsampleArgmaxRowKernels& k) const {
  int* tag = cache->tag[step];
  for (int s = 0; s < 2; ++s) {
    if (tag[s] == src_row) return scratch + slot_offset_[2 * step + s];
  }
  // Rows are requested in non-decreasing pairs (r0 <= r1) for non-decreasing output rows, so the
  // slot with the smaller tag is never needed again once a larger row is asked for.
  const int slot = tag[0] <= tag[1] ? 0 : 1;
  const float* src = step == 0 ? logits + static_cast<int64_t>(src_row) * widths_[0] * num_labels_
                               : level_row(step, src_row, logits, scratch, cache, k);
  float* out = scratch + slot_offset_[2 * step + slot];
  const BilinearAxis& xa = x_axes_[step];
  k.interp_row(src, xa.index0.data(), xa.index1.data(), xa.weight0.data(), xa.weight1.data(),
               widths_[step + 1], num_labels_, out);
  tag[slot] = src_row;
  return out;
}

void UpsampleArgmaxPlan::run(const float* logits, int row_begin, int row_end, uint8_t* labels,
                             float* scratch, const UpsampleArgmaxRowKernels& k) const {
  assert(row_begin >= 0 && row_end <= out_h() && row_begin <= row_end);
  const int steps = static_cast<int>(y_axes_.size());
  const int ow = out_w();
  if (steps == 0) {
    for (int y = row_begin; y < row_end; ++y) {
      k.blend_argmax_row(logits + static_cast<int64_t>(y) * ow * num_labels_, nullptr, 1.0f, 0.0f,
                         ow, num_labels_, labels + static_cast<int64_t>(y - row_begin) * ow);
    }
    return;
  }
  RowCache cache;
  for (auto& t : cache.tag) t[0] = t[1] = -1;
  const BilinearAxis& ya = y_axes_[steps - 1];
  for (int y = row_begin; y < row_end; ++y) {
    const int r0 = ya.index0[y], r1 = ya.index1[y];
    const float w1 = ya.weight1[y];
    const float* a = interp_row(steps - 1, r0, logits, scratch, &cache, k);
    const float* b = w1 != 0.0f ? interp_row(steps - 1, r1, logits, scratch, &cache, k) : nullptr;
    k.blend_argmax_row(a, b, ya.weight0[y], w1, ow, num_labels_,
                       labels + static_cast<int64_t>(y - row_begin) * ow);
  }
}

std::vector<uint8_t> upsample_argmax(const float* logits, int in_h, int in_w, int num_labels,
                                     const std::vector<std::pair<int, int>>& sizes) {
  const UpsampleArgmaxPlan plan(in_h, in_w, num_labels, sizes);
  std::vector<float> scratch(plan.scratch_floats());
  std::vector<uint8_t> labels(static_cast<size_t>(plan.out_h()) * plan.out_w());
  plan.run(logits, 0, plan.out_h(), labels.data(), scratch.data());
  return labels;
}

}  // namespace segq
