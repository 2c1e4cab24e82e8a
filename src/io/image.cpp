#include "io/image.h"

// clang-format off
#include <cstdio>   // libjpeg's headers need FILE and size_t first
#include <jpeglib.h>
#include <jerror.h>
// clang-format on
#include <png.h>
#include <zlib.h>

#include <csetjmp>
#include <cstring>

#include "core/error.h"

namespace segq {

namespace {

// Decoded images larger than this are rejected before allocating (a 16k x 16k photo fits).
constexpr uint64_t kMaxPixels = uint64_t(1) << 28;

// Writes a message and returns false for an empty or oversized image (no exception: callers are
// inside a setjmp region that must release the codec's state first).
bool dimensions_ok(uint64_t width, uint64_t height, char* message, size_t message_size) {
  if (width == 0 || height == 0) {
    std::snprintf(message, message_size, "image has zero width or height");
    return false;
  }
  if (width * height > kMaxPixels) {
    std::snprintf(message, message_size,
                  "image of %llux%llu pixels is larger than the supported maximum of %llu pixels",
                  static_cast<unsigned long long>(width), static_cast<unsigned long long>(height),
                  static_cast<unsigned long long>(kMaxPixels));
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- JPEG

// libjpeg reports fatal errors through error_exit, which must not return: we longjmp back to the
// decode function (no C++ object with a destructor lives in the frames that longjmp skips, which
// are all libjpeg's C frames).
struct JpegErrorState {
  jpeg_error_mgr mgr;  // first member: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  bool truncated;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit_longjmp(j_common_ptr cinfo) {
  auto* state = reinterpret_cast<JpegErrorState*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, state->message);
  std::longjmp(state->jump, 1);
}

// Warnings (corrupt-data notes that libjpeg recovers from) are ignored as PIL ignores them, except
// a premature end of data: PIL fails with "image file is truncated" there.
void jpeg_emit_message_quiet(j_common_ptr cinfo, int msg_level) {
  if (msg_level >= 0) return;  // trace messages
  auto* state = reinterpret_cast<JpegErrorState*>(cinfo->err);
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) state->truncated = true;
  cinfo->err->num_warnings++;
}

// Pillow's MULDIV255 (Convert.c): a * b / 255 rounded, in integers.
inline int muldiv255(int a, int b) {
  const int tmp = a * b + 128;
  return ((tmp >> 8) + tmp) >> 8;
}

inline uint8_t clip8(int v) { return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v)); }

// Returns false with state->message set on a libjpeg error. `row` and `out` live in the caller.
bool jpeg_decode_into(std::string_view bytes, JpegErrorState* state, std::vector<uint8_t>* row,
                      ImageU8* out) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&state->mgr);
  state->mgr.error_exit = jpeg_error_exit_longjmp;
  state->mgr.emit_message = jpeg_emit_message_quiet;
  state->truncated = false;
  state->message[0] = '\0';
  if (setjmp(state->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  // PIL picks the mode from the number of components and leaves every other setting at the
  // library default (JDCT_ISLOW, do_fancy_upsampling = TRUE).
  const int components = cinfo.num_components;
  if (components == 1) {
    cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (components == 3) {
    cinfo.out_color_space = JCS_RGB;
  } else if (components == 4) {
    cinfo.out_color_space = JCS_CMYK;
  } else {
    std::snprintf(state->message, sizeof state->message, "unsupported JPEG with %d components",
                  components);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  const int width = static_cast<int>(cinfo.output_width);
  const int height = static_cast<int>(cinfo.output_height);
  if (!dimensions_ok(uint64_t(width), uint64_t(height), state->message, sizeof state->message)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  *out = ImageU8(height, width, 3);
  row->resize(size_t(width) * cinfo.output_components);
  while (cinfo.output_scanline < cinfo.output_height) {
    const int y = static_cast<int>(cinfo.output_scanline);
    uint8_t* dst = out->row(y);
    JSAMPROW rows[1] = {components == 3 ? dst : row->data()};
    jpeg_read_scanlines(&cinfo, rows, 1);
    if (components == 1) {
      const uint8_t* src = row->data();
      for (int x = 0; x < width; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[x];
    } else if (components == 4) {
      // PIL reads 4-component JPEGs as inverted (Adobe) CMYK ("CMYK;I"): C = 255 - stored.
      // Then convert("RGB") = Pillow's cmyk2rgb with nk = 255 - K = stored K.
      const uint8_t* src = row->data();
      for (int x = 0; x < width; ++x) {
        const int nk = src[4 * x + 3];
        for (int c = 0; c < 3; ++c) {
          dst[3 * x + c] = clip8(nk - muldiv255(255 - src[4 * x + c], nk));
        }
      }
    }
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// ---------------------------------------------------------------- PNG

struct PngIo {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  std::string* sink = nullptr;  // for writing
  char message[256] = {0};
};

void png_error_longjmp(png_structp png, png_const_charp msg) {
  auto* io = static_cast<PngIo*>(png_get_error_ptr(png));
  std::snprintf(io->message, sizeof io->message, "%s", msg);
  png_longjmp(png, 1);
}

void png_warning_quiet(png_structp, png_const_charp) {}

void png_read_from_memory(png_structp png, png_bytep out, size_t n) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  if (n > io->size - io->pos) png_error(png, "truncated PNG data");
  std::memcpy(out, io->data + io->pos, n);
  io->pos += n;
}

void png_write_to_string(png_structp png, png_bytep data, size_t n) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  io->sink->append(reinterpret_cast<const char*>(data), n);
}

void png_flush_nothing(png_structp) {}

enum class PngTarget { Rgb, Label };

struct PngRaw {
  int width = 0;
  int height = 0;
  int color_type = 0;
  int bit_depth = 0;
  int channels = 0;  // after transforms
  std::vector<uint8_t> pixels;
  std::vector<png_color> palette;
};

// Decodes into `raw` with transforms that keep 8-bit samples: 1/2/4-bit palette indices unpacked
// to one byte (png_set_packing), 1/2/4-bit gray scaled to 0..255 as PIL's "L;2"/"L;4" do (mode
// "1" gives 0/255), 16-bit samples reduced to the high byte (PIL's ";16B" raw modes), alpha
// stripped. Returns false with io->message set on a libpng error.
bool png_decode_into(PngIo* io, PngTarget target, PngRaw* raw, std::vector<png_bytep>* rows) {
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, io, png_error_longjmp, png_warning_quiet);
  if (!png) {
    std::snprintf(io->message, sizeof io->message, "cannot create PNG reader");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(io->message, sizeof io->message, "cannot create PNG reader");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, io, png_read_from_memory);
  png_read_info(png, info);
  raw->width = static_cast<int>(png_get_image_width(png, info));
  raw->height = static_cast<int>(png_get_image_height(png, info));
  raw->color_type = png_get_color_type(png, info);
  raw->bit_depth = png_get_bit_depth(png, info);
  const int ct = raw->color_type;
  const int depth = raw->bit_depth;
  if (target == PngTarget::Label) {
    if (!(ct == PNG_COLOR_TYPE_PALETTE || (ct == PNG_COLOR_TYPE_GRAY && depth == 8))) {
      std::snprintf(io->message, sizeof io->message,
                    "a label map must be an 8-bit grayscale or palette PNG (got color type %d, "
                    "bit depth %d)",
                    ct, depth);
      png_destroy_read_struct(&png, &info, nullptr);
      return false;
    }
  } else if (ct == PNG_COLOR_TYPE_GRAY && depth == 16) {
    std::snprintf(io->message, sizeof io->message, "16-bit grayscale PNG images are not supported");
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  if (ct == PNG_COLOR_TYPE_PALETTE) {
    png_colorp palette = nullptr;
    int num_palette = 0;
    if (png_get_PLTE(png, info, &palette, &num_palette) == PNG_INFO_PLTE) {
      raw->palette.assign(palette, palette + num_palette);
    }
    png_set_packing(png);
  } else if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) {
    if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  }
  if (depth == 16) png_set_strip_16(png);
  if (ct & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  raw->channels = png_get_channels(png, info);
  if (!dimensions_ok(uint64_t(raw->width), uint64_t(raw->height), io->message,
                     sizeof io->message)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  const size_t rowbytes = png_get_rowbytes(png, info);
  if (rowbytes != size_t(raw->width) * raw->channels) {
    std::snprintf(io->message, sizeof io->message, "unexpected PNG row size");
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  raw->pixels.resize(rowbytes * raw->height);
  rows->resize(raw->height);
  for (int y = 0; y < raw->height; ++y) (*rows)[y] = raw->pixels.data() + rowbytes * y;
  png_read_image(png, rows->data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

PngRaw decode_png_raw(std::string_view bytes, PngTarget target, const std::string& name) {
  PngIo io;
  io.data = reinterpret_cast<const uint8_t*>(bytes.data());
  io.size = bytes.size();
  PngRaw raw;
  std::vector<png_bytep> rows;
  if (!png_decode_into(&io, target, &raw, &rows)) {
    throw Error(str_cat(name, ": cannot decode PNG: ", io.message));
  }
  return raw;
}

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

}  // namespace

ImageFormat detect_image_format(std::string_view bytes) {
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPng, 8) == 0) return ImageFormat::Png;
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xD8 &&
      static_cast<unsigned char>(bytes[2]) == 0xFF) {
    return ImageFormat::Jpeg;
  }
  return ImageFormat::Unknown;
}

ImageSize read_image_size(std::string_view bytes, const std::string& name) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  switch (detect_image_format(bytes)) {
    case ImageFormat::Png: {
      SEGQ_CHECK(n >= 24 && std::memcmp(p + 12, "IHDR", 4) == 0, name,
                 ": cannot decode PNG: missing IHDR chunk");
      return {static_cast<int>(read_be32(p + 20)), static_cast<int>(read_be32(p + 16))};
    }
    case ImageFormat::Jpeg: {
      // Walk the marker segments up to the first start-of-frame (SOF0..SOF15 except DHT, JPG,
      // DAC), whose payload holds precision, height, width.
      size_t pos = 2;
      while (pos + 4 <= n) {
        if (p[pos] != 0xFF) break;
        const uint8_t marker = p[pos + 1];
        if (marker == 0xFF) {  // fill byte
          ++pos;
          continue;
        }
        const size_t len = (size_t(p[pos + 2]) << 8) | p[pos + 3];
        const bool sof =
            marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (sof) {
          SEGQ_CHECK(pos + 9 <= n && len >= 7, name, ": cannot decode JPEG: truncated SOF");
          return {int((p[pos + 5] << 8) | p[pos + 6]), int((p[pos + 7] << 8) | p[pos + 8])};
        }
        if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
          pos += 2;
          continue;
        }
        if (marker == 0xD9 || marker == 0xDA) break;
        pos += 2 + len;
      }
      throw Error(str_cat(name, ": cannot decode JPEG: no frame header"));
    }
    case ImageFormat::Unknown:
      break;
  }
  throw Error(str_cat(name, ": not a JPEG or PNG file"));
}

ImageU8 decode_image_rgb(std::string_view bytes, const std::string& name) {
  switch (detect_image_format(bytes)) {
    case ImageFormat::Jpeg: {
      JpegErrorState state;
      std::vector<uint8_t> row;
      ImageU8 out;
      if (!jpeg_decode_into(bytes, &state, &row, &out)) {
        throw Error(str_cat(name, ": cannot decode JPEG: ", state.message));
      }
      SEGQ_CHECK(!state.truncated, name, ": cannot decode JPEG: image file is truncated");
      return out;
    }
    case ImageFormat::Png: {
      PngRaw raw = decode_png_raw(bytes, PngTarget::Rgb, name);
      if (raw.channels == 3) {
        ImageU8 out;
        out.height = raw.height;
        out.width = raw.width;
        out.channels = 3;
        out.pixels = std::move(raw.pixels);
        return out;
      }
      ImageU8 out(raw.height, raw.width, 3);
      const size_t n = size_t(raw.height) * raw.width;
      uint8_t* dst = out.pixels.data();
      const uint8_t* src = raw.pixels.data();
      if (raw.color_type == PNG_COLOR_TYPE_PALETTE) {
        // Indices beyond the palette read as black (Pillow pads the palette with zeros).
        for (size_t i = 0; i < n; ++i) {
          const uint8_t k = src[i];
          if (k < raw.palette.size()) {
            dst[3 * i] = raw.palette[k].red;
            dst[3 * i + 1] = raw.palette[k].green;
            dst[3 * i + 2] = raw.palette[k].blue;
          } else {
            dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = 0;
          }
        }
      } else {
        for (size_t i = 0; i < n; ++i) dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = src[i];
      }
      return out;
    }
    case ImageFormat::Unknown:
      break;
  }
  throw Error(str_cat(name, ": not a JPEG or PNG image (unrecognized file signature)"));
}

ImageU8 decode_label_map(std::string_view bytes, const std::string& name) {
  SEGQ_CHECK(detect_image_format(bytes) == ImageFormat::Png, name,
             ": a label map must be a PNG file (unrecognized file signature)");
  PngRaw raw = decode_png_raw(bytes, PngTarget::Label, name);
  ImageU8 out;
  out.height = raw.height;
  out.width = raw.width;
  out.channels = 1;
  out.pixels = std::move(raw.pixels);
  return out;
}

std::string encode_png(const ImageU8& image, int compression_level) {
  SEGQ_CHECK(image.channels == 1 || image.channels == 3, "encode_png: ", image.channels,
             " channels (expected 1 or 3)");
  SEGQ_CHECK(image.width > 0 && image.height > 0 &&
                 image.pixels.size() == size_t(image.width) * image.height * image.channels,
             "encode_png: pixel buffer does not match ", image.height, "x", image.width, "x",
             image.channels);
  std::string out;
  PngIo io;
  io.sink = &out;
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &io, png_error_longjmp, png_warning_quiet);
  SEGQ_CHECK(png, "cannot create PNG writer");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    throw Error("cannot create PNG writer");
  }
  std::vector<png_bytep> rows(image.height);
  for (int y = 0; y < image.height; ++y) rows[y] = const_cast<png_bytep>(image.row(y));
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw Error(str_cat("cannot encode PNG: ", io.message));
  }
  png_set_write_fn(png, &io, png_write_to_string, png_flush_nothing);
  png_set_compression_level(png, compression_level);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width),
               static_cast<png_uint_32>(image.height), 8,
               image.channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

namespace {

bool jpeg_encode_into(const ImageU8& image, int quality, JpegErrorState* state,
                      unsigned char** buffer, unsigned long* size) {
  jpeg_compress_struct cinfo;
  cinfo.err = jpeg_std_error(&state->mgr);
  state->mgr.error_exit = jpeg_error_exit_longjmp;
  state->mgr.emit_message = jpeg_emit_message_quiet;
  if (setjmp(state->jump)) {
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, buffer, size);
  cinfo.image_width = static_cast<JDIMENSION>(image.width);
  cinfo.image_height = static_cast<JDIMENSION>(image.height);
  cinfo.input_components = image.channels;
  cinfo.in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.optimize_coding = FALSE;
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW rows[1] = {const_cast<JSAMPROW>(image.row(static_cast<int>(cinfo.next_scanline)))};
    jpeg_write_scanlines(&cinfo, rows, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

}  // namespace

std::string encode_jpeg(const ImageU8& image, int quality) {
  SEGQ_CHECK(image.channels == 1 || image.channels == 3, "encode_jpeg: ", image.channels,
             " channels (expected 1 or 3)");
  SEGQ_CHECK(image.width > 0 && image.height > 0 && image.width <= 65500 && image.height <= 65500 &&
                 image.pixels.size() == size_t(image.width) * image.height * image.channels,
             "encode_jpeg: bad image of ", image.height, "x", image.width, "x", image.channels);
  SEGQ_CHECK(quality >= 1 && quality <= 100, "encode_jpeg: quality ", quality, " outside 1..100");
  JpegErrorState state;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const bool ok = jpeg_encode_into(image, quality, &state, &buffer, &size);
  std::string out;
  if (ok) out.assign(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  SEGQ_CHECK(ok, "cannot encode JPEG: ", state.message);
  return out;
}

std::string image_codec_versions() {
  return str_cat("libjpeg-turbo ", LIBJPEG_TURBO_VERSION_NUMBER / 1000000, ".",
                 LIBJPEG_TURBO_VERSION_NUMBER / 1000 % 1000, ".",
                 LIBJPEG_TURBO_VERSION_NUMBER % 1000, ", libpng ", png_get_libpng_ver(nullptr),
                 ", zlib ", zlibVersion());
}

}  // namespace segq
