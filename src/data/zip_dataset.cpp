#include "data/zip_dataset.h"

#include <set>

#include "core/error.h"
#include "data/pair_matching.h"
#include "io/zip_archive.h"

namespace segq {

namespace {

// Member sizes beyond this are treated as corrupt (ADE images are well under 10 MB).
constexpr uint64_t kMaxMemberBytes = uint64_t(1) << 30;

class AdeZipDataset : public Dataset {
 public:
  AdeZipDataset(ZipArchive zip, std::string images_prefix, std::string labels_prefix,
                std::vector<Sample> samples, std::string split)
      : zip_(std::move(zip)),
        images_prefix_(std::move(images_prefix)),
        labels_prefix_(std::move(labels_prefix)),
        samples_(std::move(samples)),
        split_(std::move(split)) {}

  const std::vector<Sample>& samples() const override { return samples_; }
  std::string read_image_bytes(size_t i) const override {
    return read(i, images_prefix_ + samples_.at(i).image_name);
  }
  std::string read_label_bytes(size_t i) const override {
    return read(i, labels_prefix_ + samples_.at(i).label_name);
  }
  std::string image_location(size_t i) const override {
    return zip_.path() + ":" + images_prefix_ + samples_.at(i).image_name;
  }
  std::string label_location(size_t i) const override {
    return zip_.path() + ":" + labels_prefix_ + samples_.at(i).label_name;
  }
  // Same as the extracted folder: zip and folder inputs are interchangeable in fingerprints.
  std::string description() const override { return "ade20k:" + split_; }

 private:
  std::string read(size_t i, const std::string& member) const {
    try {
      // ZipArchive serializes libzip calls per archive and verifies size and CRC-32.
      return zip_.read(member, kMaxMemberBytes);
    } catch (const Error& e) {
      throw BadSampleError(i, samples_.at(i).id, e.what());
    }
  }

  ZipArchive zip_;
  std::string images_prefix_;
  std::string labels_prefix_;
  std::vector<Sample> samples_;
  std::string split_;
};

}  // namespace

std::unique_ptr<Dataset> open_ade_zip(const std::string& zip_path, const std::string& split) {
  ZipArchive zip = ZipArchive::open(zip_path);
  // Find <prefix>images/<split>/<file> members; the prefix is "ADEChallengeData2016/" in the
  // original archive. macOS resource forks (__MACOSX/) are skipped.
  const std::string images_part = "images/" + split + "/";
  const std::string labels_part = "annotations/" + split + "/";
  std::set<std::string> prefixes;
  for (const ZipEntry& entry : zip.entries()) {
    const std::string& name = entry.name;
    if (entry.is_directory() || name.rfind("__MACOSX/", 0) == 0) continue;
    const size_t at = name.find(images_part);
    if (at == std::string::npos || (at > 0 && name[at - 1] != '/')) continue;
    const std::string rest = name.substr(at + images_part.size());
    if (rest.empty() || rest.find('/') != std::string::npos) continue;
    if (is_image_file_name(rest)) prefixes.insert(name.substr(0, at));
  }
  if (prefixes.empty()) {
    throw UsageError(str_cat(zip_path, ": no images in ADEChallengeData2016/", images_part,
                             " (split \"", split, "\") in this archive"));
  }
  if (prefixes.size() > 1) {
    std::string list;
    for (const std::string& p : prefixes) list += str_cat(" \"", p, "\"");
    throw UsageError(str_cat(zip_path, ": images/", split, "/ occurs under several folders:", list,
                             "; expected one ADEChallengeData2016/ tree"));
  }
  const std::string prefix = *prefixes.begin();
  const std::string images_prefix = prefix + images_part;
  const std::string labels_prefix = prefix + labels_part;
  std::vector<std::string> images, labels;
  for (const ZipEntry& entry : zip.entries()) {
    const std::string& name = entry.name;
    if (name.rfind(images_prefix, 0) == 0) {
      const std::string rest = name.substr(images_prefix.size());
      if (rest.find('/') == std::string::npos && is_image_file_name(rest)) images.push_back(rest);
    } else if (name.rfind(labels_prefix, 0) == 0) {
      const std::string rest = name.substr(labels_prefix.size());
      if (rest.find('/') == std::string::npos && is_label_file_name(rest)) labels.push_back(rest);
    }
  }
  if (labels.empty()) {
    throw UsageError(str_cat(zip_path, ": no label maps in ", labels_prefix, " (split \"", split,
                             "\") in this archive"));
  }
  std::vector<Sample> samples = match_pairs_by_stem(
      images, labels, zip_path + ":" + images_prefix.substr(0, images_prefix.size() - 1),
      zip_path + ":" + labels_prefix.substr(0, labels_prefix.size() - 1));
  return std::make_unique<AdeZipDataset>(std::move(zip), images_prefix, labels_prefix,
                                         std::move(samples), split);
}

}  // namespace segq
