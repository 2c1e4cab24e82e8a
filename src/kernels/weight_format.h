// Weight formats as the kernels see them: a matrix W [rows = outputs N, cols = inputs K] stored in
// some packed format, and per-format decode routines (a traits table, one entry per format) that
// the GEMM driver and the other weight-consuming kernels call tile by tile. The byte layouts of
// the packed formats are owned and documented by quant/qtensor.h.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace segq {

enum class WeightFormat : uint8_t { F32, F16, BF16, FP8_E4M3, FP8_E5M2, INT8, INT4, INT2 };

const char* weight_format_name(WeightFormat f);

// A read-only view of one weight matrix. A Conv2d weight [O, I/groups, kh, kw] is the matrix
// [O, I/groups*kh*kw] in PyTorch's flattening order (cin, kh, kw).
struct WeightView {
  WeightFormat format = WeightFormat::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* codes = nullptr;   // F32/F16/BF16: the dense row-major matrix; else packed codes
  const void* scales = nullptr;  // per (row, group); null for F32/F16/BF16
  const void* shifts = nullptr;  // per (row, group) for affine formats; null otherwise
  DType scale_dtype = DType::F32;
  int64_t group_size = 0;        // along cols; == cols for one group per row
  int64_t groups_per_row = 1;    // ceil(cols / group_size)
  int64_t row_stride_bytes = 0;  // bytes between consecutive rows of `codes`
  bool symmetric = true;         // integer formats: no shift stored
};

// Decodes W[n0 .. n0+nr) x [k0 .. k0+kc) into a k-major panel: dst[k * ld + j] = W[n0 + j][k0 + k]
// for j < nr and k < kc; columns j in [nr, ld) are set to 0. Requires nr <= ld.
using DecodePanelFn = void (*)(const WeightView& w, int64_t n0, int nr, int64_t k0, int kc,
                               float* dst, int ld);
// Decodes whole rows: dst[r * cols + k] = W[row0 + r][k] for r < nrows.
using DecodeRowsFn = void (*)(const WeightView& w, int64_t row0, int64_t nrows, float* dst);

struct WeightFormatKernels {
  DecodePanelFn decode_panel = nullptr;
  DecodeRowsFn decode_rows = nullptr;
};

// The scalar reference decoders, and the decoders the kernels use: those of the active kernel ISA
// (kernels/isa.h kernel_isa(), so ScopedKernelIsa switches them too) — AVX2 when it is kAvx2 and
// a fast decoder exists for the format, else the reference.
const WeightFormatKernels& weight_format_kernels_ref(WeightFormat f);
const WeightFormatKernels& weight_format_kernels(WeightFormat f);

}  // namespace segq
