// Scratch directories of one test process under <build>/test_eval_tmp, named with the process id
// (ctest runs tests of one binary in parallel processes) and removed when the process exits
// normally; SEGQ_KEEP_TEST_DIRS=1 keeps them for debugging.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace segq::testing_dirs {

class Registry {
 public:
  static Registry& get() {
    static Registry r;
    return r;
  }
  void add(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    paths_.push_back(path);
  }
  ~Registry() {
    const char* keep = std::getenv("SEGQ_KEEP_TEST_DIRS");
    if (keep && *keep && std::string(keep) != "0") return;
    std::error_code ec;
    for (const std::string& p : paths_) std::filesystem::remove_all(p, ec);
  }

 private:
  std::mutex mu_;
  std::vector<std::string> paths_;
};

// A fresh, empty <build>/test_eval_tmp/<name>_<pid>.
inline std::string make_temp_dir(const std::string& name) {
  const std::filesystem::path p = std::filesystem::path(SEGQ_BINARY_DIR) / "test_eval_tmp" /
                                  (name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  Registry::get().add(p.string());
  return p.string();
}

}  // namespace segq::testing_dirs
