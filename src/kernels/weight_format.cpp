#include "kernels/weight_format.h"

#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "kernels/decode_weights.h"
#include "kernels/isa.h"

namespace segq {

const char* weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::F32: return "f32";
    case WeightFormat::F16: return "f16";
    case WeightFormat::BF16: return "bf16";
    case WeightFormat::FP8_E4M3: return "fp8-e4m3";
    case WeightFormat::FP8_E5M2: return "fp8-e5m2";
    case WeightFormat::INT8: return "int8";
    case WeightFormat::INT4: return "int4";
    case WeightFormat::INT2: return "int2";
  }
  return "?";
}

namespace {

// ---- dense float formats: element (n, k) at codes + n * row_stride_bytes + k * sizeof(elem)
template <class Elem, float (*ToF32)(Elem)>
void decode_panel_dense(const WeightView& w, int64_t n0, int nr, int64_t k0, int kc, float* dst,
                        int ld) {
  for (int k = 0; k < kc; ++k) {
    for (int j = nr; j < ld; ++j) dst[k * ld + j] = 0.0f;
  }
  for (int j = 0; j < nr; ++j) {
    const Elem* row = reinterpret_cast<const Elem*>(static_cast<const uint8_t*>(w.codes) +
                                                    (n0 + j) * w.row_stride_bytes) + k0;
    for (int k = 0; k < kc; ++k) dst[k * ld + j] = ToF32(row[k]);
  }
}

template <class Elem, float (*ToF32)(Elem)>
void decode_rows_dense(const WeightView& w, int64_t row0, int64_t nrows, float* dst) {
  for (int64_t r = 0; r < nrows; ++r) {
    const Elem* row = reinterpret_cast<const Elem*>(static_cast<const uint8_t*>(w.codes) +
                                                    (row0 + r) * w.row_stride_bytes);
    for (int64_t k = 0; k < w.cols; ++k) dst[r * w.cols + k] = ToF32(row[k]);
  }
}

float f32_identity(float x) { return x; }

const WeightFormatKernels kF32{decode_panel_dense<float, f32_identity>,
                               decode_rows_dense<float, f32_identity>};
const WeightFormatKernels kF16{decode_panel_dense<uint16_t, f16_to_f32>,
                               decode_rows_dense<uint16_t, f16_to_f32>};
const WeightFormatKernels kBF16{decode_panel_dense<uint16_t, bf16_to_f32>,
                                decode_rows_dense<uint16_t, bf16_to_f32>};

}  // namespace

const WeightFormatKernels& weight_format_kernels_ref(WeightFormat f) {
  switch (f) {
    case WeightFormat::F32: return kF32;
    case WeightFormat::F16: return kF16;
    case WeightFormat::BF16: return kBF16;
    default: break;
  }
  if (const WeightFormatKernels* k = decode_weights_ref_kernels(f)) return *k;
  throw Error(str_cat("no decoder for weight format ", weight_format_name(f)));
}

const WeightFormatKernels& weight_format_kernels(WeightFormat f) {
  if (kernel_isa() == KernelIsa::kAvx2) {
    if (const WeightFormatKernels* k = decode_weights_avx2_kernels(f)) return *k;
  }
  return weight_format_kernels_ref(f);
}

}  // namespace segq
