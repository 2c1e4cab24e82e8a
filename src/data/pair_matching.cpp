#include "data/pair_matching.h"

#include <algorithm>
#include <map>

#include "core/error.h"

namespace segq {

namespace {

std::string lower_extension(const std::string& name) {
  const size_t slash = name.find_last_of('/');
  const size_t dot = name.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = name.substr(dot);
  for (char& ch : ext) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  return ext;
}

std::string base_name(const std::string& name) {
  const size_t slash = name.find_last_of('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

bool hidden(const std::string& name) {
  const std::string base = base_name(name);
  return base.empty() || base[0] == '.';
}

// At most `limit` names, then "... and N more".
std::string list_names(const std::vector<std::string>& names, size_t limit) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) out += str_cat("\n    ", names[i]);
  if (names.size() > limit) out += str_cat("\n    ... and ", names.size() - limit, " more");
  return out;
}

}  // namespace

bool is_image_file_name(const std::string& name) {
  if (hidden(name)) return false;
  const std::string ext = lower_extension(name);
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

bool is_label_file_name(const std::string& name) {
  return !hidden(name) && lower_extension(name) == ".png";
}

std::string file_stem(const std::string& name) {
  const std::string base = base_name(name);
  const size_t dot = base.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

std::vector<Sample> match_pairs_by_stem(const std::vector<std::string>& image_names,
                                        const std::vector<std::string>& label_names,
                                        const std::string& images_where,
                                        const std::string& labels_where) {
  constexpr size_t kListLimit = 100;
  std::map<std::string, std::string> images, labels;
  std::vector<std::string> duplicates;
  for (const std::string& n : image_names) {
    auto [it, inserted] = images.emplace(file_stem(n), n);
    if (!inserted) duplicates.push_back(str_cat(images_where, "/", n, " and ", it->second));
  }
  for (const std::string& n : label_names) {
    auto [it, inserted] = labels.emplace(file_stem(n), n);
    if (!inserted) duplicates.push_back(str_cat(labels_where, "/", n, " and ", it->second));
  }
  std::vector<std::string> images_without_label, labels_without_image;
  std::vector<Sample> samples;
  samples.reserve(images.size());
  for (const auto& [stem, name] : images) {
    auto it = labels.find(stem);
    if (it == labels.end()) {
      images_without_label.push_back(name);
    } else {
      samples.push_back({stem, name, it->second});
    }
  }
  for (const auto& [stem, name] : labels) {
    if (!images.count(stem)) labels_without_image.push_back(name);
  }
  if (!duplicates.empty() || !images_without_label.empty() || !labels_without_image.empty()) {
    std::string msg = "images and labels do not pair up by file name:";
    if (!images_without_label.empty()) {
      msg += str_cat("\n  ", images_without_label.size(), " image(s) in ", images_where,
                     " without a label in ", labels_where, ":",
                     list_names(images_without_label, kListLimit));
    }
    if (!labels_without_image.empty()) {
      msg += str_cat("\n  ", labels_without_image.size(), " label(s) in ", labels_where,
                     " without an image in ", images_where, ":",
                     list_names(labels_without_image, kListLimit));
    }
    if (!duplicates.empty()) {
      msg += str_cat("\n  ", duplicates.size(),
                     " file name(s) that occur twice with different "
                     "extensions:",
                     list_names(duplicates, kListLimit));
    }
    throw Error(msg);
  }
  // std::map iterates in byte order of the stem, so `samples` is sorted by id already.
  return samples;
}

}  // namespace segq
