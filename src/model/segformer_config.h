// SegformerConfig: the architecture as read from a Hugging Face config.json, and the exact list of
// parameters/buffers (Hugging Face names and shapes) that transformers'
// SegformerForSemanticSegmentation has for it — the single source of truth for binding and
// counting.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace segq {

struct SegformerConfig {
  int num_channels = 3;
  int num_stages = 4;  // config.json num_encoder_blocks
  std::vector<int> hidden_sizes{32, 64, 160, 256};
  std::vector<int> depths{2, 2, 2, 2};
  std::vector<int> num_heads{1, 2, 5, 8};  // num_attention_heads
  std::vector<int> sr_ratios{8, 4, 2, 1};
  std::vector<int> patch_sizes{7, 3, 3, 3};
  std::vector<int> strides{4, 2, 2, 2};
  std::vector<double> mlp_ratios{4, 4, 4, 4};
  int decoder_hidden_size = 256;
  int num_labels = 2;
  std::vector<std::string> labels;  // id2label in id order (empty when config.json has none)
  std::string hidden_act = "gelu";
  bool reshape_last_stage = true;

  // Every LayerNorm and the BatchNorm use PyTorch's default eps; config.layer_norm_eps (1e-6) is
  // not used by transformers' model.
  static constexpr float kNormEps = 1e-5f;

  // Parses config.json with transformers' defaults for absent fields. Throws segq::Error naming
  // `source` and the field when a value has the wrong type, length or range.
  static SegformerConfig from_json(const nlohmann::json& j,
                                   const std::string& source = "config.json");
  // Same checks for a config built in code.
  void validate(const std::string& source = "SegformerConfig") const;

  int mlp_hidden(int stage) const;  // int(hidden_sizes[stage] * mlp_ratios[stage])
  int head_dim(int stage) const { return hidden_sizes[stage] / num_heads[stage]; }
  int padding(int stage) const { return patch_sizes[stage] / 2; }
};

// Spatial sizes per stage for an input of h x w (PyTorch conv arithmetic).
struct StageGeometry {
  int64_t h_in = 0, w_in = 0;  // input map of the patch embedding
  int64_t h = 0, w = 0;        // tokens grid
  int64_t h_kv = 0, w_kv = 0;  // sequence-reduced grid (floor(h/r), floor(w/r)); == h, w if r == 1
  int64_t tokens() const { return h * w; }
  int64_t kv_tokens() const { return h_kv * w_kv; }
};
// Throws segq::Error when the input is too small for a convolution of some stage.
std::vector<StageGeometry> segformer_geometry(const SegformerConfig& c, int64_t h, int64_t w);

struct ParamSpec {
  std::string name;  // Hugging Face state-dict name
  Shape shape;
  std::string module;   // reporting group, e.g. "segformer.encoder.block.0"
  bool buffer = false;  // running stats / num_batches_tracked (not parameters)
};
// In state-dict order. num_batches_tracked is listed (a buffer of shape []) but never required.
std::vector<ParamSpec> segformer_parameter_specs(const SegformerConfig& c);

}  // namespace segq
