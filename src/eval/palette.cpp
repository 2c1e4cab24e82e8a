#include "eval/palette.h"

#include "eval/counts.h"

namespace segq {

std::array<uint8_t, 3> class_colour(int c) {
  if (c == kIgnoreLabel) return {0, 0, 0};
  // VOC: bits 0, 1, 2 of the index go to the high bits of R, G, B, then bits 3, 4, 5, ...
  int index = c + 1;
  std::array<uint8_t, 3> rgb{0, 0, 0};
  for (int shift = 7; shift >= 0 && index > 0; --shift, index >>= 3) {
    for (int ch = 0; ch < 3; ++ch) {
      rgb[ch] = static_cast<uint8_t>(rgb[ch] | (((index >> ch) & 1) << shift));
    }
  }
  return rgb;
}

ImageU8 colourize_index_map(const uint8_t* values, int height, int width) {
  std::array<std::array<uint8_t, 3>, 256> lut;
  for (int c = 0; c < 256; ++c) lut[c] = class_colour(c);
  ImageU8 img(height, width, 3);
  for (int y = 0; y < height; ++y) {
    uint8_t* row = img.row(y);
    for (int x = 0; x < width; ++x) {
      const auto& rgb = lut[values[static_cast<size_t>(y) * width + x]];
      row[3 * x] = rgb[0];
      row[3 * x + 1] = rgb[1];
      row[3 * x + 2] = rgb[2];
    }
  }
  return img;
}

}  // namespace segq
