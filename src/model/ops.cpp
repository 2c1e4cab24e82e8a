#include "model/ops.h"

#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/dwconv.h"
#include "kernels/layernorm.h"
#include "model/segformer_config.h"
#include "quant/method.h"

namespace segq {

Tensor dense_vector(const Weight& w, int64_t n, const std::string& name) {
  SEGQ_CHECK(w.numel() == n, "tensor '", name, "' has ", w.numel(), " values ",
             shape_str(w.shape()), ", expected ", n);
  if (!w.is_quantized()) return w.dense_tensor().reshape({n});
  Tensor t = Tensor::empty(DType::F32, {n});
  const WeightView v = w.view();
  weight_format_kernels_ref(v.format).decode_rows(v, 0, v.rows, t.data<float>());
  return t;
}

bool weight_runs_w8a8(const Weight& w) {
  if (!w.is_quantized() || w.qtensor().format != WeightFormat::INT8) return false;
  const std::string& method = w.qtensor().method;
  if (method.find("w8a8") == std::string::npos) return false;
  try {
    return parse_method(method).w8a8;
  } catch (const std::exception&) {
    return false;
  }
}

LinearOp LinearOp::bind(const std::string& name, const Weight& weight, const Weight* bias) {
  LinearOp op;
  op.name = name;
  op.weight = weight;
  if (bias) op.bias = dense_vector(*bias, op.out_features(), name + " (bias)");
  const WeightView v = weight.view();
  if (v.format == WeightFormat::F32) op.packed = gemm_pack_weights(v);
  if (weight_runs_w8a8(weight)) op.i8 = gemm_i8_pack_weights(v);
  return op;
}

GemmWeights LinearOp::gemm_weights() const {
  GemmWeights g;
  g.view = weight.view();
  g.packed = packed.panels;
  return g;
}

ConvGeometry ConvOp::geometry(int64_t h, int64_t w) const {
  ConvGeometry g;
  g.cin = in_channels();
  g.h = h;
  g.w = w;
  g.kh = kernel_h();
  g.kw = kernel_w();
  g.sh = g.sw = stride;
  g.ph = g.pw = padding;
  return g;
}

DepthwiseOp DepthwiseOp::bind(const std::string& name, const Weight& weight, const Weight& bias) {
  DepthwiseOp op;
  op.name = name;
  op.weight = weight;
  const int64_t c = weight.shape()[0];
  op.bias = dense_vector(bias, c, name + " (bias)");
  if (!weight.is_quantized()) {
    op.taps = Tensor::empty(DType::F32, {9, c});
    dwconv3x3_taps_from_oihw(c, weight.dense_tensor().data<float>(), op.taps.data<float>());
  }
  return op;
}

LayerNormOp LayerNormOp::bind(const std::string& prefix, const Weight& gamma, const Weight& beta,
                              int64_t c) {
  LayerNormOp op;
  op.gamma = dense_vector(gamma, c, prefix + ".weight");
  op.beta = dense_vector(beta, c, prefix + ".bias");
  return op;
}

namespace ops {

void linear(int64_t m, const float* x, int64_t ldx, const LinearOp& op, float* y, int64_t ldy,
            GemmEpilogue ep) {
  if (!ep.bias && op.bias.defined() && op.bias.numel() > 0) ep.bias = op.bias.data<float>();
  if (op.i8.panels) {
    gemm_i8(m, x, ldx, op.i8, y, ldy, ep);
  } else {
    gemm(m, x, ldx, op.gemm_weights(), y, ldy, ep);
  }
}

int64_t conv_col_floats(const ConvOp& op, const ConvGeometry& g) {
  (void)op;
  return g.out_h() * g.out_w() * g.patch_size();
}

void conv2d(const ConvOp& op, const ConvGeometry& g, const float* in, int64_t cs, int64_t ys,
            int64_t xs, float* col_buf, float* out, int64_t ldo) {
  // One parallel region over blocks of output rows: each task gathers its rows' patches (~256 KiB,
  // still in L2 when the GEMM reads them) and runs the GEMM on them; the kernels called inside a
  // task run serially on its thread.
  const int64_t k = g.patch_size(), ow = g.out_w(), oh = g.out_h();
  const int64_t row_floats = std::max<int64_t>(1, ow * k);
  int64_t block = std::max<int64_t>(1, (256 * 1024 / 4) / row_floats);
  const int threads = global_pool().num_threads();
  if (threads > 1) block = std::min(block, std::max<int64_t>(1, oh / (2 * threads)));
  const int64_t blocks = (oh + block - 1) / block;
  global_pool().parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t oy0 = b * block, oy1 = std::min(oh, oy0 + block);
      float* col = col_buf + oy0 * ow * k;
      im2col(g, in, cs, ys, xs, oy0, oy1, col, k);
      linear((oy1 - oy0) * ow, col, k, op.gemm, out + oy0 * ow * ldo, ldo);
    }
  });
}

void depthwise3x3(const DepthwiseOp& op, int64_t batch, int64_t h, int64_t w, const float* x,
                  Activation act, float* y) {
  const int64_t c = op.channels();
  if (op.taps.defined()) {
    dwconv3x3(batch, h, w, c, x, op.taps.data<float>(), op.bias.data<float>(), act, y);
    return;
  }
  // Quantized weight: decode the C x 9 values transiently (a few KiB) and transpose to taps.
  std::vector<float> rows(static_cast<size_t>(c * 9));
  std::vector<float> taps(static_cast<size_t>(c * 9));
  const WeightView v = op.weight.view();
  weight_decoders_for_isa(v.format).decode_rows(v, 0, v.rows, rows.data());
  dwconv3x3_taps_from_oihw(c, rows.data(), taps.data());
  dwconv3x3(batch, h, w, c, x, taps.data(), op.bias.data<float>(), act, y);
}

void layernorm(const LayerNormOp& op, int64_t rows, const float* x, int64_t ldx, float* y,
               int64_t ldy) {
  segq::layernorm(rows, op.gamma.numel(), x, ldx, op.gamma.data<float>(), op.beta.data<float>(),
                  SegformerConfig::kNormEps, y, ldy);
}

}  // namespace ops
}  // namespace segq
