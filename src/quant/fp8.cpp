#include "quant/fp8.h"

#include <cmath>

#include "core/error.h"
#include "core/half.h"
#include "kernels/decode_fp8.h"

namespace segq {

namespace {

// Generic binary encode with kMant mantissa bits and exponent bias kBias; returns the code of
// |x| without sign, or kOverflow when the rounded magnitude needs a larger exponent field than
// kMaxExpField (the caller maps that to NaN or infinity).
template <int kMant, int kBias, int kMaxExpField>
uint32_t encode_magnitude(float ax, uint32_t overflow_code) {
  constexpr int kMinExp = 1 - kBias;  // exponent of the smallest normal
  const uint32_t bits = f32_bits(ax);
  const int e = static_cast<int>(bits >> 23) - 127;
  if (e < kMinExp) {
    // Subnormal range (f32 subnormals land here too): multiples of 2^(kMinExp - kMant). The
    // scaling by a power of two is exact; nearbyint rounds half to even. q == 2^kMant is the
    // smallest normal, whose code is exactly q.
    const float q = std::nearbyint(std::ldexp(ax, kMant - kMinExp));
    return static_cast<uint32_t>(q);
  }
  // Normal: significand in [1, 2) scaled to [2^kMant, 2^(kMant+1)], rounded half to even.
  const float sig = f32_from_bits((bits & 0x7FFFFFu) | 0x3F800000u);
  uint32_t q = static_cast<uint32_t>(std::nearbyint(std::ldexp(sig, kMant)));
  int exp_field = e + kBias;
  if (q == (1u << (kMant + 1))) {  // rounded up to the next binade
    q >>= 1;
    ++exp_field;
  }
  if (exp_field > kMaxExpField) return overflow_code;
  return (static_cast<uint32_t>(exp_field) << kMant) | (q - (1u << kMant));
}

}  // namespace

uint8_t fp8_e4m3_from_f32(float x) {
  const uint8_t sign = (f32_bits(x) >> 24) & 0x80u;
  if (std::isnan(x)) return sign | 0x7Fu;
  const float ax = std::fabs(x);
  // Exponent field 15 is valid for mantissas 0..6; 15/7 is NaN, which is also what PyTorch
  // produces for magnitudes rounding beyond 448, so no special case is needed below 480.
  uint32_t code = std::isinf(ax) ? 0x7Fu : encode_magnitude<3, 7, 15>(ax, 0x7Fu);
  if (code > 0x7Fu) code = 0x7Fu;
  return static_cast<uint8_t>(sign | code);
}

uint8_t fp8_e5m2_from_f32(float x) {
  const uint8_t sign = (f32_bits(x) >> 24) & 0x80u;
  if (std::isnan(x)) return sign | 0x7Fu;
  const float ax = std::fabs(x);
  // Exponent field 31 is inf/NaN: magnitudes rounding beyond 57344 become +-inf (0x7C).
  uint32_t code = std::isinf(ax) ? 0x7Cu : encode_magnitude<2, 15, 30>(ax, 0x7Cu);
  if (code > 0x7Cu) code = 0x7Cu;
  return static_cast<uint8_t>(sign | code);
}

float fp8_max(WeightFormat f) {
  switch (f) {
    case WeightFormat::FP8_E4M3:
      return kFp8E4m3Max;
    case WeightFormat::FP8_E5M2:
      return kFp8E5m2Max;
    default:
      break;
  }
  throw Error(str_cat("fp8_max: ", weight_format_name(f), " is not a float8 format"));
}

uint8_t fp8_from_f32(WeightFormat f, float x) {
  return f == WeightFormat::FP8_E4M3 ? fp8_e4m3_from_f32(x) : fp8_e5m2_from_f32(x);
}

float fp8_to_f32(WeightFormat f, uint8_t code) {
  return f == WeightFormat::FP8_E4M3 ? fp8_e4m3_to_f32(code) : fp8_e5m2_to_f32(code);
}

}  // namespace segq
