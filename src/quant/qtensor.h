// QTensor: a quantized weight held packed — codes + scales + shifts + shape + group layout. Kernels
// read it directly through view(); a quantized model never holds an fp32 copy of it.
// The byte layout of `codes` per format, of scales and shifts, and the dequantization formula are
// defined once, with static_asserts, in kernels/decode_layout.h (shared by the packers in
// quant/pack.h and the decoders in kernels/decode_weights.h). In short: INT4 two codes per byte
// along a row, low nibble first; INT2 four per byte, lowest bits first; INT8/FP8 one byte; each
// row padded to whole bytes; symmetric integer codes biased by 2^(bits-1); F16/BF16 baselines
// hold the dense matrix in `codes` (dtype F16/BF16) and no scales.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "kernels/weight_format.h"

namespace segq {

struct QTensor {
  WeightFormat format = WeightFormat::F32;
  Shape shape;             // the Hugging Face parameter's shape, e.g. [out, in] or [O, I/g, kh, kw]
  int64_t rows = 0;        // shape[0]
  int64_t cols = 0;        // numel / rows
  int64_t group_size = 0;  // along cols; == cols for one group per row
  bool symmetric = true;   // integer formats: no shift stored
  Tensor codes;            // packed codes, U8 [rows, row bytes] (F16/BF16 [rows, cols] baselines)
  Tensor scales;           // [rows, groups_per_row] in F32, F16 or BF16
  Tensor shifts;           // [rows, groups_per_row] like scales; undefined when symmetric
  std::string method;      // canonical method that produced it (provenance; may be empty)

  int64_t groups_per_row() const {
    return group_size > 0 ? (cols + group_size - 1) / group_size : 1;
  }
  WeightView view() const;
  // Bytes actually held: codes + scales + shifts (undefined tensors count 0).
  size_t stored_bytes() const;
};

}  // namespace segq
