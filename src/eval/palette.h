// Colour maps of class-index maps for sample previews (report.html, W&B images): a fixed 256-entry
// palette, the bit-interleaved one of PASCAL VOC's devkit, shifted by one so that class 0 is not
// black; the ignore label (255) is black.
#pragma once

#include <array>
#include <cstdint>

#include "io/image.h"

namespace segq {

// RGB of class c in [0, 255); {0, 0, 0} for kIgnoreLabel.
std::array<uint8_t, 3> class_colour(int c);

// [h, w] class indices -> [h, w, 3] RGB.
ImageU8 colourize_index_map(const uint8_t* values, int height, int width);

}  // namespace segq
