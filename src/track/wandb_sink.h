// The W&B sink: one offline W&B run per (model, method), written in W&B's own format
// (track/wandb_run_writer.h), optionally uploaded with the official `wandb sync`.
//
// Per method run: group = WANDB_RUN_GROUP or the eval id, job_type "eval", display name
// [WANDB_NAME-]<model>-<method>, tags (model id, dataset, method family, <bits>bit, WANDB_TAGS);
// config = every resolved setting + method spec + model config + segq version, CPU, threads;
// history at images done (running mIoU/mAcc/aAcc, images/s); summary = the method's results, a
// per-class table and sample overlays; Exit with the method's exit code. The baseline method's
// run (fp32) also gets the all-methods table when the evaluation ends.
//
// Resume: run ids derive from eval id + method, so a method evaluated again replaces its earlier
// (torn) run directory; a method announced as restored keeps its complete directory.
// Shards (shard_count > 1) log nothing unless settings.log_shards; `segq merge` logs the merged
// evaluation through log_finished_evaluation().
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "track/history_throttle.h"
#include "track/sink.h"
#include "track/wandb_run_writer.h"
#include "track/wandb_settings.h"

namespace segq::track {

class WandbSink final : public Sink {
 public:
  explicit WandbSink(WandbSettings settings);
  ~WandbSink() override;

  std::string_view name() const override { return "W&B"; }
  void on_run_started(const TrackingRun& run) override;
  void on_method_started(const MethodStarted& event) override;
  void on_progress(const Progress& event) override;
  void on_method_finished(const MethodFinished& event) override;
  void on_run_finished(const RunFinished& event) override;

  // Run directories of this evaluation (all methods), existing on disk, after on_run_finished.
  const std::vector<std::string>& run_dirs() const { return run_dirs_; }
  std::string run_id_for(const std::string& method) const;

 private:
  struct OpenRun {
    WandbRunWriter writer;
    HistoryThrottle throttle;
    int64_t num_images;
    double started_unix_s;
  };
  struct FinishedRow {
    std::string method;
    MethodSummary summary;
  };

  const MethodDesc* find_method(const std::string& method) const;
  WandbRunInfo run_info(const std::string& method, double start_unix_s) const;
  nlohmann::json config_items(const std::string& method) const;
  OpenRun& open_run(const std::string& method, int64_t num_images, double start_unix_s);
  void remember_row(const std::string& method, const MethodSummary& summary);
  void add_all_methods_table();
  void sync_online();

  WandbSettings settings_;
  bool active_ = false;
  TrackingRun run_;
  std::string host_;
  std::map<std::string, OpenRun> open_;
  std::vector<FinishedRow> rows_;
  std::vector<std::string> run_dirs_;
};

}  // namespace segq::track
