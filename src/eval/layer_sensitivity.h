// `segq sensitivity`: what quantizing one layer alone does, for every layer a method quantizes —
// the table mixed-precision plans are made from. For each layer L (a Linear or Conv weight in the
// method's scope), on every input:
//   output SQNR  of L's own output (x·Wᵀ + b, before any activation / BatchNorm / residual add)
//                with the quantized weight vs the fp32 weight, on the input L actually receives
//                (the same in both models: every layer before L is fp32 in both)
//   logits SQNR  of the final logits of the model with only L quantized vs the fp32 model
// plus the weight's own SQNR, bytes and the logits' top-1 agreement. Sums run over all inputs
// (SQNR of the totals, not a mean of per-image SQNRs).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/logit_fidelity.h"
#include "quant/method.h"
#include "quant/weight.h"

namespace segq {

struct LayerSensitivity {
  std::string name;  // HF weight name
  std::string role;  // linear, conv, dwconv
  Shape shape;
  int64_t params = 0;
  int64_t bytes_fp32 = 0, bytes_quantized = 0;
  double weight_sqnr_db = 0;
  LogitComparison output;  // the layer's own output (no argmax: see add_values)
  LogitComparison logits;
};

struct SensitivityReport {
  std::string method;
  int64_t inputs = 0;
  std::vector<LayerSensitivity> layers;  // most damaging first: ascending logits SQNR
};

// `progress(image_index)` is called before each input (may be empty). Throws UsageError when the
// method quantizes no layer of the model.
SensitivityReport layer_sensitivity(const nlohmann::json& config_json, const WeightSet& dense,
                                    const MethodSpec& method, const std::vector<Tensor>& inputs,
                                    const std::function<void(size_t)>& progress = {});

std::string sensitivity_text(const SensitivityReport& r);
nlohmann::json sensitivity_json(const SensitivityReport& r);

}  // namespace segq
