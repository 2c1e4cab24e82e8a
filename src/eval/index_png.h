// Class-index maps as PNG: what `segq eval --save-preds` writes and `segq score` reads (and the
// format of ADE20K annotations). One 8-bit channel whose values are class indices; no colour
// conversion ever happens (a palette PNG yields its indices, not its colours).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace segq {

struct IndexMap {
  int height = 0;
  int width = 0;
  std::vector<uint8_t> values;  // [height * width], row-major
};

// 8-bit grayscale PNG bytes of `values` [height, width].
std::string encode_index_png(const uint8_t* values, int height, int width);
// Accepts 8-bit grayscale, 8-bit (or smaller) palette indices, and 16-bit grayscale (values above
// 255 become 255, which no model's class index reaches). Throws segq::Error naming `what` (the
// file) on anything else or on corrupt data.
IndexMap decode_index_png(std::string_view bytes, const std::string& what);

}  // namespace segq
