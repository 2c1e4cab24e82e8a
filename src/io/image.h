// JPEG / PNG decoding and encoding of 8-bit images.
//
// Decoding reproduces what Pillow does, because the preprocessing must equal transformers'
// SegformerImageProcessor bit for bit:
// - JPEG via libjpeg-turbo with the library's default decompression settings (JDCT_ISLOW, fancy
//   upsampling), exactly as PIL uses it. A truncated stream is an error (PIL: "image file is
//   truncated"); recoverable warnings are ignored, as PIL ignores them.
// - decode_image_rgb() returns what `Image.open(f).convert("RGB")` returns: grayscale replicated
//   to three channels; Adobe CMYK (stored inverted, PIL rawmode "CMYK;I") converted with Pillow's
//   cmyk2rgb; palette expanded through the palette; alpha dropped (not composited); 16-bit RGB
//   reduced to its high byte (PIL rawmode "RGB;16B").
// - decode_label_map() returns the raw 8-bit values of a grayscale or palette PNG (the palette
//   indices, not colours), i.e. `np.array(Image.open(f))` for modes L and P.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace segq {

// An 8-bit image: pixels [height, width, channels] row-major, channels 1 (gray / label map) or 3.
struct ImageU8 {
  int height = 0;
  int width = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;

  ImageU8() = default;
  ImageU8(int h, int w, int c) : height(h), width(w), channels(c), pixels(size_t(h) * w * c) {}
  uint8_t* row(int y) { return pixels.data() + size_t(y) * width * channels; }
  const uint8_t* row(int y) const { return pixels.data() + size_t(y) * width * channels; }
};

enum class ImageFormat { Unknown, Jpeg, Png };
ImageFormat detect_image_format(std::string_view bytes);  // by magic bytes

// Width and height from the header only (cheap). Throws segq::Error naming `name`.
struct ImageSize {
  int height = 0;
  int width = 0;
};
ImageSize read_image_size(std::string_view bytes, const std::string& name);

// JPEG or PNG -> RGB (channels 3), as PIL's Image.open(...).convert("RGB"). `name` (a file path or
// "archive.zip:member") is quoted in errors. Throws segq::Error on corrupt or unsupported input.
ImageU8 decode_image_rgb(std::string_view bytes, const std::string& name);

// PNG label map (8-bit grayscale, or palette of any bit depth) -> raw values (channels 1).
// Other PNG colour types, 16-bit samples and non-PNG data are rejected naming `name`.
ImageU8 decode_label_map(std::string_view bytes, const std::string& name);

// PNG of an 8-bit gray (channels 1) or RGB (channels 3) image. zlib `compression_level` 0..9.
// The bytes are a deterministic function of the pixels for a given libpng + zlib version.
std::string encode_png(const ImageU8& image, int compression_level = 6);

// Baseline JPEG (4:2:0, ISLOW DCT, standard Huffman tables) of an RGB or gray image at `quality`
// 1..100. Deterministic for a given libjpeg-turbo version.
std::string encode_jpeg(const ImageU8& image, int quality);

// Library versions that determine encoded bytes, e.g. "libjpeg-turbo 2.1.5, libpng 1.6.39,
// zlib 1.2.13" (for documentation and for tests that pin encoded-byte digests).
std::string image_codec_versions();

}  // namespace segq
