// Helpers shared by the track tests: temporary directories and reading W&B runs back.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/file_util.h"
#include "track/wandb_log.h"
#include "track/wandb_records.pb.h"

namespace segq::testing {

// A fresh, empty directory removed at destruction.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ =
        std::filesystem::path(::testing::TempDir()) /
        ("segq-track-" + std::string(info ? info->name() : "x") + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string str() const { return path_.string(); }
  std::string operator/(const std::string& rel) const { return (path_ / rel).string(); }

 private:
  std::filesystem::path path_;
};

inline std::vector<segq::wandb::Record> read_wandb_records(const std::string& log_path) {
  std::vector<segq::wandb::Record> out;
  for (const auto& raw : track::wandb_log_read(read_file(log_path), log_path)) {
    segq::wandb::Record r;
    EXPECT_TRUE(r.ParseFromString(raw.payload));
    out.push_back(r);
  }
  return out;
}

template <class Items>
nlohmann::json items_json(const Items& items) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& item : items) j[item.key()] = nlohmann::json::parse(item.value_json());
  return j;
}

inline std::string record_kind(const segq::wandb::Record& r) {
  if (r.has_header()) return "header";
  if (r.has_run()) return "run";
  if (r.has_config()) return "config";
  if (r.has_history()) return "history";
  if (r.has_files()) return "files";
  if (r.has_summary()) return "summary";
  if (r.has_exit()) return "exit";
  if (r.has_final()) return "final";
  return "?";
}

inline std::vector<std::string> record_kinds(const std::vector<segq::wandb::Record>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(record_kind(r));
  return out;
}

}  // namespace segq::testing
