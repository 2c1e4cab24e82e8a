#include "data/pil_resize.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace segq {

namespace {

// PRECISION_BITS in Resample.c: 32 - 8 (result) - 2 (headroom for negative lobes).
constexpr int kPrecisionBits = 22;

struct Filter {
  double (*fn)(double);
  double support;
};

double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_filter(double x) {
  if (x < 0.0) x = -x;
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * M_PI;
  // (0.54f + 0.46f * cos(x)): Pillow writes float literals; the sum is done in double.
  return std::sin(x) / x * (double(0.54f) + double(0.46f) * std::cos(x));
}

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc_filter(double x) {
  if (x == 0.0) return 1.0;
  x = x * M_PI;
  return std::sin(x) / x;
}

double lanczos_filter(double x) {
  if (-3.0 <= x && x < 3.0) return sinc_filter(x) * sinc_filter(x / 3);
  return 0.0;
}

Filter filter_for(PilFilter f) {
  switch (f) {
    case PilFilter::Box:
      return {box_filter, 0.5};
    case PilFilter::Bilinear:
      return {bilinear_filter, 1.0};
    case PilFilter::Hamming:
      return {hamming_filter, 1.0};
    case PilFilter::Bicubic:
      return {bicubic_filter, 2.0};
    case PilFilter::Lanczos:
      return {lanczos_filter, 3.0};
    case PilFilter::Nearest:
      break;
  }
  throw Error("pil_resample_coeffs: NEAREST has no convolution filter");
}

// clip8 of Resample.c: arithmetic shift, then clamp (its lookup table covers -640..639, a superset
// of what a 32-bit accumulator can reach).
inline uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Geometry.c's ImagingScaleAffine: source coordinate accumulated in double from a * 0.5 in steps
// of a = in / out, truncated (COORD); out-of-range positions are filled with 0.
std::vector<int> nearest_table(int in_size, int out_size) {
  const double a = double(float(in_size)) / out_size;
  std::vector<int> table(out_size);
  double pos = a * 0.5;
  for (int i = 0; i < out_size; ++i) {
    const int src = pos < 0.0 ? -1 : static_cast<int>(pos);
    table[i] = (src >= 0 && src < in_size) ? src : -1;
    pos += a;
  }
  return table;
}

ImageU8 nearest_resize(const ImageU8& image, int out_h, int out_w) {
  const int c = image.channels;
  const std::vector<int> xs = nearest_table(image.width, out_w);
  const std::vector<int> ys = nearest_table(image.height, out_h);
  ImageU8 out(out_h, out_w, c);  // zero-filled: Pillow's fill for unmapped positions
  for (int y = 0; y < out_h; ++y) {
    if (ys[y] < 0) continue;
    const uint8_t* src = image.row(ys[y]);
    uint8_t* dst = out.row(y);
    for (int x = 0; x < out_w; ++x) {
      if (xs[x] < 0) continue;
      for (int k = 0; k < c; ++k) dst[x * c + k] = src[xs[x] * c + k];
    }
  }
  return out;
}

void check_args(const ImageU8& image, int out_h, int out_w) {
  SEGQ_CHECK(image.height > 0 && image.width > 0 && image.channels > 0 &&
                 image.pixels.size() == size_t(image.height) * image.width * image.channels,
             "pil_resize: malformed input image");
  SEGQ_CHECK(out_h > 0 && out_w > 0, "pil_resize: output size ", out_h, "x", out_w,
             " must be positive");
}

}  // namespace

PilFilter pil_filter_from_int(int resample) {
  if (resample < 0 || resample > 5) {
    throw UsageError(str_cat("resample = ", resample,
                             " is not a PIL resampling filter (0 NEAREST, 1 LANCZOS, 2 BILINEAR, "
                             "3 BICUBIC, 4 BOX, 5 HAMMING)"));
  }
  return static_cast<PilFilter>(resample);
}

PilResampleCoeffs pil_resample_coeffs(int in_size, int out_size, PilFilter filter) {
  const Filter f = filter_for(filter);
  // The box is (0, in_size) as floats; in1 - in0 is exact below 2^24.
  const double scale = double(float(in_size) - 0.0f) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = f.support * filterscale;
  PilResampleCoeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(size_t(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = 0.0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = f.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) k[x] /= ww;
    }
    int32_t* out = c.weights.data() + size_t(xx) * c.ksize;
    for (int x = 0; x < xmax; ++x) {
      // normalize_coeffs_8bpc: round half away from zero via a cast of (k * 2^22 +- 0.5).
      out[x] = k[x] < 0 ? static_cast<int32_t>(-0.5 + k[x] * (1 << kPrecisionBits))
                        : static_cast<int32_t>(0.5 + k[x] * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

ImageU8 pil_resize(const ImageU8& image, int out_h, int out_w, PilFilter filter) {
  check_args(image, out_h, out_w);
  if (out_h == image.height && out_w == image.width) return image;
  if (filter == PilFilter::Nearest) return nearest_resize(image, out_h, out_w);
  const int c = image.channels;
  const bool need_horizontal = out_w != image.width;
  const bool need_vertical = out_h != image.height;
  const PilResampleCoeffs vert = pil_resample_coeffs(image.height, out_h, filter);
  // Rows of the input that the vertical pass reads; the horizontal pass computes only those.
  const int row_first = vert.first[0];
  const int row_last = vert.first[out_h - 1] + vert.count[out_h - 1];

  ImageU8 temp;
  const ImageU8* src = &image;
  int row_offset = 0;  // index of src's row 0 in the input
  if (need_horizontal) {
    const PilResampleCoeffs hor = pil_resample_coeffs(image.width, out_w, filter);
    temp = ImageU8(row_last - row_first, out_w, c);
    std::vector<int32_t> acc(c);
    for (int y = row_first; y < row_last; ++y) {
      const uint8_t* in = image.row(y);
      uint8_t* out = temp.row(y - row_first);
      for (int xx = 0; xx < out_w; ++xx) {
        const int32_t* k = hor.weights.data() + size_t(xx) * hor.ksize;
        const uint8_t* px = in + size_t(hor.first[xx]) * c;
        const int n = hor.count[xx];
        if (c == 3) {
          int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
          for (int x = 0; x < n; ++x) {
            s0 += px[3 * x] * k[x];
            s1 += px[3 * x + 1] * k[x];
            s2 += px[3 * x + 2] * k[x];
          }
          out[3 * xx] = clip8(s0);
          out[3 * xx + 1] = clip8(s1);
          out[3 * xx + 2] = clip8(s2);
        } else {
          std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
          for (int x = 0; x < n; ++x) {
            for (int ch = 0; ch < c; ++ch) acc[ch] += px[x * c + ch] * k[x];
          }
          for (int ch = 0; ch < c; ++ch) out[xx * c + ch] = clip8(acc[ch]);
        }
      }
    }
    src = &temp;
    row_offset = row_first;
  }
  if (!need_vertical) return temp;

  ImageU8 out(out_h, src->width, c);
  const size_t row_values = size_t(src->width) * c;
  std::vector<int32_t> acc(row_values);
  for (int yy = 0; yy < out_h; ++yy) {
    const int32_t* k = vert.weights.data() + size_t(yy) * vert.ksize;
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < vert.count[yy]; ++y) {
      const uint8_t* in = src->row(vert.first[yy] + y - row_offset);
      const int32_t w = k[y];
      int32_t* a = acc.data();
      for (size_t i = 0; i < row_values; ++i) a[i] += in[i] * w;
    }
    uint8_t* dst = out.row(yy);
    for (size_t i = 0; i < row_values; ++i) dst[i] = clip8(acc[i]);
  }
  return out;
}

ImageU8 pil_resize_ref(const ImageU8& image, int out_h, int out_w, PilFilter filter) {
  check_args(image, out_h, out_w);
  if (out_h == image.height && out_w == image.width) return image;
  const int c = image.channels;
  if (filter == PilFilter::Nearest) {
    // Same accumulation as Pillow, written per pixel.
    ImageU8 out(out_h, out_w, c);
    const double ax = double(image.width) / out_w, ay = double(image.height) / out_h;
    double py = ay * 0.5;
    for (int y = 0; y < out_h; ++y, py += ay) {
      double px = ax * 0.5;
      for (int x = 0; x < out_w; ++x, px += ax) {
        const int sx = static_cast<int>(px), sy = static_cast<int>(py);
        for (int ch = 0; ch < c; ++ch) {
          out.row(y)[x * c + ch] =
              (sx < image.width && sy < image.height) ? image.row(sy)[sx * c + ch] : 0;
        }
      }
    }
    return out;
  }
  ImageU8 mid = image;
  if (out_w != image.width) {
    const PilResampleCoeffs h = pil_resample_coeffs(image.width, out_w, filter);
    mid = ImageU8(image.height, out_w, c);
    for (int y = 0; y < image.height; ++y) {
      for (int x = 0; x < out_w; ++x) {
        for (int ch = 0; ch < c; ++ch) {
          int32_t s = 1 << (kPrecisionBits - 1);
          for (int j = 0; j < h.count[x]; ++j) {
            s += image.row(y)[(h.first[x] + j) * c + ch] * h.weights[size_t(x) * h.ksize + j];
          }
          mid.row(y)[x * c + ch] = clip8(s);
        }
      }
    }
  }
  if (out_h == image.height) return mid;
  const PilResampleCoeffs v = pil_resample_coeffs(image.height, out_h, filter);
  ImageU8 out(out_h, mid.width, c);
  for (int y = 0; y < out_h; ++y) {
    for (int i = 0; i < mid.width * c; ++i) {
      int32_t s = 1 << (kPrecisionBits - 1);
      for (int j = 0; j < v.count[y]; ++j) {
        s += mid.row(v.first[y] + j)[i] * v.weights[size_t(y) * v.ksize + j];
      }
      out.row(y)[i] = clip8(s);
    }
  }
  return out;
}

}  // namespace segq
