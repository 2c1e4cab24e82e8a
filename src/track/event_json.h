// Evaluation events as JSON, for replaying an evaluation into sinks (`segq track-demo`, tests)
// and for recording what a sink was told. Field names are those of track/events.h.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "track/events.h"
#include "track/sink.h"

namespace segq::track {

TrackingRun tracking_run_from_json(const nlohmann::json& j);
MethodSummary method_summary_from_json(const nlohmann::json& j);
nlohmann::json method_summary_to_json(const MethodSummary& s);

// Replays {"run": {...}, "events": [{"type": "method_started" | "progress" | "method_finished" |
// "run_finished" | "pause", ...}, ...]} into `sink`. Sample images are {"name", "png_file"}
// with png_file relative to `base_dir`. A "pause" event calls on_pause (tests kill the process
// there). Throws segq::Error naming the event index on a malformed event.
void replay_events(const nlohmann::json& doc, const std::string& base_dir, Sink& sink,
                   const std::function<void(const nlohmann::json& event)>& on_pause);

// A minimal local-results sink: at run end writes `path` (atomically) with each finished
// method's summary and exit code, {"eval_id", "exit_code", "methods": {name: {...}}}.
class SummaryFileSink final : public Sink {
 public:
  explicit SummaryFileSink(std::string path) : path_(std::move(path)) {}
  std::string_view name() const override { return "results file"; }
  void on_run_started(const TrackingRun& run) override;
  void on_method_started(const MethodStarted&) override {}
  void on_progress(const Progress&) override {}
  void on_method_finished(const MethodFinished& event) override;
  void on_run_finished(const RunFinished& event) override;

 private:
  std::string path_;
  nlohmann::json doc_;
};

// Width and height of a PNG from its IHDR chunk; throws when `png` is not a PNG.
std::pair<int, int> png_size(const std::string& png, const std::string& what);

}  // namespace segq::track
