// Helpers for the report tests: scratch run directories made from the committed fixture files,
// sample PNGs written with segq's encoder, and an HTML tag-balance checker.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cctype>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "io/file_util.h"
#include "io/image.h"

namespace segq::report_testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/segq-report-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string fixture_dir(const std::string& name) {
  return std::string(SEGQ_SOURCE_DIR) + "/tests/report/fixtures/" + name;
}

// A 2-class-stripe RGB image and a label map of the same size: classes 0..5 in vertical bands,
// the top-left 2x2 pixels 255 (ignored).
inline ImageU8 sample_rgb(int h, int w) {
  ImageU8 im(h, w, 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = im.row(y) + 3 * x;
      p[0] = static_cast<uint8_t>(x * 255 / (w - 1));
      p[1] = static_cast<uint8_t>(y * 255 / (h - 1));
      p[2] = 100;
    }
  }
  return im;
}
inline ImageU8 sample_labels(int h, int w, int shift) {
  ImageU8 im(h, w, 1);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      im.row(y)[x] = (y < 2 && x < 2) ? 255 : static_cast<uint8_t>((x * 6 / w + shift) % 6);
    }
  }
  return im;
}

// Copies a fixture run and writes every sample PNG its results.json names (the image as RGB, the
// label and predictions as class-index maps).
inline void make_run(const std::string& fixture, const std::string& dest,
                     const std::vector<std::string>& skip_files = {}) {
  namespace fs = std::filesystem;
  fs::create_directories(dest);
  for (const auto& entry : fs::directory_iterator(fixture_dir(fixture))) {
    fs::copy_file(entry.path(), fs::path(dest) / entry.path().filename());
  }
  const std::set<std::string> skip(skip_files.begin(), skip_files.end());
  const nlohmann::json j = nlohmann::json::parse(read_file(dest + "/results.json"));
  if (!j.contains("samples")) return;
  for (const auto& s : j.at("samples")) {
    const std::string image = s.at("image");
    if (!skip.count(image)) write_file_atomic(dest + "/" + image, encode_png(sample_rgb(16, 24)));
    const std::string label = s.at("label");
    if (!skip.count(label)) {
      write_file_atomic(dest + "/" + label, encode_png(sample_labels(16, 24, 0)));
    }
    int shift = 0;
    for (const auto& [method, path] : s.at("predictions").items()) {
      const std::string p = path.get<std::string>();
      if (!skip.count(p))
        write_file_atomic(dest + "/" + p, encode_png(sample_labels(16, 24, shift)));
      ++shift;
    }
  }
}

// "" when every element the report emits is closed in order (void elements and "/>" excepted),
// tag names are well-formed (an unescaped '<' in text would show up here) and no '<' occurs inside
// a tag; else a description of the first problem.
inline std::string check_tag_balance(const std::string& html) {
  static const std::set<std::string> kVoid = {"meta", "img", "br", "hr", "link", "input"};
  std::vector<std::string> stack;
  size_t i = 0;
  while ((i = html.find('<', i)) != std::string::npos) {
    if (html.compare(i, 9, "<!DOCTYPE") == 0) {
      i = html.find('>', i);
      continue;
    }
    const size_t end = html.find('>', i);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
    const std::string tag = html.substr(i + 1, end - i - 1);
    if (tag.find('<') != std::string::npos) return "'<' inside a tag at " + std::to_string(i);
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool self_closing = !tag.empty() && tag.back() == '/';
    size_t p = closing ? 1 : 0, q = p;
    while (q < tag.size() && (std::isalnum(static_cast<unsigned char>(tag[q])) || tag[q] == '-')) {
      ++q;
    }
    const std::string name = tag.substr(p, q - p);
    if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0])) ||
        (q < tag.size() && !std::isspace(static_cast<unsigned char>(tag[q])) && tag[q] != '/')) {
      return "malformed tag <" + tag.substr(0, 40) + "> at " + std::to_string(i);
    }
    if (closing) {
      if (stack.empty() || stack.back() != name) {
        return "</" + name + "> closes <" + (stack.empty() ? "nothing" : stack.back()) + "> at " +
               std::to_string(i);
      }
      stack.pop_back();
    } else if (!self_closing && !kVoid.count(name)) {
      stack.push_back(name);
      if (name == "style") {  // raw text up to </style>
        const size_t close = html.find("</style>", end);
        if (close == std::string::npos) return "unclosed <style>";
        i = close;
        continue;
      }
    }
    i = end + 1;
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  return "";
}

inline size_t count_of(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t i = haystack.find(needle); i != std::string::npos; i = haystack.find(needle, i + 1)) {
    ++n;
  }
  return n;
}

}  // namespace segq::report_testing
