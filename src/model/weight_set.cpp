#include "model/weight_set.h"

namespace segq {

WeightSet dense_weight_set(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  WeightSet out;
  for (const auto& [name, t] : tensors) {
    const DType d = t.dtype();
    if (d != DType::F32 && d != DType::F16 && d != DType::BF16 && d != DType::F64) continue;
    out[name] = Weight::dense(t);
  }
  return out;
}

}  // namespace segq
