// Test-only helpers shared by the data tests: the integer "formula" images of
// tools/make_data_fixtures.py, fixture paths, and digests.
#pragma once

#include <unistd.h>
#include <zip.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
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

// A fresh folder under the system temp dir, removed with its contents at scope exit.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path_ =
        (std::filesystem::temp_directory_path() /
         ("segq-test-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
            .string();
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes a zip archive with the given (member name, bytes); `store` disables compression.
inline void write_zip(const std::string& path,
                      const std::vector<std::pair<std::string, std::string>>& members, bool store) {
  int err = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!za) throw Error("cannot create test zip " + path);
  for (const auto& [name, bytes] : members) {
    zip_source_t* src = zip_source_buffer(za, bytes.data(), bytes.size(), 0);
    const zip_int64_t idx = zip_file_add(za, name.c_str(), src, ZIP_FL_OVERWRITE);
    if (idx < 0) throw Error("cannot add " + name + " to test zip");
    if (store) zip_set_file_compression(za, zip_uint64_t(idx), ZIP_CM_STORE, 0);
  }
  if (zip_close(za) != 0) throw Error("cannot write test zip " + path);
}

}  // namespace segq::test
