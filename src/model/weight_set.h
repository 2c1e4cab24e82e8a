// Building the WeightSet a model binds from, out of the named tensors io/ loaded.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "quant/weight.h"

namespace segq {

// Every floating-point tensor (F32/F16/BF16/F64) as a dense fp32 Weight (F16/BF16 are converted
// exactly); integer buffers such as BatchNorm's num_batches_tracked are skipped (unused in eval).
WeightSet dense_weight_set(const std::vector<std::pair<std::string, Tensor>>& tensors);

}  // namespace segq
