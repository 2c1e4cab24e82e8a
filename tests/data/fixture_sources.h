// Test-only helpers shared by the data tests: the integer "formula" images of
// tools/make_data_fixtures.py, fixture paths, and digests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "io/file_util.h"
#include "io/image.h"

namespace segq::test {

inline std::string data_fixture_dir() {
  return std::string(SEGQ_SOURCE_DIR) + "/tests/fixtures/data";
}
inline std::string shared_data_dir() { return std::string(SEGQ_SOURCE_DIR) + "/../shared/data"; }
inline std::string ade_sample_dir() {
  return shared_data_dir() + "/ade20k-sample/ADEChallengeData2016";
}
inline bool have_ade_sample() { return std::filesystem::is_directory(ade_sample_dir()); }

// Mirrors formula_image(h, w, channels, seed) of tools/make_data_fixtures.py (uint64 arithmetic
// masked to 32 bits, exactly as the numpy code does).
inline ImageU8 formula_image(int h, int w, int channels, int seed) {
  ImageU8 image(h, w, channels);
  const uint64_t mask = 0xFFFFFFFFu;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < channels; ++c) {
        uint64_t u = (uint64_t(y) * 1315423911u + uint64_t(x) * 2654435761u +
                      uint64_t(c * 97 + seed * 7919)) &
                     mask;
        u ^= u >> 13;
        u = (u * 0x5BD1E995u) & mask;
        u ^= u >> 15;
        const uint64_t smooth =
            (uint64_t(x) * 3 + uint64_t(y) * (c + 2) + uint64_t(x) * y / 64) & 255;
        image.row(y)[x * channels + c] = static_cast<uint8_t>((smooth + (u & 15)) & 255);
      }
    }
  }
  return image;
}

inline std::string digest(const ImageU8& image) {
  return sha256_hex(image.pixels.data(), image.pixels.size());
}

}  // namespace segq::test
