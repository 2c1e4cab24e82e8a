// How far a quantized model's logits move from the fp32 model's on the same inputs: the measure
// `segq nmse` and `segq sensitivity` report (no labels needed).
//   NMSE     = Σ (ŷ - y)² / Σ y²   over every logit of every image (y: fp32, ŷ: quantized)
//   SQNR dB  = -10 log10 NMSE
//   top-1    = share of logit pixels whose argmax (first maximum) equals the fp32 one
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "data/preprocess.h"
#include "quant/plan.h"

namespace segq {

// Running sums for the measures above.
struct LogitComparison {
  double signal = 0, noise = 0;  // Σ y², Σ (ŷ - y)²
  int64_t pixels = 0, agree = 0;

  // ref, got: [B, h, w, L] logits of the same inputs.
  void add(const Tensor& ref, const Tensor& got);
  // Σ y² and Σ (ŷ - y)² of any pair of equally long float arrays (no argmax).
  void add_values(const float* ref, const float* got, int64_t n);
  double nmse() const;            // 0 when identical; +inf when the reference is all zero
  double sqnr_db() const;         // +inf when identical
  double top1_agreement() const;  // 1 when there are no pixels
};

// Model inputs [1, C, H, W] for the first `limit` samples of a dataset (0 = all), preprocessed
// with `protocol` (hf: resized to the processor's size, e.g. 512x512).
std::vector<Tensor> prepare_model_inputs(const Dataset& dataset, Protocol protocol,
                                         const PreprocessConfig& config, int num_labels,
                                         size_t limit);

struct MethodFidelity {
  std::string method;  // the plan's name
  LogitComparison logits;
  int64_t bytes = 0;  // size report total
  double bits_per_weight = 0;
};

// For each plan: quantize `dense`, run every input, compare with the fp32 model's logits.
// `progress(method_index)` is called before each method (may be empty).
std::vector<MethodFidelity> logit_fidelity(const nlohmann::json& config_json,
                                           const WeightSet& dense,
                                           const std::vector<PlanOptions>& methods,
                                           const std::vector<Tensor>& inputs,
                                           const std::function<void(size_t)>& progress = {});

// A table: method, bytes, bits/weight, logit NMSE, SQNR dB, top-1 agreement.
std::string logit_fidelity_text(const std::vector<MethodFidelity>& rows);
nlohmann::json logit_fidelity_json(const std::vector<MethodFidelity>& rows);

}  // namespace segq
