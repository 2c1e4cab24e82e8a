#include "eval/index_png.h"

#include <png.h>

#include <cstring>

#include "core/error.h"

namespace segq {

namespace {

struct PngError {
  std::string message;
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp msg) {
  auto* err = static_cast<PngError*>(png_get_error_ptr(png));
  err->message = msg ? msg : "unknown libpng error";
  png_longjmp(png, 1);
}
void on_png_warning(png_structp, png_const_charp) {}

struct ReadCursor {
  const unsigned char* data;
  size_t size;
  size_t pos;
};

void read_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* c = static_cast<ReadCursor*>(png_get_io_ptr(png));
  if (n > c->size - c->pos) png_error(png, "truncated PNG data");
  std::memcpy(out, c->data + c->pos, n);
  c->pos += n;
}

void write_bytes(png_structp png, png_bytep data, png_size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}
void flush_bytes(png_structp) {}

}  // namespace

std::string encode_index_png(const uint8_t* values, int height, int width) {
  SEGQ_CHECK(height > 0 && width > 0, "cannot encode an empty ", height, "x", width, " PNG");
  PngError err;
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, on_png_error, on_png_warning);
  SEGQ_CHECK(png != nullptr, "PNG encoder: out of memory");
  png_infop info = png_create_info_struct(png);
  std::string out;
  std::vector<png_bytep> rows(height);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw Error("PNG encoder: " + err.message);
  }
  png_set_write_fn(png, &out, write_bytes, flush_bytes);
  png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 6);
  for (int y = 0; y < height; ++y) {
    rows[y] = const_cast<png_bytep>(values + static_cast<size_t>(y) * width);
  }
  png_set_rows(png, info, rows.data());
  png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

IndexMap decode_index_png(std::string_view bytes, const std::string& what) {
  if (bytes.size() < 8 || png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8)) {
    throw Error(str_cat(what, ": not a PNG file"));
  }
  PngError err;
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, on_png_error, on_png_warning);
  SEGQ_CHECK(png != nullptr, "PNG decoder: out of memory");
  png_infop info = png_create_info_struct(png);
  // Every C++ object the decoding touches lives from before setjmp: a longjmp out of libpng must
  // not skip a destructor.
  IndexMap map;
  std::vector<uint8_t> buffer16;
  std::vector<png_bytep> rows;
  ReadCursor cursor{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 0};
  std::string problem;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw Error(str_cat(what, ": corrupt PNG: ", err.message));
  }
  png_set_read_fn(png, &cursor, read_bytes);
  png_read_info(png, info);
  const png_uint_32 w = png_get_image_width(png, info);
  const png_uint_32 h = png_get_image_height(png, info);
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  const bool gray = color == PNG_COLOR_TYPE_GRAY;
  const bool palette = color == PNG_COLOR_TYPE_PALETTE;
  if (!(gray && (depth == 8 || depth == 16)) && !palette) {
    problem = str_cat(
        "expected a single-channel class-index PNG (8/16-bit grayscale or palette), "
        "got color type ",
        color, " with bit depth ", depth);
  } else if (static_cast<uint64_t>(w) * h > (uint64_t{1} << 31)) {
    problem = str_cat("image too large (", w, "x", h, ")");
  }
  if (!problem.empty()) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw Error(str_cat(what, ": ", problem));
  }
  if (palette && depth < 8) png_set_packing(png);  // 1/2/4-bit indices -> one byte each
  if (png_get_interlace_type(png, info) != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
  png_read_update_info(png, info);
  map.height = static_cast<int>(h);
  map.width = static_cast<int>(w);
  map.values.resize(static_cast<size_t>(w) * h);
  const size_t rowbytes = png_get_rowbytes(png, info);
  rows.resize(h);
  if (depth == 16) {
    // The whole 16-bit image, then saturated (big-endian samples).
    buffer16.resize(rowbytes * h);
    for (png_uint_32 y = 0; y < h; ++y) rows[y] = buffer16.data() + y * rowbytes;
    png_read_image(png, rows.data());
    for (size_t i = 0; i < map.values.size(); ++i) {
      const unsigned v = (static_cast<unsigned>(buffer16[2 * i]) << 8) | buffer16[2 * i + 1];
      map.values[i] = static_cast<uint8_t>(v > 255 ? 255 : v);
    }
  } else {
    for (png_uint_32 y = 0; y < h; ++y) rows[y] = map.values.data() + static_cast<size_t>(y) * w;
    png_read_image(png, rows.data());
  }
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return map;
}

}  // namespace segq
