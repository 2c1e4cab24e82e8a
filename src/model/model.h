// The interface every segmentation model family implements (SegFormer first).
#pragma once

#include <string>

#include "core/tensor.h"

namespace segq {

class Model {
 public:
  virtual ~Model() = default;
  virtual int num_labels() const = 0;
  // Total stride between the input and the logits grid (4 for SegFormer).
  virtual int output_stride() const = 0;
  // pixels: [B, 3, H, W] fp32, NCHW as preprocessing produces it (HF pixel_values).
  // returns logits: [B, h, w, num_labels] fp32, token-major (NHWC), h = ceil(H/4), w = ceil(W/4)
  // for SegFormer. Not thread-safe: one forward at a time per Model object.
  virtual Tensor forward(const Tensor& pixels) = 0;
};

}  // namespace segq
