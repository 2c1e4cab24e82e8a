// How codes and scales are chosen for one group of weights (a run of consecutive inputs of one
// output row). Every quantizer only picks the group's (scale, shift); the codes are then always
// the nearest codes under those parameters as stored (rounded to the storage dtype first), so
// dequantization reproduces exactly what was evaluated.
//
// Integer grids (b bits):
//   affine:    c = clamp(nearbyint((x + shift) / scale), 0, 2^b - 1);   x^ = c * scale - shift
//   symmetric: q = clamp(nearbyint(x / scale), -2^(b-1), 2^(b-1) - 1);  x^ = q * scale
// (optimum-quanto's quantize_affine / quantize_symmetric, same operation order, half to even).
// A 0/0 quotient (a constant group) gives code 0 (affine) or level 0 (symmetric).
//
// rtn: affine scale = (max - min) / (2^b - 1), shift = -min; symmetric scale = amax / (2^(b-1) - 1)
//      (quanto's MaxOptimizer / AbsmaxOptimizer).
// mse: for p = 1 - i/100, i = 0..79, the rtn parameters of the range p*[min, max] (symmetric:
//      p*amax); keeps the p with the smallest sum |x - x^|^2.4 (GPTQ's grid search; ties keep the
//      larger p, so p = 1, which is rtn, wins unless a clip is strictly better). The shift stays a
//      float (the stored format carries one, as quanto's does) instead of GPTQ's rounded zero
//      point.
// hqq: from rtn, optimizes the shift with scale fixed (half-quadratic splitting, mobiusml/hqq as
//      adapted in optimum-quanto's HqqOptimizer): e = shrink_0.7(x - x^, beta),
//      shift' = mean(c * scale - (x - e)); accepted while mean |x - x^| improves (then
//      beta *= 1.01), stopped at the first iteration that does not improve, at most 20
//      iterations; beta0 = 10. Unlike quanto (one stopping decision per tensor), each group stops
//      on its own error, so the result is the best iterate per group. Affine formats only.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/weight_format.h"
#include "quant/method.h"

namespace segq {

struct IntGrid {
  int bits = 4;
  bool symmetric = false;
  DType scale_dtype = DType::F32;
};

struct GroupParams {
  float scale = 0.0f;  // as stored (exactly representable in the storage dtype)
  float shift = 0.0f;  // affine only; 0 for symmetric grids
};

// Rounds v to the storage dtype (F32: unchanged; F16/BF16: nearest even) and back to fp32.
float round_to_storage(float v, DType t);

// The stored code (layout of kernels/decode_layout.h: symmetric codes are biased by 2^(b-1)).
uint32_t int_encode(float x, const GroupParams& p, const IntGrid& g);
// The dequantized value of a code (the decoders compute exactly this).
float int_decode(uint32_t code, const GroupParams& p, const IntGrid& g);

// Chooses a group's parameters. x: n weights.
GroupParams choose_int_params(const float* x, int64_t n, const IntGrid& g, Quantizer q);

// float8: scale = amax / fp8_max(format) (stored rounded to `scale_dtype`); code =
// fp8(clamp(x / scale, -max, max)). A zero row (0/0) gives code 0.
float fp8_scale(const float* x, int64_t n, WeightFormat f, DType scale_dtype);
uint8_t fp8_encode_scaled(float x, float scale, WeightFormat f);

}  // namespace segq
