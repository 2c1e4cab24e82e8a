// Scalar IEEE binary16 and bfloat16 conversions, round to nearest even, NaN preserved.
#pragma once

#include <cstdint>
#include <cstring>

namespace segq {

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

inline float bf16_to_f32(uint16_t h) { return f32_from_bits(static_cast<uint32_t>(h) << 16); }
uint16_t f32_to_bf16(float f);

}  // namespace segq
