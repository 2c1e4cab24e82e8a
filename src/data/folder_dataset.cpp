#include "data/folder_dataset.h"

#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "data/pair_matching.h"
#include "io/file_util.h"

namespace segq {

namespace fs = std::filesystem;

namespace {

class FolderPairDataset : public Dataset {
 public:
  FolderPairDataset(std::string images_dir, std::string labels_dir, std::vector<Sample> samples,
                    std::string description)
      : images_dir_(std::move(images_dir)),
        labels_dir_(std::move(labels_dir)),
        samples_(std::move(samples)),
        description_(std::move(description)) {}

  const std::vector<Sample>& samples() const override { return samples_; }
  std::string read_image_bytes(size_t i) const override { return read(i, image_location(i)); }
  std::string read_label_bytes(size_t i) const override { return read(i, label_location(i)); }
  std::string image_location(size_t i) const override {
    return images_dir_ + "/" + samples_.at(i).image_name;
  }
  std::string label_location(size_t i) const override {
    return labels_dir_ + "/" + samples_.at(i).label_name;
  }
  std::string description() const override { return description_; }

 private:
  std::string read(size_t i, const std::string& path) const {
    try {
      return read_file(path);
    } catch (const Error& e) {
      throw BadSampleError(i, samples_.at(i).id, e.what());
    }
  }

  std::string images_dir_;
  std::string labels_dir_;
  std::vector<Sample> samples_;
  std::string description_;
};

// File names (not paths) of the regular files in `dir` accepted by `keep`.
std::vector<std::string> list_files(const std::string& dir, bool (*keep)(const std::string&)) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw UsageError(str_cat(dir, ": cannot list folder: ", ec.message()));
  for (const fs::directory_entry& entry : it) {
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec)) continue;
    std::string name = entry.path().filename().string();
    if (keep(name)) names.push_back(std::move(name));
  }
  return names;
}

void require_folder(const std::string& dir, const std::string& what) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw UsageError(str_cat(dir, ": ", what, " folder does not exist",
                             fs::exists(dir, ec) ? " (it is not a folder)" : ""));
  }
}

std::string clean(const std::string& path) {
  std::string p = fs::path(path).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::unique_ptr<Dataset> open_pair(const std::string& images_dir, const std::string& labels_dir,
                                   const std::string& description) {
  const std::vector<std::string> images = list_files(images_dir, is_image_file_name);
  if (images.empty()) {
    throw UsageError(str_cat(images_dir, ": no images (*.jpg, *.jpeg, *.png) in this folder"));
  }
  const std::vector<std::string> labels = list_files(labels_dir, is_label_file_name);
  if (labels.empty()) {
    throw UsageError(str_cat(labels_dir, ": no label maps (*.png) in this folder"));
  }
  std::vector<Sample> samples = match_pairs_by_stem(images, labels, images_dir, labels_dir);
  return std::make_unique<FolderPairDataset>(images_dir, labels_dir, std::move(samples),
                                             description);
}

}  // namespace

std::unique_ptr<Dataset> open_ade_folder(const std::string& root_in, const std::string& split) {
  const std::string root = clean(root_in);
  const std::string images_dir = root + "/images/" + split;
  const std::string labels_dir = root + "/annotations/" + split;
  require_folder(images_dir, str_cat("split \"", split, "\" image"));
  require_folder(labels_dir, str_cat("split \"", split, "\" annotation"));
  return open_pair(images_dir, labels_dir, "ade20k:" + split);
}

std::unique_ptr<Dataset> open_folder_pair(const std::string& images_in,
                                          const std::string& labels_in) {
  const std::string images_dir = clean(images_in);
  const std::string labels_dir = clean(labels_in);
  require_folder(images_dir, "--images");
  require_folder(labels_dir, "--labels");
  // Folder names only, so the same data mounted elsewhere has the same fingerprint.
  const std::string description = str_cat("folders:", fs::path(images_dir).filename().string(), "|",
                                          fs::path(labels_dir).filename().string());
  return open_pair(images_dir, labels_dir, description);
}

}  // namespace segq
