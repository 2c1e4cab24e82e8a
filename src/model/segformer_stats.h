// Counting for SegFormer: parameters per module, multiply-accumulates at an input size (conv +
// linear + depthwise conv + the attention matmuls QKᵀ and P·V; LayerNorm, softmax, GELU, BatchNorm,
// resize and biases are not counted), and stored bytes by dtype / weight format.
// For b0 with 150 labels: 3,752,694 parameters; 8.39 GMAC at 512x512, 7.35 without attention.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "model/segformer_config.h"
#include "quant/weight.h"

namespace segq {

// One weight-bearing layer (or one block's attention matmuls) at a given input size.
struct LayerCost {
  std::string name;    // HF weight name, or "<block>.attention.self.matmuls" for QKᵀ + P·V
  std::string module;  // reporting group (ParamSpec::module)
  int64_t macs = 0;    // per image
  bool attention_matmul = false;
};
std::vector<LayerCost> segformer_layer_costs(const SegformerConfig& c, int64_t h, int64_t w);

struct ModuleStats {
  std::string module;
  int64_t params = 0;  // parameters (not buffers)
  int64_t macs = 0;    // per image, attention matmuls included
  int64_t attention_macs = 0;
};
struct SegformerStats {
  int64_t height = 0, width = 0;
  std::vector<ModuleStats> modules;  // in forward order
  int64_t params = 0;
  int64_t buffer_values = 0;  // BatchNorm running stats (+1 for num_batches_tracked)
  int64_t macs = 0;
  int64_t attention_macs = 0;
  int64_t macs_without_attention() const { return macs - attention_macs; }
};
SegformerStats segformer_stats(const SegformerConfig& c, int64_t h, int64_t w);
int64_t segformer_parameter_count(const SegformerConfig& c);

// Checkpoint bytes by dtype name ("F16" -> bytes) of named tensors as loaded.
std::map<std::string, size_t> bytes_by_dtype(
    const std::vector<std::pair<std::string, Tensor>>& tensors);
// Bytes the weights hold in memory, by weight format name ("f32", "int4", ...).
std::map<std::string, size_t> bytes_by_format(const WeightSet& weights);

}  // namespace segq
