#include "data/dataset.h"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "data/folder_dataset.h"
#include "data/zip_dataset.h"

namespace segq {

namespace fs = std::filesystem;

namespace {

constexpr const char* kAdeFolder = "ADEChallengeData2016";

bool looks_like_zip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {0, 0, 0, 0};
  in.read(magic, 4);
  return in.gcount() == 4 && magic[0] == 'P' && magic[1] == 'K' &&
         (magic[2] == 3 || magic[2] == 5) && (magic[3] == 4 || magic[3] == 6);
}

bool is_ade_root(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p / "images", ec) && fs::is_directory(p / "annotations", ec);
}

}  // namespace

std::unique_ptr<Dataset> open_dataset(const DatasetOptions& options) {
  const bool pair = !options.images_dir.empty() || !options.labels_dir.empty();
  if (pair) {
    if (options.images_dir.empty() || options.labels_dir.empty()) {
      throw UsageError("--images and --labels must be given together");
    }
    if (!options.data.empty()) {
      throw UsageError("give either --data or --images/--labels, not both");
    }
    return open_folder_pair(options.images_dir, options.labels_dir);
  }
  if (options.data.empty()) {
    throw UsageError(
        "no dataset: give --data (ADEChallengeData2016 folder, its parent, or "
        "ADEChallengeData2016.zip) or --images DIR --labels DIR");
  }
  if (options.split.empty() || options.split.find('/') != std::string::npos) {
    throw UsageError(
        str_cat("--split \"", options.split, "\" is not a split name (validation or training)"));
  }
  const fs::path data(options.data);
  std::error_code ec;
  if (!fs::exists(data, ec)) {
    throw UsageError(str_cat(options.data, ": no such file or folder (--data)"));
  }
  if (fs::is_regular_file(data, ec)) {
    if (!looks_like_zip(options.data)) {
      throw UsageError(str_cat(options.data,
                               ": not a zip archive nor a folder (--data expects "
                               "ADEChallengeData2016.zip or the extracted folder)"));
    }
    return open_ade_zip(options.data, options.split);
  }
  if (is_ade_root(data)) return open_ade_folder(options.data, options.split);
  if (is_ade_root(data / kAdeFolder)) {
    return open_ade_folder((data / kAdeFolder).string(), options.split);
  }
  const fs::path zip = data / (std::string(kAdeFolder) + ".zip");
  if (fs::is_regular_file(zip, ec)) return open_ade_zip(zip.string(), options.split);
  throw UsageError(str_cat(options.data, ": not an ", kAdeFolder,
                           " folder (expected images/<split> and annotations/<split> in it), "
                           "nor a folder holding ",
                           kAdeFolder, "/ or ", kAdeFolder, ".zip"));
}

}  // namespace segq
