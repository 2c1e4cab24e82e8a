#include "quant/pack.h"

#include <cstring>

namespace segq {

void pack_codes_row(WeightFormat f, const uint8_t* codes, int64_t cols, uint8_t* dst) {
  const int bits = weight_format_bits(f);
  if (bits == 8) {
    std::memcpy(dst, codes, static_cast<size_t>(cols));
    return;
  }
  const int per_byte = 8 / bits;
  const int64_t nbytes = weight_format_row_bytes(f, cols);
  std::memset(dst, 0, static_cast<size_t>(nbytes));
  for (int64_t k = 0; k < cols; ++k) {
    dst[k / per_byte] |= static_cast<uint8_t>(codes[k] << (bits * (k % per_byte)));
  }
}

}  // namespace segq
