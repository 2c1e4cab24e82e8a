// What `segq inspect` shows for a SegFormer: config summary, parameters and MACs per module,
// totals with and without the attention matmuls, bytes by dtype/format. Built as JSON (the --json
// output, and the one source for the text rendering).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "model/segformer_config.h"
#include "quant/weight.h"

namespace segq {

// `checkpoint`: the tensors as loaded (for bytes by dtype), may be null; `weights`: the weight set
// the model would run (bytes by format), may be null.
nlohmann::json segformer_inspect_json(const SegformerConfig& c, int64_t height, int64_t width,
                                      const std::vector<std::pair<std::string, Tensor>>* checkpoint,
                                      const WeightSet* weights);
std::string segformer_inspect_text(const nlohmann::json& report);

}  // namespace segq
