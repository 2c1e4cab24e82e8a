// Per-format weight decoders: the format-specific half of every weight-consuming kernel. The
// blocked GEMM driver calls decode_panel once per (N-tile, K-tile) and reuses the fp32 panel for
// all M rows; decode_rows serves row-wise consumers (depthwise convolution, tests, distortion).
// Layouts and the dequantization formula: kernels/decode_layout.h. Decoding is exact (no error
// tolerance): the AVX2 decoders equal the scalar references bit for bit (the e4m3 NaN codes,
// which quantization never produces, decode to NaN in both, possibly with different payloads).
//
// weight_format.cpp's tables dispatch here for the non-dense formats (and for the AVX2 versions of
// the dense ones).
#pragma once

#include "kernels/weight_format.h"

namespace segq {

// Scalar references for FP8_E4M3, FP8_E5M2, INT8, INT4, INT2; null for other formats.
const WeightFormatKernels* decode_weights_ref_kernels(WeightFormat f);
// AVX2/F16C decoders for every format (F32/F16/BF16 included); null when this build has none.
// The caller checks that the AVX2 kernel ISA is active (kernel_isa()) first.
const WeightFormatKernels* decode_weights_avx2_kernels(WeightFormat f);

}  // namespace segq
