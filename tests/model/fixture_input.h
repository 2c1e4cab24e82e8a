// The parity inputs of tools/make_fixtures.py (hash_input), bit-identical: fixtures store only the
// expected outputs, both sides generate the inputs.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace segq::testing {

// x[b,c,h,w] = (k - 1000) / 400, k = mix(flat NCHW index) % 2001.
inline float fixture_input_value(uint64_t idx, uint64_t seed) {
  uint64_t u = (idx + seed * 1000003ull) & 0xFFFFFFFFull;
  u = (u * 2654435761ull) & 0xFFFFFFFFull;
  u ^= u >> 15;
  u = (u * 2246822519ull) & 0xFFFFFFFFull;
  u ^= u >> 13;
  const int64_t k = static_cast<int64_t>(u % 2001) - 1000;
  return static_cast<float>(k) / 400.0f;
}

inline Tensor fixture_input(int64_t batch, int64_t height, int64_t width, uint64_t seed) {
  Tensor t = Tensor::empty(DType::F32, {batch, 3, height, width});
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    p[i] = fixture_input_value(static_cast<uint64_t>(i), seed);
  return t;
}

}  // namespace segq::testing
