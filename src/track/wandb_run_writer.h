// One W&B run in W&B's offline format, written by segq itself:
//   <wandb_dir>/offline-run-YYYYMMDD_HHMMSS-<run_id>/run-<run_id>.wandb   the transaction log
//   <wandb_dir>/offline-run-YYYYMMDD_HHMMSS-<run_id>/files/...            tables and images
// Records go in the order W&B's syncers expect: Header, Run, Config+, History*, Files*, Summary,
// Exit, Final (shared/spec/tracking.md).
//
// Crash safety: after every call the log on disk is a complete, valid transaction log ending at
// a record boundary. It is rewritten whole through a temporary file and a rename (logs are tens
// of kilobytes), so a process killed at any instant leaves a file wandb's readers accept; files/
// entries are written before the record that announces them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "track/wandb_media.h"

namespace segq::wandb {
class Record;
}

namespace segq::track {

struct WandbRunInfo {
  std::string run_id;  // [a-z0-9] in practice; none of :;,#?/'
  std::string entity;  // empty: the server's default entity for the API key
  std::string project;
  std::string display_name;
  std::string group;
  std::string job_type;
  std::string notes;
  std::vector<std::string> tags;
  std::string host;
  std::string git_commit;
  double start_time_unix_s = 0;
};

class WandbRunWriter {
 public:
  // Starts a new run directory under `wandb_dir` (the directory that holds run directories,
  // i.e. <WANDB_DIR>/wandb), first removing earlier directories of the same run id (a run torn
  // by an interrupted process is replaced, not continued). Writes Header, Run and, when `config`
  // is a non-empty object, the first Config record, all in the log's first version on disk.
  static WandbRunWriter create(const std::string& wandb_dir, const WandbRunInfo& info,
                               const nlohmann::json& config = nlohmann::json::object());
  // Reopens a finished run (one with an Exit record) to add to it: its Exit and Final records
  // are dropped and written again by finish(). Throws when the run has no Exit record.
  static WandbRunWriter reopen(const std::string& run_dir);

  WandbRunWriter(WandbRunWriter&&) = default;
  WandbRunWriter& operator=(WandbRunWriter&&) = default;
  ~WandbRunWriter();

  // Each takes a JSON object; every member becomes one item (key, JSON value).
  void config(const nlohmann::json& items);
  // A history row at `step`; _step, _runtime and _timestamp are added.
  void history(int64_t step, const nlohmann::json& items, double runtime_s,
               double timestamp_unix_s);
  void summary(const nlohmann::json& items);
  // Writes the files under files/ and announces them in one Files record (policy NOW).
  void add_media(const std::vector<WandbMediaFile>& files);
  // Exit (exit_code, runtime) and Final; the log is flushed to disk (fsync).
  void finish(int exit_code, double runtime_s);

  const std::string& dir() const { return dir_; }
  std::string log_path() const;
  const std::string& run_id() const { return run_id_; }
  double start_time_unix_s() const { return start_time_unix_s_; }
  bool finished() const { return finished_; }
  // Runtime and exit code of the Exit record that reopen() dropped (0 for a new run).
  double previous_runtime_s() const { return previous_runtime_s_; }
  int previous_exit_code() const { return previous_exit_code_; }

 private:
  WandbRunWriter() = default;
  void append(const segq::wandb::Record& record);
  void publish(bool durable);

  std::string dir_;
  std::string run_id_;
  double start_time_unix_s_ = 0;
  double previous_runtime_s_ = 0;
  int previous_exit_code_ = 0;
  std::string log_;  // the whole transaction log as it is on disk
  bool finished_ = false;
};

// Run directories of `run_id` under `wandb_dir` (offline-run-* and run-* names), sorted.
std::vector<std::string> find_wandb_run_dirs(const std::string& wandb_dir,
                                             const std::string& run_id);
// True when the run directory's log ends with Exit and Final records (a complete run).
bool wandb_run_is_complete(const std::string& run_dir);
// A serialized Record of exactly `payload_bytes` bytes (0 or >= 2): filler in its uuid (and num
// where needed). For framing tests at exact block boundaries.
std::string wandb_padding_record(size_t payload_bytes);
// Directory name for a run started at `start_time_unix_s` (local time, as the SDK names it).
std::string wandb_offline_run_dir_name(double start_time_unix_s, const std::string& run_id);

}  // namespace segq::track
