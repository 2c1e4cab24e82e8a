// float32 -> float8 encoding, round to nearest even (subnormals included), with PyTorch's
// overflow behaviour for inputs beyond the format: e4m3fn gives NaN (0x7F | sign) once the
// rounded magnitude exceeds 448 (|x| > 464), e5m2 gives +-inf (0x7C | sign) from 61440 on, NaN
// stays NaN. Quantization never relies on that: it clamps to +-max first, as optimum-quanto does.
// Decoding: kernels/decode_fp8.h.
#pragma once

#include <cstdint>

#include "kernels/weight_format.h"

namespace segq {

uint8_t fp8_e4m3_from_f32(float x);
uint8_t fp8_e5m2_from_f32(float x);

// Largest finite value of an fp8 format (448 or 57344).
float fp8_max(WeightFormat f);
uint8_t fp8_from_f32(WeightFormat f, float x);
float fp8_to_f32(WeightFormat f, uint8_t code);

}  // namespace segq
