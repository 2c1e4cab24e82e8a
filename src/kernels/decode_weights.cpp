// Scalar reference decoders for the quantized formats (layouts: kernels/decode_layout.h).
#include "kernels/decode_weights.h"

#include "core/half.h"
#include "kernels/decode_fp8.h"
#include "kernels/decode_layout.h"

namespace segq {

namespace {

float scale_at(const void* p, DType dt, int64_t i) {
  switch (dt) {
    case DType::F16:
      return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default:
      return static_cast<const float*>(p)[i];
  }
}

// The value of code k of a row before scaling: the fp8 value, or the integer level c - bias.
template <WeightFormat F>
float raw_at(const uint8_t* row, int64_t k, int bias) {
  if constexpr (F == WeightFormat::FP8_E4M3) {
    return fp8_e4m3_to_f32(row[k]);
  } else if constexpr (F == WeightFormat::FP8_E5M2) {
    return fp8_e5m2_to_f32(row[k]);
  } else {
    constexpr int kBits = weight_format_bits(F);
    constexpr int kPerByte = weight_format_codes_per_byte(F);
    const int c = (row[k / kPerByte] >> (kBits * (k % kPerByte))) & int_code_max(F);
    return static_cast<float>(c - bias);
  }
}

int64_t group_size_of(const WeightView& w) { return w.group_size > 0 ? w.group_size : w.cols; }

template <WeightFormat F>
float decode_one(const WeightView& w, const uint8_t* row, int64_t n, int64_t k, int bias,
                 int64_t group) {
  const int64_t g = n * w.groups_per_row + k / group;
  float v = raw_at<F>(row, k, bias) * scale_at(w.scales, w.scale_dtype, g);
  if (w.shifts != nullptr) v = v - scale_at(w.shifts, w.scale_dtype, g);
  return v;
}

// dst[k * ld + j] = W[n0 + j][k0 + k]; zero for j in [nr, ld).
template <WeightFormat F>
void decode_panel_ref(const WeightView& w, int64_t n0, int nr, int64_t k0, int kc, float* dst,
                      int ld) {
  const int bias = int_code_bias(F, w.symmetric);
  const int64_t group = group_size_of(w);
  const uint8_t* codes = static_cast<const uint8_t*>(w.codes);
  for (int k = 0; k < kc; ++k) {
    for (int j = nr; j < ld; ++j) dst[k * ld + j] = 0.0f;
  }
  for (int j = 0; j < nr; ++j) {
    const uint8_t* row = codes + (n0 + j) * w.row_stride_bytes;
    for (int k = 0; k < kc; ++k) {
      dst[k * ld + j] = decode_one<F>(w, row, n0 + j, k0 + k, bias, group);
    }
  }
}

// dst[r * cols + k] = W[row0 + r][k].
template <WeightFormat F>
void decode_rows_ref(const WeightView& w, int64_t row0, int64_t nrows, float* dst) {
  const int bias = int_code_bias(F, w.symmetric);
  const int64_t group = group_size_of(w);
  const uint8_t* codes = static_cast<const uint8_t*>(w.codes);
  for (int64_t r = 0; r < nrows; ++r) {
    const uint8_t* row = codes + (row0 + r) * w.row_stride_bytes;
    for (int64_t k = 0; k < w.cols; ++k) {
      dst[r * w.cols + k] = decode_one<F>(w, row, row0 + r, k, bias, group);
    }
  }
}

template <WeightFormat F>
constexpr WeightFormatKernels kernels_for() {
  return WeightFormatKernels{decode_panel_ref<F>, decode_rows_ref<F>};
}

const WeightFormatKernels kFp8E4m3 = kernels_for<WeightFormat::FP8_E4M3>();
const WeightFormatKernels kFp8E5m2 = kernels_for<WeightFormat::FP8_E5M2>();
const WeightFormatKernels kInt8 = kernels_for<WeightFormat::INT8>();
const WeightFormatKernels kInt4 = kernels_for<WeightFormat::INT4>();
const WeightFormatKernels kInt2 = kernels_for<WeightFormat::INT2>();

}  // namespace

const WeightFormatKernels* decode_weights_ref_kernels(WeightFormat f) {
  switch (f) {
    case WeightFormat::FP8_E4M3:
      return &kFp8E4m3;
    case WeightFormat::FP8_E5M2:
      return &kFp8E5m2;
    case WeightFormat::INT8:
      return &kInt8;
    case WeightFormat::INT4:
      return &kInt4;
    case WeightFormat::INT2:
      return &kInt2;
    default:
      return nullptr;
  }
}

}  // namespace segq
