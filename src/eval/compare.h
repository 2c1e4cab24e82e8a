// A method's output against the fp32 baseline's on the same images: pixel agreement of the
// predictions, logit NMSE, and a paired bootstrap interval of the mIoU change. All from per-image
// records (ImageCounts), so sharded runs merge to the same numbers as unsharded ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "eval/counts.h"

namespace segq {

// Positions where a[i] == b[i], i < n.
uint64_t count_equal(const uint8_t* a, const uint8_t* b, size_t n);

// sum (x - ref)^2 / sum ref^2 over n values, accumulated in double; 0 when x == ref everywhere
// (also when ref is all zero), +inf when ref is all zero and x is not.
double logit_nmse(const float* x, const float* ref, size_t n);

// Pixel-weighted agreement over images: sum agree_pixels / sum compared_pixels; NaN when no image
// was compared.
double mean_agreement(const std::vector<ImageCounts>& images);
// Mean of the per-image logit NMSE over the compared images, summed in id order (so shards merge
// to the same double); NaN when none.
double mean_logit_nmse(const std::vector<ImageCounts>& images);

struct DeltaInterval {
  double value = 0;  // mIoU(method) - mIoU(baseline) over the paired images, in [−1, 1]
  double low = 0;    // 2.5 % percentile of the bootstrap distribution (numpy's linear rule)
  double high = 0;   // 97.5 %
  int resamples = 0;
  size_t num_images = 0;  // images present in both (matched by id)
};

constexpr uint64_t kBootstrapSeed = 0x5e9a2026;
constexpr int kBootstrapResamples = 1000;

// Paired bootstrap over images: each resample draws num_images images with replacement (the same
// draw for both), sums their per-class counts for each, and takes the difference of the two
// mIoUs (evaluate's semantics, eval/metrics.h). Deterministic for a seed: splitmix64 draws mapped
// to [0, n) by a 128-bit multiply, over the paired images in id order. Identical inputs give
// exactly [0, 0]. Images are matched by id (any order); NaN everywhere when none is shared.
DeltaInterval bootstrap_delta_miou(const std::vector<ImageCounts>& method,
                                   const std::vector<ImageCounts>& baseline, int num_labels,
                                   int resamples = kBootstrapResamples,
                                   uint64_t seed = kBootstrapSeed);

}  // namespace segq
