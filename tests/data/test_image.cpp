// io/image: PNG/JPEG round trips, header parsing, and clear errors on bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "fixture_sources.h"
#include "io/file_util.h"
#include "io/image.h"

namespace segq {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Image, PngRoundTripsGrayAndRgb) {
  for (int channels : {1, 3}) {
    const ImageU8 image = test::formula_image(37, 53, channels, 4);
    const std::string png = encode_png(image);
    EXPECT_EQ(detect_image_format(png), ImageFormat::Png);
    const ImageSize size = read_image_size(png, "x.png");
    EXPECT_EQ(size.height, 37);
    EXPECT_EQ(size.width, 53);
    const ImageU8 rgb = decode_image_rgb(png, "x.png");
    ASSERT_EQ(rgb.channels, 3);
    for (size_t i = 0; i < size_t(37) * 53; ++i) {
      for (int c = 0; c < 3; ++c) {
        ASSERT_EQ(rgb.pixels[3 * i + c], image.pixels[i * channels + (channels == 3 ? c : 0)]);
      }
    }
    if (channels == 1) {
      const ImageU8 labels = decode_label_map(png, "x.png");
      EXPECT_EQ(labels.pixels, image.pixels);
    }
    EXPECT_EQ(encode_png(image), png) << "PNG encoding must be deterministic";
  }
}

TEST(Image, JpegRoundTripIsCloseAndDeterministic) {
  const ImageU8 image = test::formula_image(64, 48, 3, 1);
  const std::string jpeg = encode_jpeg(image, 95);
  EXPECT_EQ(detect_image_format(jpeg), ImageFormat::Jpeg);
  EXPECT_EQ(encode_jpeg(image, 95), jpeg);
  const ImageSize size = read_image_size(jpeg, "x.jpg");
  EXPECT_EQ(size.height, 64);
  EXPECT_EQ(size.width, 48);
  const ImageU8 back = decode_image_rgb(jpeg, "x.jpg");
  ASSERT_EQ(back.pixels.size(), image.pixels.size());
  double squared = 0;
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    const double d = double(back.pixels[i]) - image.pixels[i];
    squared += d * d;
  }
  const double psnr = 10 * std::log10(255.0 * 255.0 / (squared / double(image.pixels.size())));
  // The formula image has 4-bit noise and sharp wrap-around edges, and chroma is subsampled: about
  // 23 dB at q95. A decoder that mixes up channels, rows or colour conversion lands below 12 dB.
  EXPECT_GT(psnr, 20.0);
}

TEST(Image, TruncatedJpegIsAnErrorNamingTheFile) {
  const std::string jpeg = encode_jpeg(test::formula_image(64, 64, 3, 2), 90);
  const std::string msg =
      error_of([&] { decode_image_rgb(jpeg.substr(0, jpeg.size() / 2), "photos/cut.jpg"); });
  EXPECT_NE(msg.find("photos/cut.jpg"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(Image, CorruptJpegHeaderIsAnError) {
  std::string jpeg = encode_jpeg(test::formula_image(16, 16, 3, 2), 90);
  // Keep the SOI marker, destroy everything after it.
  for (size_t i = 4; i < 40; ++i) jpeg[i] = char(0x5A);
  const std::string msg = error_of([&] { decode_image_rgb(jpeg, "bad.jpg"); });
  EXPECT_NE(msg.find("bad.jpg: cannot decode JPEG"), std::string::npos) << msg;
}

TEST(Image, CorruptPngIsAnErrorNamingTheFile) {
  std::string png = encode_png(test::formula_image(32, 32, 3, 2));
  const std::string truncated = png.substr(0, png.size() - 30);
  std::string msg = error_of([&] { decode_image_rgb(truncated, "cut.png"); });
  EXPECT_NE(msg.find("cut.png: cannot decode PNG"), std::string::npos) << msg;
  png[40] = char(png[40] ^ 0xFF);  // inside IDAT: CRC mismatch
  msg = error_of([&] { decode_image_rgb(png, "flipped.png"); });
  EXPECT_NE(msg.find("flipped.png: cannot decode PNG"), std::string::npos) << msg;
}

TEST(Image, UnknownFormatAndWrongLabelTypesAreRejected) {
  EXPECT_NE(error_of([] { decode_image_rgb("GIF89a....", "a.gif"); }).find("a.gif: not a JPEG"),
            std::string::npos);
  EXPECT_NE(error_of([] { read_image_size("nothing", "n.bin"); }).find("n.bin"), std::string::npos);
  const std::string rgb_png = encode_png(test::formula_image(8, 8, 3, 1));
  EXPECT_NE(error_of([&] {
              decode_label_map(rgb_png, "lab.png");
            }).find("lab.png: cannot decode PNG: a label map must be an 8-bit grayscale"),
            std::string::npos);
  const std::string jpeg = encode_jpeg(test::formula_image(8, 8, 1, 1), 90);
  EXPECT_NE(error_of([&] { decode_label_map(jpeg, "lab.jpg"); })
                .find("lab.jpg: a label map must "
                      "be a PNG"),
            std::string::npos);
}

TEST(Image, EncodersRejectMalformedImages) {
  ImageU8 bad(4, 4, 2);
  EXPECT_THROW(encode_png(bad), Error);
  EXPECT_THROW(encode_jpeg(bad, 90), Error);
  ImageU8 ok(4, 4, 3);
  EXPECT_THROW(encode_jpeg(ok, 0), Error);
  ok.pixels.pop_back();
  EXPECT_THROW(encode_png(ok), Error);
}

TEST(Image, CodecVersionsAreReported) {
  const std::string v = image_codec_versions();
  EXPECT_NE(v.find("libjpeg-turbo "), std::string::npos) << v;
  EXPECT_NE(v.find("libpng "), std::string::npos) << v;
  EXPECT_NE(v.find("zlib "), std::string::npos) << v;
}

}  // namespace
}  // namespace segq
