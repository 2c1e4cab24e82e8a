// Byte layouts of the packed weight formats: the single definition shared by the packers
// (quant/pack.h) and the decoders (kernels/decode_weights.h). A weight matrix W is [rows N =
// outputs, cols K = inputs]; a Conv2d weight [O, I/groups, kh, kw] is the matrix
// [O, I/groups*kh*kw] in PyTorch's flattening order (cin, kh, kw).
//
// codes (one buffer, rows back to back, each row padded to whole bytes, pad bits zero):
//   F32 / F16 / BF16     the dense element, little-endian, row stride cols * 4 / 2 / 2 bytes
//   FP8_E4M3 / FP8_E5M2  one byte per weight (OCP e4m3fn / e5m2 bit pattern), row stride cols
//   INT8                 one byte per weight, row stride cols
//   INT4                 two codes per byte along k, low nibble first: code k of a row is
//                        (byte[k / 2] >> (4 * (k % 2))) & 0xF; row stride ceil(cols / 2)
//   INT2                 four codes per byte along k, lowest bits first: code k of a row is
//                        (byte[k / 4] >> (2 * (k % 4))) & 0x3; row stride ceil(cols / 4)
// Integer codes are unsigned b-bit values c in [0, 2^b - 1]. Symmetric formats store
// c = q + 2^(b-1) for the signed level q in [-2^(b-1), 2^(b-1) - 1] and hold no shift; affine
// formats store c = q in [0, 2^b - 1] and a float shift per group.
//
// scales / shifts: [rows, groups_per_row] row-major in F32, F16 or BF16; group g of a row covers
// cols [g * group_size, min((g + 1) * group_size, cols)) (the last group may be partial).
//
// Dequantized value (fp32 arithmetic, each step rounded on its own, never fused):
//   fp8:       decode(c) * scale
//   symmetric: float(c - 2^(b-1)) * scale
//   affine:    float(c) * scale - shift          (optimum-quanto's order: data * scale, then -
//   shift)
// where scale and shift are first converted exactly from their storage dtype to fp32.
#pragma once

#include <cstdint>

#include "kernels/weight_format.h"

namespace segq {

// Bits per stored code (dense formats: bits per element).
constexpr int weight_format_bits(WeightFormat f) {
  switch (f) {
    case WeightFormat::F32:
      return 32;
    case WeightFormat::F16:
    case WeightFormat::BF16:
      return 16;
    case WeightFormat::FP8_E4M3:
    case WeightFormat::FP8_E5M2:
    case WeightFormat::INT8:
      return 8;
    case WeightFormat::INT4:
      return 4;
    case WeightFormat::INT2:
      return 2;
  }
  return 0;
}

constexpr bool weight_format_is_int(WeightFormat f) {
  return f == WeightFormat::INT8 || f == WeightFormat::INT4 || f == WeightFormat::INT2;
}
constexpr bool weight_format_is_fp8(WeightFormat f) {
  return f == WeightFormat::FP8_E4M3 || f == WeightFormat::FP8_E5M2;
}
constexpr bool weight_format_is_dense(WeightFormat f) {
  return f == WeightFormat::F32 || f == WeightFormat::F16 || f == WeightFormat::BF16;
}
// Formats that carry per-group scales.
constexpr bool weight_format_has_scales(WeightFormat f) { return !weight_format_is_dense(f); }

// Packed (sub-byte) formats: codes per byte; 1 for byte formats.
constexpr int weight_format_codes_per_byte(WeightFormat f) {
  return weight_format_bits(f) < 8 ? 8 / weight_format_bits(f) : 1;
}

// Bytes of one stored row of `cols` weights.
constexpr int64_t weight_format_row_bytes(WeightFormat f, int64_t cols) {
  const int bits = weight_format_bits(f);
  return bits >= 8 ? cols * (bits / 8) : (cols * bits + 7) / 8;
}

// The code that means level 0 in a symmetric integer format (2^(b-1)); 0 for affine codes.
constexpr int int_code_bias(WeightFormat f, bool symmetric) {
  return symmetric && weight_format_is_int(f) ? 1 << (weight_format_bits(f) - 1) : 0;
}
constexpr int int_code_max(WeightFormat f) { return (1 << weight_format_bits(f)) - 1; }

static_assert(weight_format_row_bytes(WeightFormat::INT4, 147) == 74, "int4: 2 codes per byte");
static_assert(weight_format_row_bytes(WeightFormat::INT2, 9) == 3, "int2: 4 codes per byte");
static_assert(weight_format_row_bytes(WeightFormat::INT8, 9) == 9, "int8: 1 code per byte");
static_assert(weight_format_row_bytes(WeightFormat::FP8_E5M2, 160) == 160, "fp8: 1 per byte");
static_assert(weight_format_row_bytes(WeightFormat::BF16, 3) == 6, "bf16: 2 bytes");
static_assert(weight_format_codes_per_byte(WeightFormat::INT2) == 4, "int2 packing");
static_assert(int_code_bias(WeightFormat::INT4, true) == 8 &&
                  int_code_max(WeightFormat::INT4) == 15,
              "int4 symmetric levels -8..7 stored as 0..15");
static_assert(int_code_bias(WeightFormat::INT8, true) == 128, "int8 symmetric bias");
static_assert(int_code_bias(WeightFormat::INT2, false) == 0, "affine codes are unbiased");

}  // namespace segq
