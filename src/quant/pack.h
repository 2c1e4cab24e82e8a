// Packing unsigned integer codes into the row layout of kernels/decode_layout.h (INT4: two per
// byte, low nibble first; INT2: four per byte, lowest bits first; byte formats: one per byte).
#pragma once

#include <cstdint>

#include "kernels/decode_layout.h"

namespace segq {

// dst receives weight_format_row_bytes(f, cols) bytes; codes[k] < 2^bits. Pad bits are zero.
void pack_codes_row(WeightFormat f, const uint8_t* codes, int64_t cols, uint8_t* dst);
// Code k of a packed row.
inline uint32_t unpack_code(WeightFormat f, const uint8_t* row, int64_t k) {
  const int bits = weight_format_bits(f);
  if (bits >= 8) return row[k];
  const int per_byte = 8 / bits;
  return (row[k / per_byte] >> (bits * (k % per_byte))) & ((1u << bits) - 1u);
}

}  // namespace segq
