// Pillow's Image.resize on 8-bit images (modes L and RGB), bit for bit.
//
// Reference: python-pillow src/libImaging/Resample.c (precompute_coeffs, normalize_coeffs_8bpc,
// ImagingResampleHorizontal_8bpc / Vertical_8bpc, ImagingResampleInner) and Geometry.c
// (ImagingScaleAffine, used for NEAREST through _imaging.c's resize). Checked against Pillow 11.3
// by tests/data (fixtures from tools/make_data_fixtures.py).
#pragma once

#include <cstdint>
#include <vector>

#include "io/image.h"

namespace segq {

// Values of PIL.Image.Resampling (what preprocessor_config.json's "resample" holds).
enum class PilFilter { Nearest = 0, Lanczos = 1, Bilinear = 2, Bicubic = 3, Box = 4, Hamming = 5 };
PilFilter pil_filter_from_int(int resample);  // UsageError for values outside 0..5

// Per output position: the first input index and the fixed-point weights (22 fractional bits) of
// the `count` inputs it reads. Exactly Pillow's precompute_coeffs + normalize_coeffs_8bpc for a
// box covering the whole input.
struct PilResampleCoeffs {
  int ksize = 0;                 // stride of `weights` per output position
  std::vector<int> first;        // [out_size]
  std::vector<int> count;        // [out_size], count <= ksize
  std::vector<int32_t> weights;  // [out_size, ksize]
};
PilResampleCoeffs pil_resample_coeffs(int in_size, int out_size, PilFilter filter);

// image [H, W, C] (any C >= 1) -> [out_h, out_w, C], as Image.resize((out_w, out_h), filter).
// The same size returns a copy (as Pillow does).
ImageU8 pil_resize(const ImageU8& image, int out_h, int out_w, PilFilter filter);

// Plain-loop reference of pil_resize for tests: no row skipping, one output value at a time.
ImageU8 pil_resize_ref(const ImageU8& image, int out_h, int out_w, PilFilter filter);

}  // namespace segq
