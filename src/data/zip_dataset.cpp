#include "data/zip_dataset.h"

#include <zip.h>

#include <map>
#include <mutex>
#include <set>

#include "core/error.h"
#include "data/pair_matching.h"

namespace segq {

namespace {

// Member sizes beyond this are treated as corrupt (ADE images are well under 10 MB).
constexpr uint64_t kMaxMemberBytes = uint64_t(1) << 30;

// A read-only libzip archive shared by threads: libzip allows one thread per zip_t at a time, so
// every call is made under `mu_`.
// TODO(data): switch to io/zip_archive.h (ZipArchive) once the io layer's reader is on main.
class ZipMembers {
 public:
  explicit ZipMembers(const std::string& path) : path_(path) {
    int err = 0;
    archive_ = zip_open(path.c_str(), ZIP_RDONLY, &err);
    if (!archive_) {
      zip_error_t error;
      zip_error_init_with_code(&error, err);
      const std::string msg = zip_error_strerror(&error);
      zip_error_fini(&error);
      throw Error(str_cat(path, ": cannot open zip archive: ", msg));
    }
    const zip_int64_t n = zip_get_num_entries(archive_, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
      const char* name = zip_get_name(archive_, static_cast<zip_uint64_t>(i), 0);
      if (name) index_.emplace(name, static_cast<zip_uint64_t>(i));
    }
  }
  ~ZipMembers() { zip_discard(archive_); }
  ZipMembers(const ZipMembers&) = delete;
  ZipMembers& operator=(const ZipMembers&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, zip_uint64_t>& index() const { return index_; }

  std::string read(const std::string& name) const {
    const std::string where = path_ + ":" + name;
    auto it = index_.find(name);
    if (it == index_.end()) throw Error(str_cat(where, ": no such member"));
    std::lock_guard<std::mutex> lock(mu_);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(archive_, it->second, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
      throw Error(str_cat(where, ": cannot read member header: ", zip_strerror(archive_)));
    }
    if (st.size > kMaxMemberBytes) {
      throw Error(str_cat(where, ": member of ", st.size, " bytes is implausibly large"));
    }
    zip_file_t* file = zip_fopen_index(archive_, it->second, 0);
    if (!file) throw Error(str_cat(where, ": cannot open member: ", zip_strerror(archive_)));
    std::string out(static_cast<size_t>(st.size), '\0');
    zip_uint64_t done = 0;
    std::string failure;
    while (done < st.size) {
      const zip_int64_t got = zip_fread(file, out.data() + done, st.size - done);
      if (got < 0) {
        failure = zip_file_strerror(file);
        break;
      }
      if (got == 0) {
        failure = "member data ends early";
        break;
      }
      done += static_cast<zip_uint64_t>(got);
    }
    // One more read reaches the end of the member, where libzip verifies the CRC-32.
    if (failure.empty()) {
      char extra;
      const zip_int64_t got = zip_fread(file, &extra, 1);
      if (got < 0) failure = zip_file_strerror(file);
      if (got > 0) failure = "member is longer than its recorded size";
    }
    zip_fclose(file);
    if (!failure.empty()) throw Error(str_cat(where, ": cannot read member: ", failure));
    return out;
  }

 private:
  std::string path_;
  zip_t* archive_ = nullptr;
  std::map<std::string, zip_uint64_t> index_;
  mutable std::mutex mu_;
};

class AdeZipDataset : public Dataset {
 public:
  AdeZipDataset(std::unique_ptr<ZipMembers> zip, std::string images_prefix,
                std::string labels_prefix, std::vector<Sample> samples, std::string split)
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
    return zip_->path() + ":" + images_prefix_ + samples_.at(i).image_name;
  }
  std::string label_location(size_t i) const override {
    return zip_->path() + ":" + labels_prefix_ + samples_.at(i).label_name;
  }
  // Same as the extracted folder: zip and folder inputs are interchangeable in fingerprints.
  std::string description() const override { return "ade20k:" + split_; }

 private:
  std::string read(size_t i, const std::string& member) const {
    try {
      return zip_->read(member);
    } catch (const Error& e) {
      throw BadSampleError(i, samples_.at(i).id, e.what());
    }
  }

  std::unique_ptr<ZipMembers> zip_;
  std::string images_prefix_;
  std::string labels_prefix_;
  std::vector<Sample> samples_;
  std::string split_;
};

}  // namespace

std::unique_ptr<Dataset> open_ade_zip(const std::string& zip_path, const std::string& split) {
  auto zip = std::make_unique<ZipMembers>(zip_path);
  // Find <prefix>images/<split>/<file> members; the prefix is "ADEChallengeData2016/" in the
  // original archive. macOS resource forks (__MACOSX/) are skipped.
  const std::string images_part = "images/" + split + "/";
  const std::string labels_part = "annotations/" + split + "/";
  std::set<std::string> prefixes;
  for (const auto& [name, index] : zip->index()) {
    if (name.rfind("__MACOSX/", 0) == 0) continue;
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
  for (const auto& [name, index] : zip->index()) {
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
