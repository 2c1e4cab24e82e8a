// Helpers shared by the quantization tests.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/model_files.h"
#include "quant/checkpoint.h"
#include "quant/plan.h"

namespace segq::test {

inline std::string fixture_path(const std::string& rel) {
  return std::string(SEGQ_SOURCE_DIR) + "/tests/fixtures/" + rel;
}

// Deterministic pseudo-random floats in [-1, 1) (xorshift), plus a few outliers so groups differ.
inline std::vector<float> random_weights(int64_t n, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  uint32_t s = seed * 2654435761u + 12345u;
  for (int64_t i = 0; i < n; ++i) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    v[i] = static_cast<float>(s >> 8) / 8388608.0f - 1.0f;
    if (i % 97 == 13) v[i] *= 6.0f;
  }
  return v;
}

inline Tensor random_tensor(const Shape& shape, uint32_t seed) {
  return Tensor::from_vector(random_weights(shape_numel(shape), seed), shape);
}

// The dense fp32 weights of a fixture model (tests/fixtures/models/<name>).
inline WeightSet fixture_weights(const std::string& model) {
  const ModelFiles m = load_model_files(fixture_path("models/" + model));
  return weights_from_checkpoint(m.tensors, m.metadata, m.directory).weights;
}

}  // namespace segq::test
