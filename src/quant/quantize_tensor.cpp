#include "quant/quantize_tensor.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/half.h"
#include "core/thread_pool.h"
#include "kernels/decode_layout.h"
#include "quant/pack.h"
#include "quant/quantizers.h"

namespace segq {

namespace {

void store_param(Tensor& t, int64_t i, float v) {
  if (!std::isfinite(v)) {
    throw Error(str_cat("a scale or shift (", v, ") does not fit ", dtype_name(t.dtype()),
                        ": the weights are too large for this scale dtype (use s32)"));
  }
  switch (t.dtype()) {
    case DType::F16:
      static_cast<uint16_t*>(t.raw())[i] = f32_to_f16(v);
      break;
    case DType::BF16:
      static_cast<uint16_t*>(t.raw())[i] = f32_to_bf16(v);
      break;
    default:
      static_cast<float*>(t.raw())[i] = v;
      break;
  }
}

// Rows per parallel task, so each task has some thousands of weights.
int64_t row_grain(int64_t cols, Quantizer q) {
  const int64_t work = cols * (q == Quantizer::Rtn ? 1 : 40);
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, work));
}

}  // namespace

TensorQuantSpec tensor_quant_spec(const MethodSpec& m, const Shape& shape) {
  SEGQ_CHECK(m.quantizes_weights(), "tensor_quant_spec: method ", m.name, " keeps weights fp32");
  SEGQ_CHECK(!shape.empty() && shape[0] > 0, "cannot quantize a tensor of shape ",
             shape_str(shape));
  const int64_t cols = shape_numel(shape) / shape[0];
  TensorQuantSpec s;
  s.format = m.format;
  s.group_size = weight_format_is_int(m.format) ? resolve_group_size(m, cols) : cols;
  s.symmetric = weight_format_is_int(m.format) ? m.symmetric : true;
  s.quantizer = m.quantizer;
  s.scale_dtype = m.scale_dtype;
  s.method = m.name;
  return s;
}

QTensor quantize_tensor(const Tensor& w_any, const TensorQuantSpec& spec) {
  const Tensor w = w_any.dtype() == DType::F32 ? w_any : w_any.to_f32();
  SEGQ_CHECK(w.ndim() >= 1 && w.dim(0) > 0, "cannot quantize a tensor of shape ",
             shape_str(w.shape()));
  QTensor q;
  q.format = spec.format;
  q.shape = w.shape();
  q.rows = w.dim(0);
  q.cols = w.numel() / q.rows;
  q.method = spec.method;
  const int64_t rows = q.rows, cols = q.cols;
  const float* src = w.data<float>();

  if (spec.format == WeightFormat::F16 || spec.format == WeightFormat::BF16) {
    q.group_size = cols;
    q.symmetric = true;
    q.codes =
        Tensor::empty(spec.format == WeightFormat::F16 ? DType::F16 : DType::BF16, {rows, cols});
    uint16_t* dst = static_cast<uint16_t*>(q.codes.raw());
    for (int64_t i = 0; i < rows * cols; ++i) {
      dst[i] = spec.format == WeightFormat::F16 ? f32_to_f16(src[i]) : f32_to_bf16(src[i]);
    }
    return q;
  }
  SEGQ_CHECK(weight_format_has_scales(spec.format), "quantize_tensor: unsupported format ",
             weight_format_name(spec.format));
  SEGQ_CHECK(spec.scale_dtype == DType::F32 || spec.scale_dtype == DType::F16 ||
                 spec.scale_dtype == DType::BF16,
             "scale dtype must be F32, F16 or BF16");
  const bool is_int = weight_format_is_int(spec.format);
  SEGQ_CHECK(!(is_int && spec.symmetric && spec.quantizer == Quantizer::Hqq),
             "hqq needs an affine (asym) format");
  q.group_size = is_int ? spec.group_size : cols;
  SEGQ_CHECK(q.group_size > 0 && q.group_size <= cols, "group size ", q.group_size, " for rows of ",
             cols);
  q.symmetric = is_int ? spec.symmetric : true;
  const int64_t gpr = q.groups_per_row();
  const int64_t row_bytes = weight_format_row_bytes(spec.format, cols);
  q.codes = Tensor::empty(DType::U8, {rows, row_bytes});
  q.scales = Tensor::empty(spec.scale_dtype, {rows, gpr});
  if (!q.symmetric) q.shifts = Tensor::empty(spec.scale_dtype, {rows, gpr});
  uint8_t* codes = static_cast<uint8_t*>(q.codes.raw());
  const IntGrid grid{weight_format_bits(spec.format), q.symmetric, spec.scale_dtype};

  global_pool().parallel_for(rows, row_grain(cols, spec.quantizer), [&](int64_t r0, int64_t r1) {
    std::vector<uint8_t> row_codes(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = src + r * cols;
      for (int64_t g = 0; g < gpr; ++g) {
        const int64_t begin = g * q.group_size;
        const int64_t n = std::min(q.group_size, cols - begin);
        if (is_int) {
          const GroupParams p = choose_int_params(x + begin, n, grid, spec.quantizer);
          store_param(q.scales, r * gpr + g, p.scale);
          if (!q.symmetric) store_param(q.shifts, r * gpr + g, p.shift);
          for (int64_t k = 0; k < n; ++k) {
            row_codes[begin + k] = static_cast<uint8_t>(int_encode(x[begin + k], p, grid));
          }
        } else {
          const float scale = fp8_scale(x + begin, n, spec.format, spec.scale_dtype);
          store_param(q.scales, r * gpr + g, scale);
          for (int64_t k = 0; k < n; ++k) {
            row_codes[begin + k] = fp8_encode_scaled(x[begin + k], scale, spec.format);
          }
        }
      }
      pack_codes_row(spec.format, row_codes.data(), cols, codes + r * row_bytes);
    }
  });
  return q;
}

Tensor dequantize(const QTensor& q) {
  Tensor out = Tensor::empty(DType::F32, q.shape);
  if (q.rows > 0) {
    weight_format_kernels_ref(q.format).decode_rows(q.view(), 0, q.rows, out.data<float>());
  }
  return out;
}

}  // namespace segq
