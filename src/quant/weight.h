// Weight: a layer parameter as the model consumes it — a dense fp32 tensor or a packed QTensor.
// The model code calls ops on Weights and never knows which format it runs.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/tensor.h"
#include "quant/qtensor.h"

namespace segq {

class Weight {
 public:
  Weight() = default;
  static Weight dense(Tensor t);  // any float dtype; stored as F32
  static Weight quantized(std::shared_ptr<const QTensor> q);

  bool is_quantized() const { return q_ != nullptr; }
  const Shape& shape() const { return is_quantized() ? q_->shape : dense_.shape(); }
  int64_t numel() const { return shape_numel(shape()); }
  // The dense fp32 tensor; throws if quantized.
  const Tensor& dense_tensor() const;
  const QTensor& qtensor() const;
  // The matrix view [shape[0], numel / shape[0]] for the kernels.
  WeightView view() const;
  // Bytes this weight holds in memory as stored (fp32: 4 per element; quantized: packed bytes).
  size_t stored_bytes() const;

 private:
  Tensor dense_;
  std::shared_ptr<const QTensor> q_;
};

// Every parameter and buffer of a model by Hugging Face name.
using WeightSet = std::map<std::string, Weight>;

}  // namespace segq
