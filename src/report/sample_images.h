// Sample images of a run embedded as data: URIs. Class-index maps (8-bit grayscale PNG: ground
// truth or predictions as `segq eval` saves them) are coloured with a fixed per-class palette and,
// when the sample's image has the same size, blended over it (50 %); ignored pixels (255) show the
// image. Colour PNGs and JPEGs are embedded unchanged.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace segq::report {

struct EmbeddedImage {
  std::string data_uri;  // "" when the file could not be used
  std::string problem;   // why not ("missing", a decode error), for the report
};

// `rel_path` and `base_image_rel_path` are relative to `run_dir`; the base may be "".
EmbeddedImage embed_sample_image(const std::string& run_dir, const std::string& rel_path,
                                 const std::string& base_image_rel_path);

// RGB of class `id` (0..254); 255 (ignore) is black. Distinct for ids 0..254.
std::array<uint8_t, 3> class_colour(int id);

}  // namespace segq::report
