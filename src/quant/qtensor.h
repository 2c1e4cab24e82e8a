// QTensor: a quantized weight held packed — codes + scales + shifts + shape + group layout. Kernels
// read it directly through view(); a quantized model never holds an fp32 copy of it.
// The byte layout of `codes` per format is documented here and fixed by static_asserts in the
// packing code (quant/pack.*).
#pragma once

#include <cstdint>

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
  Tensor codes;            // packed codes, U8 storage
  Tensor scales;           // [rows, groups_per_row] in F32, F16 or BF16
  Tensor shifts;           // [rows, groups_per_row] like scales; undefined when symmetric

  int64_t groups_per_row() const { return group_size > 0 ? (cols + group_size - 1) / group_size : 1; }
  WeightView view() const;
  // Bytes actually held: codes + scales + shifts.
  size_t stored_bytes() const;
};

}  // namespace segq
