// Observers of the evaluation loop that `segq eval` wires in: the progress display and the
// tracker events (track/events.h), plus the conversions `segq merge` shares to log merged runs.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eval/evaluator.h"
#include "track/sink.h"

namespace segq::cli {

// Forwards to several observers.
class FanoutObserver final : public EvalObserver {
 public:
  void add(EvalObserver* o) { observers_.push_back(o); }
  void method_started(const EvalMethod& m, uint64_t total, uint64_t done) override;
  void progress(const MethodResult& partial, uint64_t total) override;
  void method_finished(const MethodResult& r) override;
  void method_restored(const MethodResult& r) override;

 private:
  std::vector<EvalObserver*> observers_;
};

// On a terminal: one live line per method (method, images done/total, images/s, ETA, running
// mIoU), redrawn at most 10 times a second. Otherwise: a plain line every `interval_s` and when
// the method ends.
class ProgressObserver final : public EvalObserver {
 public:
  ProgressObserver(bool tty, double interval_s);
  void method_started(const EvalMethod& m, uint64_t total, uint64_t done) override;
  void progress(const MethodResult& partial, uint64_t total) override;
  void method_finished(const MethodResult& r) override;

 private:
  void print(const MethodResult& r, uint64_t total, bool final_line);
  bool tty_;
  double interval_s_;
  std::string method_;
  uint64_t done_at_start_ = 0;
  double started_s_ = 0;
  double last_print_s_ = 0;
};

// "int4-g16-hqq" -> family "int4", nominal bits 4; "quanto:int8" -> "int8", 8.
std::string method_family(const std::string& name);
int method_nominal_bits(const std::string& family);

// A method's entry of results.json (eval/results.h method_results_json) as a tracker event, with
// the previews found under <samples_dir>/<id>/<method>.png.
track::MethodFinished method_finished_event(const nlohmann::json& method_results,
                                            const std::string& samples_dir,
                                            const std::vector<std::string>& preview_ids,
                                            bool restored);

// Sinks from --wandb / WANDB_* and --mlflow / MLFLOW_TRACKING_URI (flag nullopt: not given).
std::unique_ptr<track::Tracker> make_tracker(const std::optional<std::string>& wandb_flag,
                                             const std::optional<std::string>& mlflow_flag);

// Sends the loop's events to a tracker: MethodStarted, Progress, MethodFinished (restored ones
// too). The caller sends on_run_started before the loop and on_run_finished after it.
class TrackingObserver final : public EvalObserver {
 public:
  TrackingObserver(track::Sink* sink, nlohmann::json class_names, std::string samples_dir,
                   std::vector<std::string> preview_ids);
  void method_started(const EvalMethod& m, uint64_t total, uint64_t done) override;
  void progress(const MethodResult& partial, uint64_t total) override;
  void method_finished(const MethodResult& r) override;
  void method_restored(const MethodResult& r) override;

 private:
  void finished(const MethodResult& r, bool restored);
  track::Sink* sink_;
  nlohmann::json class_names_;
  std::string samples_dir_;
  std::vector<std::string> preview_ids_;
  std::optional<MethodResult> baseline_;
  double started_s_ = 0;
  uint64_t done_at_start_ = 0;
};

}  // namespace segq::cli
