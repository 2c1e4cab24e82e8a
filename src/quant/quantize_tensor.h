// Quantizing one weight tensor into a packed QTensor, and dequantizing it back.
#pragma once

#include <string>

#include "core/tensor.h"
#include "quant/method.h"
#include "quant/qtensor.h"

namespace segq {

// What to do with one tensor: a method resolved for its row length.
struct TensorQuantSpec {
  WeightFormat format = WeightFormat::INT4;  // F16, BF16, FP8_*, INT8, INT4, INT2
  int64_t group_size = 0;                    // integer formats; == cols for one group per row
  bool symmetric = false;
  Quantizer quantizer = Quantizer::Rtn;
  DType scale_dtype = DType::F32;
  std::string method;  // canonical method name, kept as provenance in the QTensor
};

// Resolves `m` for a weight of shape [rows, cols...] (cols = numel / rows).
TensorQuantSpec tensor_quant_spec(const MethodSpec& m, const Shape& shape);

// w: any float dtype, shape [rows, ...] with rows = shape[0]; the matrix is [rows, numel / rows].
// Deterministic; rows are processed in parallel on the global pool.
QTensor quantize_tensor(const Tensor& w, const TensorQuantSpec& spec);

// The dequantized fp32 tensor in the Hugging Face shape (through the reference decoder).
Tensor dequantize(const QTensor& q);

}  // namespace segq
