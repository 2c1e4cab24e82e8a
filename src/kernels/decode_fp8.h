// Scalar float8 -> float32 decoding (exact; every fp8 value is an fp32 value).
//   e4m3fn (OCP "E4M3", PyTorch float8_e4m3fn): s eeee mmm, bias 7, no infinity, NaN = s1111111,
//          e == 0: (m / 8) * 2^-6, else (1 + m / 8) * 2^(e - 7); max finite 448 (0x7E).
//   e5m2   (PyTorch float8_e5m2): the top byte of an IEEE binary16, bias 15, max finite 57344,
//          +-inf 0x7C / 0xFC, NaN for e == 31 and m != 0.
// Reference: PyTorch c10/util/Float8_e4m3fn.h, Float8_e5m2.h; the OCP 8-bit float spec.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>

namespace segq {

constexpr float kFp8E4m3Max = 448.0f;
constexpr float kFp8E5m2Max = 57344.0f;

inline float fp8_e4m3_to_f32(uint8_t b) {
  const uint32_t sign = static_cast<uint32_t>(b & 0x80u) << 24;
  const uint32_t e = (b >> 3) & 0xFu;
  const uint32_t m = b & 0x7u;
  uint32_t bits;
  if (e == 0xFu && m == 0x7u) {
    bits = sign | 0x7FC00000u;  // NaN
  } else if (e != 0) {
    bits = sign | ((e + 120u) << 23) | (m << 20);  // rebias 7 -> 127
  } else if (m != 0) {
    float v = static_cast<float>(m) * 0x1p-9f;  // m/8 * 2^-6, exact
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  } else {
    bits = sign;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline float fp8_e5m2_to_f32(uint8_t b) {
  const uint32_t sign = static_cast<uint32_t>(b & 0x80u) << 24;
  const uint32_t e = (b >> 2) & 0x1Fu;
  const uint32_t m = b & 0x3u;
  uint32_t bits;
  if (e == 0x1Fu) {
    bits = sign | 0x7F800000u | (m << 21);  // inf (m == 0) or NaN
  } else if (e != 0) {
    bits = sign | ((e + 112u) << 23) | (m << 21);  // rebias 15 -> 127
  } else if (m != 0) {
    float v = static_cast<float>(m) * 0x1p-16f;  // m/4 * 2^-14, exact
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  } else {
    bits = sign;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace segq
