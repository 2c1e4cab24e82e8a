// SegFormer (transformers' SegformerForSemanticSegmentation) forward pass in eval mode, on weights
// of any format. Semantics: docs in ../shared/spec/segformer.md; activations token-major
// [batch, h*w, C]; kernels from kernels/, threaded over the global pool.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "model/model.h"
#include "model/ops.h"
#include "model/segformer_config.h"
#include "quant/weight.h"

namespace segq {

// One weight op of the forward pass and the input it ran on, for observers (`segq sensitivity`,
// tests): the op's own output (x·Wᵀ + b, before any activation, BatchNorm or residual add fused
// into it) can be recomputed from it, with this op's weight or another (ops::linear,
// ops::depthwise3x3 with Activation::kNone).
struct WeightOpEvent {
  const LinearOp* linear = nullptr;        // a Linear, or a Conv2d as a GEMM over im2col rows
  const DepthwiseOp* depthwise = nullptr;  // the Mix-FFN depthwise 3x3
  const float* x = nullptr;
  int64_t rows = 0, ldx = 0;        // linear: x [rows, in_features], row stride ldx
  int64_t batch = 0, h = 0, w = 0;  // depthwise: x [batch, h, w, channels]
  const std::string& name() const { return linear ? linear->name : depthwise->name; }
};
// Called after each weight op, on the thread that runs forward(); x is valid during the call.
// A Conv2d reports once per image (its im2col rows), the decode head once per pixel chunk.
using WeightOpObserver = std::function<void(const WeightOpEvent&)>;

struct SegformerOptions {
  // Runs the decode head as its exact algebraic fold: bilinear upsampling commutes with per-pixel
  // linear maps (its weights sum to 1, so biases pass through), hence
  //   BN(linear_fuse([up(t_S) .. up(t_1)])) = Σ_i up(c_i F_iᵀ) + g,
  //   F_i = diag(bn_scale) W_fuse[:, slot_i] W_c_i   [E, C_i],
  //   g = bn_shift + bn_scale ⊙ Σ_i W_fuse[:, slot_i] b_c_i,
  // computed in double at bind time from the bound weights (whatever their format). For b0 at
  // 512x512 this removes linear_fuse's 4.3 GMAC and the [h1*w1, 4E] concatenation. Changes float
  // rounding only (tests/model/test_decode_fold.cpp bounds the difference).
  bool fold_decode_head = false;
};

class SegformerModel final : public Model {
 public:
  // Binds every parameter the config implies from `weights` (by Hugging Face name). Throws
  // segq::Error naming a missing tensor, or a tensor whose shape differs from the one the config
  // implies (both shapes in the message). Tensors the model does not use are reported with
  // log_warn. The weights are shared, not copied (fp32 ones are also packed once for the GEMM).
  SegformerModel(SegformerConfig config, const WeightSet& weights,
                 const SegformerOptions& options = {});

  int num_labels() const override { return config_.num_labels; }
  int output_stride() const override { return config_.strides[0]; }
  // pixels [B, C_in, H, W] fp32 -> logits [B, h, w, num_labels], (h, w) = output_size(H, W).
  Tensor forward(const Tensor& pixels) override;

  // The encoder alone: stage maps, token-major [B, h_i, w_i, C_i] (copies), the decode head's
  // inputs. decode_head(forward_stages(x)) == forward(x) bit for bit.
  std::vector<Tensor> forward_stages(const Tensor& pixels);
  // The decode head on stage maps as forward_stages returns them -> logits [B, h_1, w_1, L].
  Tensor decode_head(const std::vector<Tensor>& stages);

  const SegformerConfig& config() const { return config_; }
  const SegformerOptions& options() const { return options_; }
  std::pair<int64_t, int64_t> output_size(int64_t h, int64_t w) const;
  // The Weight bound for each Hugging Face name (what the forward reads).
  const WeightSet& bound_weights() const { return bound_; }
  // Observes every weight op of the following forwards (an empty function, the default, turns it
  // off; unobserved forwards pay one branch per op). Observing never changes the results. The
  // folded decode head reports its folded ops ("decode_head (folded stage i)").
  void set_weight_op_observer(WeightOpObserver observer) { observer_ = std::move(observer); }

 private:
  struct Block {
    LayerNormOp ln1, ln2, sr_ln;
    LinearOp q, k, v, out, fc1, fc2;
    bool has_sr = false;
    ConvOp sr;
    DepthwiseOp dw;
  };
  struct Stage {
    ConvOp patch;
    LayerNormOp patch_ln;
    std::vector<Block> blocks;
    LayerNormOp norm;
  };
  struct DecodeHead {
    std::vector<LinearOp> linear_c;  // per stage: C_i -> E (unfolded)
    LinearOp fuse;                   // [E, S*E] (1x1 conv, no bias), input order [c_S, ..., c_1]
    Tensor bn_scale, bn_shift;       // eval BatchNorm as y = x * scale + shift
    std::vector<LinearOp> folded;    // per stage: F_i [E, C_i] (folded)
    Tensor folded_bias;              // g [E] (folded)
    LinearOp classifier;             // [L, E]
  };

  // Reusable activation buffers, kept across forwards (no page faults after the first call).
  enum Slot : int { kX, kH, kQ, kReduced, kK, kV, kCtx, kMlp1, kMlp2, kCol, kSlots };
  // Slot kSlots + i: stage i's output; kSlots + num_stages + i: decode head's linear_c.i output;
  // kSlots + 2 num_stages + 2 t (+ 1): thread t's decode-head chunk buffers.
  float* buffer(int slot, int64_t floats);

  void run_stage(int i, const float* in, int64_t batch, const StageGeometry& g, float* out);
  std::vector<const float*> run_encoder(const Tensor& pixels, std::vector<StageGeometry>* geo);
  void run_decode_head(const std::vector<const float*>& stage_out, int64_t batch,
                       const std::vector<StageGeometry>& geo, float* logits);
  void run_decode_head_folded(const std::vector<const float*>& stage_out, int64_t batch,
                              const std::vector<StageGeometry>& geo, float* logits);
  void bind_folded_head(const WeightSet& bound);
  void observe(const LinearOp& op, const float* x, int64_t rows, int64_t ldx) const;

  SegformerConfig config_;
  SegformerOptions options_;
  WeightSet bound_;
  std::vector<Stage> stages_;
  DecodeHead head_;
  std::vector<Tensor> buffers_;
  WeightOpObserver observer_;
};

// The config.json of `config_json` (parsed and validated) bound to `weights`.
std::unique_ptr<SegformerModel> make_segformer(const nlohmann::json& config_json,
                                               const WeightSet& weights,
                                               const std::string& config_source = "config.json",
                                               const SegformerOptions& options = {});

}  // namespace segq
