// Quantized checkpoints: a WeightSet as safetensors tensors + a JSON quantization map in the
// safetensors __metadata__ (format: docs/quantized-checkpoint.md), and back. File I/O stays with
// the caller (io/safetensors.h): quant builds and reads name -> Tensor lists.
//
// Layout, per quantized weight W (Hugging Face name, e.g. "...query.weight"):
//   "W.codes"   U8 [rows, row bytes]   packed codes (kernels/decode_layout.h)
//   "W.scales"  F32|F16|BF16 [rows, groups per row]
//   "W.shifts"  same as scales; affine integer formats only
// bf16/fp16 baselines store "W" itself with its shape in BF16/F16. Every other tensor is stored
// under its own name as F32. __metadata__["segq.quantization"] holds
//   {"version": 1, "method": "<plan name>", "tensors": {"W": {"format", "shape", "group_size",
//    "symmetric", "scale_dtype", "method", "quantizer", "codes", "scales", ["shifts"]}, ...}}
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "quant/weight.h"

namespace segq {

constexpr const char* kQuantizationMapKey = "segq.quantization";
constexpr int kQuantizationMapVersion = 1;

struct CheckpointTensors {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in write order (name order)
  std::map<std::string, std::string> metadata;          // __metadata__
};

// Serializes every tensor of `weights` (the written data bytes equal the size report's total).
CheckpointTensors quantized_checkpoint_tensors(const WeightSet& weights, const std::string& method);

bool has_quantization_map(const std::map<std::string, std::string>& metadata);

struct CheckpointWeights {
  WeightSet weights;
  bool quantized = false;  // the checkpoint carried a quantization map
  std::string method;      // from the map; empty for a plain checkpoint
};

// A checkpoint's tensors (as loaded, e.g. ModelFiles::tensors / ::metadata) as a WeightSet:
// QTensors (borrowing the loaded storage) where the quantization map says so, dense fp32
// otherwise. Integer tensors (BatchNorm's num_batches_tracked counter, unused at inference) are
// dropped: they are not weights and count nowhere. For a plain checkpoint this is the dense
// fp32 WeightSet every method starts from. Throws segq::Error naming `source`
// and the offending entry when the map is malformed, truncated or inconsistent with the tensors.
CheckpointWeights weights_from_checkpoint(
    const std::vector<std::pair<std::string, Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata, const std::string& source);

}  // namespace segq
