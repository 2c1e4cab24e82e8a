// Stored size and weight distortion of a (quantized) WeightSet: what `segq inspect --method`
// prints. Sizes come from the bytes actually held (QTensor codes + scales + shifts, dense tensors
// as held in fp32), never from nominal dtypes.
//
//   total bytes            sum over every tensor of the WeightSet (integer buffers such as
//                          BatchNorm's num_batches_tracked are not part of a WeightSet: see
//                          dense_weight_set)
//   params                 sum of numel over every tensor
//   bits per weight        8 * total bytes / params (llama.cpp's definition), and the same over
//                          the quantized tensors alone
//   compression            (4 * params) / total bytes, i.e. vs the fp32 model
//   distortion per tensor  SQNR = 10 log10(sum w^2 / sum (w - w^)^2) in dB and relative error
//                          ||w - w^|| / ||w||, against the fp32 reference when one is given
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "quant/weight.h"

namespace segq {

struct TensorSizeRow {
  std::string name;
  Shape shape;
  std::string role;    // linear, conv, dwconv, float
  std::string format;  // weight_format_name: f32, int4, ...
  std::string method;  // the tensor's method ("" for dense fp32)
  bool quantized = false;
  int64_t group_size = 0;  // quantized integer formats; == cols for per channel
  int64_t params = 0;
  int64_t bytes_codes = 0;  // dense tensors: their bytes
  int64_t bytes_scales = 0;
  int64_t bytes_shifts = 0;
  int64_t bytes() const { return bytes_codes + bytes_scales + bytes_shifts; }
  // Distortion vs the reference; absent without a reference or for unquantized tensors.
  std::optional<double> sqnr_db;    // +inf when exact
  std::optional<double> rel_error;  // ||w - w^|| / ||w||
};

struct SizeReport {
  std::string method;
  std::vector<TensorSizeRow> tensors;  // every tensor, name order
  int64_t total_bytes = 0;
  int64_t total_params = 0;
  int64_t quantized_bytes = 0;
  int64_t quantized_params = 0;
  int64_t num_quantized = 0;

  double total_mb() const { return total_bytes / 1e6; }
  double bits_per_weight() const;            // 8 * total_bytes / total_params
  double bits_per_quantized_weight() const;  // over quantized tensors only (0 when none)
  double compression_vs_fp32() const;        // 4 * total_params / total_bytes
  double quantized_param_share() const;      // quantized_params / total_params
};

// `reference`: the fp32 weights the set was quantized from, for distortion (may be null).
SizeReport make_size_report(const WeightSet& weights, const std::string& method,
                            const WeightSet* reference = nullptr);

// The per-layer table (Linear/Conv weights one per line, the float tensors summed on one line)
// followed by the totals; plain text for a terminal.
std::string size_report_text(const SizeReport& r);
// {"method", "totals": {...}, "tensors": [{...}, ...]}; SQNR of an exact tensor is "inf".
nlohmann::json size_report_json(const SizeReport& r);

}  // namespace segq
