#include "track/sink.h"

#include <exception>

#include "core/log.h"

namespace segq::track {

void Tracker::add(std::unique_ptr<Sink> sink) {
  if (sink) sinks_.push_back(std::move(sink));
}

template <class Fn>
void Tracker::each(const char* event_name, Fn&& fn) {
  for (auto& sink : sinks_) {
    if (!sink) continue;
    try {
      fn(*sink);
    } catch (const std::exception& e) {
      std::string_view what = e.what();
      // Messages that already name the sink are not prefixed twice.
      const std::string prefix = str_cat(sink->name(), ": ");
      if (what.starts_with(prefix)) what.remove_prefix(prefix.size());
      log_warn(prefix, what, " (at ", event_name, "); continuing without ", sink->name(),
               ", local results are not affected");
      failed_.emplace_back(sink->name());
      sink.reset();
    } catch (...) {
      log_warn(sink->name(), ": unknown failure (at ", event_name, "); continuing without ",
               sink->name(), ", local results are not affected");
      failed_.emplace_back(sink->name());
      sink.reset();
    }
  }
}

void Tracker::on_run_started(const TrackingRun& run) {
  each("run start", [&](Sink& s) { s.on_run_started(run); });
}
void Tracker::on_method_started(const MethodStarted& event) {
  each("method start", [&](Sink& s) { s.on_method_started(event); });
}
void Tracker::on_progress(const Progress& event) {
  each("progress", [&](Sink& s) { s.on_progress(event); });
}
void Tracker::on_method_finished(const MethodFinished& event) {
  each("method end", [&](Sink& s) { s.on_method_finished(event); });
}
void Tracker::on_run_finished(const RunFinished& event) {
  each("run end", [&](Sink& s) { s.on_run_finished(event); });
}

void log_finished_evaluation(Sink& sink, const TrackingRun& run,
                             const std::vector<MethodFinished>& methods, const RunFinished& end) {
  sink.on_run_started(run);
  for (const MethodFinished& m : methods) sink.on_method_finished(m);
  sink.on_run_finished(end);
}

}  // namespace segq::track
