// Layers bound from Weights (any format) and the ops the model runs on them. The model code calls
// these and never looks at a weight's format: a dense fp32 weight is packed once for the GEMM at
// bind time; a quantized weight stays packed and is decoded tile by tile inside the GEMM (or, for
// the tiny depthwise weights, per call into scratch).
#pragma once

#include <string>

#include "core/tensor.h"
#include "kernels/activation.h"
#include "kernels/gemm.h"
#include "kernels/gemm_int8.h"
#include "kernels/im2col.h"
#include "quant/weight.h"

namespace segq {

// A small dense fp32 vector from a Weight (bias, norm parameter, running stat); a quantized one is
// decoded. Throws naming `name` if it does not hold `n` values.
Tensor dense_vector(const Weight& w, int64_t n, const std::string& name);

// Whether a weight runs as int8-w8a8 (int8 weights and dynamic per-token int8 activations): an
// INT8 QTensor whose method (its provenance, also stored in quantized checkpoints) has -w8a8.
bool weight_runs_w8a8(const Weight& w);

// y = x · Wᵀ + b for W [N, K] (a Linear weight, or a Conv2d weight flattened to [O, I*kh*kw]).
// A w8a8 weight runs the int8 GEMM (kernels/gemm_int8.h) on its activations quantized per token.
struct LinearOp {
  std::string name;  // HF name of the weight (error messages, reports)
  Weight weight;
  Tensor bias;               // [N] fp32 or undefined
  GemmPackedWeights packed;  // fp32 weights only
  GemmI8Weights i8;          // w8a8 weights only (packed int8 codes + fp32 scales)

  static LinearOp bind(const std::string& name, const Weight& weight, const Weight* bias);
  int64_t out_features() const { return weight.shape()[0]; }
  int64_t in_features() const { return weight.numel() / weight.shape()[0]; }
  GemmWeights gemm_weights() const;
};

// A Conv2d (groups 1) run as im2col + GEMM.
struct ConvOp {
  LinearOp gemm;  // weight [O, I, kh, kw] viewed as [O, I*kh*kw]
  int stride = 1;
  int padding = 0;
  int64_t in_channels() const { return gemm.weight.shape()[1]; }
  int kernel_h() const { return static_cast<int>(gemm.weight.shape()[2]); }
  int kernel_w() const { return static_cast<int>(gemm.weight.shape()[3]); }
  ConvGeometry geometry(int64_t h, int64_t w) const;
};

// Depthwise 3x3 (groups = channels, padding 1) + bias.
struct DepthwiseOp {
  std::string name;
  Weight weight;  // [C, 1, 3, 3]
  Tensor bias;    // [C]
  Tensor taps;    // [9, C] for dense weights; undefined when the weight is quantized

  static DepthwiseOp bind(const std::string& name, const Weight& weight, const Weight& bias);
  int64_t channels() const { return weight.shape()[0]; }
};

struct LayerNormOp {
  Tensor gamma, beta;  // [C]
  static LayerNormOp bind(const std::string& prefix, const Weight& gamma, const Weight& beta,
                          int64_t c);
};

namespace ops {

// y[m, :] (+)= x[m, :] · Wᵀ (+ b), with the epilogue's activation / scale / accumulate options
// (GemmEpilogue.bias is taken from the op when the caller leaves it null).
void linear(int64_t m, const float* x, int64_t ldx, const LinearOp& op, float* y, int64_t ldy,
            GemmEpilogue ep = {});

// One image: in(ci, y, x) at in[ci*cs + y*ys + x*xs] → out [out_h * out_w, O] (token-major, row
// stride ldo). `col_buf` holds out_h * out_w * I*kh*kw floats (conv_col_floats).
void conv2d(const ConvOp& op, const ConvGeometry& g, const float* in, int64_t cs, int64_t ys,
            int64_t xs, float* col_buf, float* out, int64_t ldo);
int64_t conv_col_floats(const ConvOp& op, const ConvGeometry& g);

// x, y: [batch, h, w, C] token-major.
void depthwise3x3(const DepthwiseOp& op, int64_t batch, int64_t h, int64_t w, const float* x,
                  Activation act, float* y);

// In place allowed (x == y with equal strides).
void layernorm(const LayerNormOp& op, int64_t rows, const float* x, int64_t ldx, float* y,
               int64_t ldy);

}  // namespace ops
}  // namespace segq
