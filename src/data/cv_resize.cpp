#include "data/cv_resize.h"

#include <cmath>
#include <vector>

#include "core/error.h"

namespace segq {

namespace {

constexpr int kCoefBits = 11;  // INTER_RESIZE_COEF_BITS
constexpr int kCoefScale = 1 << kCoefBits;

struct LinearTaps {
  std::vector<int> index0;  // first source index (the second is min(index0 + 1, in - 1))
  std::vector<int16_t> weight0;
  std::vector<int16_t> weight1;
};

// OpenCV computes fx in float, floors it, and at the borders resets (sx, fx) to the edge pixel
// with weight 1 (horizontal pass); the vertical pass instead clamps the row indices. Both give
// the same value for 8-bit input, so one table serves both directions.
LinearTaps linear_taps(int in_size, int out_size) {
  const double scale = 1.0 / (double(out_size) / in_size);
  LinearTaps t;
  t.index0.resize(out_size);
  t.weight0.resize(out_size);
  t.weight1.resize(out_size);
  for (int d = 0; d < out_size; ++d) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    if (s < 0) {
      f = 0.f;
      s = 0;
    }
    if (s >= in_size - 1) {
      f = 0.f;
      s = in_size - 1;
    }
    t.index0[d] = s;
    t.weight0[d] = static_cast<int16_t>(std::nearbyint((1.f - f) * kCoefScale));
    t.weight1[d] = static_cast<int16_t>(std::nearbyint(f * kCoefScale));
  }
  return t;
}

}  // namespace

ImageU8 cv_resize_linear(const ImageU8& image, int out_h, int out_w) {
  SEGQ_CHECK(image.height > 0 && image.width > 0 && image.channels > 0 &&
                 image.pixels.size() == size_t(image.height) * image.width * image.channels,
             "cv_resize_linear: malformed input image");
  SEGQ_CHECK(out_h > 0 && out_w > 0, "cv_resize_linear: output size must be positive");
  const int c = image.channels;
  const LinearTaps tx = linear_taps(image.width, out_w);
  const LinearTaps ty = linear_taps(image.height, out_h);
  // Horizontal pass into int rows (values up to 255 * 2^11). Source rows are visited in
  // non-decreasing order, so two cached rows suffice.
  const size_t row_values = size_t(out_w) * c;
  std::vector<int32_t> cache[2] = {std::vector<int32_t>(row_values),
                                   std::vector<int32_t>(row_values)};
  int cached_row[2] = {-1, -1};
  auto hrow = [&](int y) -> const int32_t* {
    for (int slot = 0; slot < 2; ++slot) {
      if (cached_row[slot] == y) return cache[slot].data();
    }
    // Evict the lower row: callers ask for (s0, s0 + 1) with s0 non-decreasing, so it is never
    // needed again.
    const int slot = cached_row[0] <= cached_row[1] ? 0 : 1;
    int32_t* dst = cache[slot].data();
    const uint8_t* src = image.row(y);
    for (int x = 0; x < out_w; ++x) {
      const int s0 = tx.index0[x];
      const int s1 = s0 + 1 < image.width ? s0 + 1 : s0;
      for (int ch = 0; ch < c; ++ch) {
        dst[x * c + ch] = src[s0 * c + ch] * tx.weight0[x] + src[s1 * c + ch] * tx.weight1[x];
      }
    }
    cached_row[slot] = y;
    return dst;
  };
  ImageU8 out(out_h, out_w, c);
  constexpr int kShift = 2 * kCoefBits;
  for (int y = 0; y < out_h; ++y) {
    const int s0 = ty.index0[y];
    const int s1 = s0 + 1 < image.height ? s0 + 1 : s0;
    const int32_t* r0 = hrow(s0);
    const int32_t* r1 = hrow(s1);
    const int32_t b0 = ty.weight0[y], b1 = ty.weight1[y];
    uint8_t* dst = out.row(y);
    for (size_t i = 0; i < row_values; ++i) {
      const int32_t v = (r0[i] * b0 + r1[i] * b1 + (1 << (kShift - 1))) >> kShift;
      dst[i] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
    }
  }
  return out;
}

}  // namespace segq
