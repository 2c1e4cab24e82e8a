#include "report/sample_images.h"

#include <filesystem>

#include "core/error.h"
#include "io/file_util.h"
#include "io/image.h"
#include "report/html_util.h"

namespace segq::report {

namespace fs = std::filesystem;

namespace {

// PNG header: 8-byte signature, IHDR length + type, width, height, bit depth (byte 24), colour
// type (byte 25; 0 = grayscale).
bool is_gray8_png(const std::string& bytes) {
  return detect_image_format(bytes) == ImageFormat::Png && bytes.size() > 25 &&
         static_cast<uint8_t>(bytes[24]) == 8 && static_cast<uint8_t>(bytes[25]) == 0;
}

}  // namespace

std::array<uint8_t, 3> class_colour(int id) {
  if (id == 255) return {0, 0, 0};
  // Bits of id + 1 spread over the high bits of the three channels (the PASCAL VOC colour-map
  // construction), so neighbouring ids differ strongly and no id maps to black.
  const int v = id + 1;
  std::array<int, 3> c = {0, 0, 0};
  for (int bit = 0; bit < 8; ++bit) {
    for (int ch = 0; ch < 3; ++ch) c[ch] |= ((v >> (3 * bit + ch)) & 1) << (7 - bit);
  }
  return {static_cast<uint8_t>(c[0]), static_cast<uint8_t>(c[1]), static_cast<uint8_t>(c[2])};
}

EmbeddedImage embed_sample_image(const std::string& run_dir, const std::string& rel_path,
                                 const std::string& base_image_rel_path) {
  if (rel_path.empty()) return {"", "not recorded"};
  const std::string path = (fs::path(run_dir) / rel_path).string();
  if (!fs::is_regular_file(path)) return {"", "missing: " + rel_path};
  try {
    const std::string bytes = read_file(path);
    const ImageFormat format = detect_image_format(bytes);
    if (format == ImageFormat::Jpeg) return {"data:image/jpeg;base64," + base64_encode(bytes), ""};
    if (format != ImageFormat::Png) return {"", "not a PNG or JPEG: " + rel_path};
    if (!is_gray8_png(bytes)) return {"data:image/png;base64," + base64_encode(bytes), ""};

    const ImageU8 labels = decode_label_map(bytes, path);
    ImageU8 base;
    if (!base_image_rel_path.empty()) {
      const std::string base_path = (fs::path(run_dir) / base_image_rel_path).string();
      if (fs::is_regular_file(base_path)) {
        base = decode_image_rgb(read_file(base_path), base_path);
        if (base.height != labels.height || base.width != labels.width) base = ImageU8();
      }
    }
    ImageU8 rgb(labels.height, labels.width, 3);
    for (size_t i = 0; i < labels.pixels.size(); ++i) {
      const int id = labels.pixels[i];
      const std::array<uint8_t, 3> c = class_colour(id);
      for (int ch = 0; ch < 3; ++ch) {
        uint8_t v = c[ch];
        if (!base.pixels.empty()) {
          const uint8_t under = base.pixels[3 * i + ch];
          v = id == 255 ? under : static_cast<uint8_t>((c[ch] + under + 1) / 2);
        }
        rgb.pixels[3 * i + ch] = v;
      }
    }
    return {"data:image/png;base64," + base64_encode(encode_png(rgb)), ""};
  } catch (const Error& e) {
    return {"", str_cat("unreadable: ", e.what())};
  }
}

}  // namespace segq::report
