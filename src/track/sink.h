// Sinks receive evaluation events (track/events.h) and log them somewhere: W&B offline runs,
// MLflow, local files. Tracker fans the events out to several sinks; a failing sink is reported
// and dropped, so a tracker problem never costs the evaluation or its local results.
//
// Event order for one evaluation: on_run_started, then per method on_method_started,
// on_progress*, on_method_finished (methods restored from an earlier process get only
// on_method_finished with restored = true), then on_run_finished. All calls come from one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "track/events.h"

namespace segq::track {

class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::string_view name() const = 0;  // for messages, e.g. "W&B"
  virtual void on_run_started(const TrackingRun& run) = 0;
  virtual void on_method_started(const MethodStarted& event) = 0;
  virtual void on_progress(const Progress& event) = 0;
  virtual void on_method_finished(const MethodFinished& event) = 0;
  virtual void on_run_finished(const RunFinished& event) = 0;
};

// Forwards each event to every sink still active. An exception from a sink is logged as a
// warning naming the sink and the sink is dropped for the rest of the run; the call returns
// normally.
class Tracker final : public Sink {
 public:
  Tracker() = default;
  void add(std::unique_ptr<Sink> sink);
  bool empty() const { return sinks_.empty(); }
  // Names of the sinks that failed so far, in order of failure.
  const std::vector<std::string>& failed() const { return failed_; }

  std::string_view name() const override { return "tracker"; }
  void on_run_started(const TrackingRun& run) override;
  void on_method_started(const MethodStarted& event) override;
  void on_progress(const Progress& event) override;
  void on_method_finished(const MethodFinished& event) override;
  void on_run_finished(const RunFinished& event) override;

 private:
  template <class Fn>
  void each(const char* event_name, Fn&& fn);

  std::vector<std::unique_ptr<Sink>> sinks_;  // null once failed
  std::vector<std::string> failed_;
};

// Logs a finished evaluation whose per-method results exist already (`segq merge` of shards,
// or re-logging a run directory): on_run_started, on_method_finished for each method (as given;
// restored = false makes the sinks log them even if they think they have), on_run_finished.
void log_finished_evaluation(Sink& sink, const TrackingRun& run,
                             const std::vector<MethodFinished>& methods, const RunFinished& end);

}  // namespace segq::track
