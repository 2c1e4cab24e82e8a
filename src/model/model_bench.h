// Timing a Model's forward (what `segq bench` runs): warm-up runs, then repeats; median, mean and
// min wall time per image; peak resident memory of the process.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "model/model.h"

namespace segq {

struct BenchResult {
  int64_t batch = 0;
  std::vector<double> ms_per_batch;  // each timed repeat
  double median_ms_per_image = 0, mean_ms_per_image = 0, min_ms_per_image = 0;
  double images_per_s = 0;  // from the median
  int64_t peak_rss_bytes = 0;
};

BenchResult bench_forward(Model& model, const Tensor& pixels, int warmup, int repeats);
// A repeat is one pass over every batch (e.g. a set of real images); times are per image of the
// pass (`batches` hold `images` images in all).
BenchResult bench_forward_batches(Model& model, const std::vector<Tensor>& batches, int warmup,
                                  int repeats);

// Per-pixel argmax over the labels of logits [B, h, w, L] -> U8 [B, h, w] (L <= 256; the first
// maximum wins, as torch.argmax).
Tensor argmax_labels(const Tensor& logits);

// Deterministic pseudo-random pixels in [-2.5, 2.5] (normalized-image range), [b, c, h, w].
Tensor synthetic_pixels(int64_t batch, int64_t channels, int64_t height, int64_t width,
                        uint32_t seed = 1);

// Peak resident set size of this process so far (getrusage), bytes.
int64_t peak_rss_bytes();

}  // namespace segq
