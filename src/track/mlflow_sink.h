// The MLflow sink: a parent run per evaluation (found again by its eval id on --resume) with one
// nested child run per method (tag mlflow.parentRunId).
//   parent: params = every resolved setting (flattened); tags segq.*; artifacts = the local
//           result files (results.json, per_class.csv, report.html); status at the end.
//   child:  params = the method and its spec; metrics = the method's results (step 0), per-class
//           IoU/accuracy, and the running metrics as history (step = images done); status
//           FINISHED or FAILED.
// Shards (shard_count > 1) log nothing unless settings.log_shards.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "track/history_throttle.h"
#include "track/mlflow_client.h"
#include "track/sink.h"

namespace segq::track {

class MlflowSink final : public Sink {
 public:
  explicit MlflowSink(MlflowSettings settings);
  ~MlflowSink() override;
  MlflowClient& client() { return client_; }

  std::string_view name() const override { return "MLflow"; }
  void on_run_started(const TrackingRun& run) override;
  void on_method_started(const MethodStarted& event) override;
  void on_progress(const Progress& event) override;
  void on_method_finished(const MethodFinished& event) override;
  void on_run_finished(const RunFinished& event) override;

  const std::string& parent_run_id() const { return parent_.run_id; }

 private:
  struct Child {
    MlflowRunInfo info;
    HistoryThrottle throttle;
    std::vector<MlflowMetric> pending;  // history not sent yet
    double last_flush_s;
  };

  std::vector<MlflowTag> common_tags() const;
  Child& create_child(const std::string& method, int64_t num_images, double start_unix_s);
  void flush(Child& child, bool force);
  std::vector<MlflowRunInfo> children_of(const std::string& method);

  MlflowClient client_;
  bool active_ = false;
  TrackingRun run_;
  std::string experiment_id_;
  MlflowRunInfo parent_;
  std::map<std::string, Child> children_;
};

}  // namespace segq::track
