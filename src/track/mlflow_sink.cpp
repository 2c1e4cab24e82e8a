#include "track/mlflow_sink.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/log.h"
#include "core/timer.h"
#include "io/file_util.h"

namespace segq::track {

namespace {

int64_t to_ms(double unix_s) {
  return static_cast<int64_t>(std::llround((unix_s > 0 ? unix_s : unix_now_s()) * 1e3));
}

// Pending history points are sent when this many accumulate or this long has passed, so a slow
// server costs the evaluation little.
constexpr size_t kFlushPoints = 500;
constexpr double kFlushIntervalS = 15;

// A filter-string literal, or nullopt when the value cannot be quoted safely.
std::optional<std::string> filter_literal(const std::string& v) {
  if (v.find('\'') != std::string::npos || v.find('\\') != std::string::npos) return std::nullopt;
  return "'" + v + "'";
}

std::string status_for_exit(int exit_code) {
  if (exit_code == 0) return "FINISHED";
  if (exit_code == 130) return "KILLED";
  return "FAILED";
}

void add_metric(std::vector<MlflowMetric>& out, const std::string& key, double value,
                int64_t time_ms, int64_t step) {
  out.push_back({mlflow_key(key), value, time_ms, step});
}

}  // namespace

MlflowSink::MlflowSink(MlflowSettings settings) : client_(std::move(settings)) {}
MlflowSink::~MlflowSink() = default;

std::vector<MlflowTag> MlflowSink::common_tags() const {
  std::vector<MlflowTag> tags = {
      {"segq.eval_id", run_.eval_id}, {"segq.model", run_.model_id},
      {"segq.dataset", run_.dataset}, {"segq.version", run_.segq_version},
      {"mlflow.source.name", "segq"}, {"mlflow.source.type", "LOCAL"}};
  if (!run_.git_commit.empty()) tags.push_back({"mlflow.source.git.commit", run_.git_commit});
  if (const char* user = std::getenv("USER"); user && *user) tags.push_back({"mlflow.user", user});
  return tags;
}

void MlflowSink::on_run_started(const TrackingRun& run) {
  run_ = run;
  children_.clear();
  parent_ = {};
  active_ = client_.settings().enabled() && (run.shard_count <= 1 || client_.settings().log_shards);
  if (!active_) {
    if (client_.settings().enabled()) {
      log_info("MLflow: shard ", run.shard_index + 1, "/", run.shard_count,
               " logs nothing; `segq merge` logs the merged evaluation");
    }
    return;
  }
  experiment_id_ = client_.get_or_create_experiment(client_.settings().experiment_name);
  // A resumed evaluation continues its parent run.
  if (auto id = filter_literal(run.eval_id)) {
    for (const MlflowRunInfo& r : client_.search_runs(
             experiment_id_, "tags.`segq.eval_id` = " + *id + " and tags.`segq.kind` = 'eval'")) {
      parent_ = r;
      break;
    }
  }
  if (!parent_.run_id.empty()) {
    client_.set_status(parent_.run_id, "RUNNING", 0);
    log_info("MLflow: continuing run ", parent_.run_id, " in experiment \"",
             client_.settings().experiment_name, "\"");
    return;
  }
  std::vector<MlflowTag> tags = common_tags();
  tags.push_back({"segq.kind", "eval"});
  parent_ = client_.create_run(experiment_id_, model_short_name(run.model_id) + "-" + run.eval_id,
                               to_ms(run.start_time_unix_s), tags);
  MlflowBatch batch;
  batch.params = flatten_params(run.config, "");
  nlohmann::json extra = {{"segq_version", run.segq_version},
                          {"cpu", run.cpu},
                          {"threads", run.threads},
                          {"model", run.model_id},
                          {"dataset", run.dataset}};
  std::string methods;
  for (const MethodDesc& m : run.methods) methods += (methods.empty() ? "" : ",") + m.name;
  extra["methods"] = methods;
  // Settings win over these when both name the same key.
  for (MlflowParam& p : flatten_params(extra, "")) {
    bool taken = false;
    for (const MlflowParam& q : batch.params) taken = taken || q.key == p.key;
    if (!taken) batch.params.push_back(std::move(p));
  }
  client_.log_batch(parent_.run_id, batch);
  log_info("MLflow: run ", parent_.run_id, " in experiment \"", client_.settings().experiment_name,
           "\" at ", redact_url(client_.settings().tracking_uri));
}

std::vector<MlflowRunInfo> MlflowSink::children_of(const std::string& method) {
  const auto id = filter_literal(run_.eval_id);
  const auto m = filter_literal(method);
  if (!id || !m) return {};
  return client_.search_runs(experiment_id_, "tags.`segq.eval_id` = " + *id +
                                                 " and tags.`segq.kind` = 'method'" +
                                                 " and tags.`segq.method` = " + *m);
}

MlflowSink::Child& MlflowSink::create_child(const std::string& method, int64_t num_images,
                                            double start_unix_s) {
  // An earlier attempt at this method that never finished (killed process) is marked KILLED.
  for (const MlflowRunInfo& old : children_of(method)) {
    if (old.status == "RUNNING") client_.set_status(old.run_id, "KILLED", to_ms(start_unix_s));
  }
  std::vector<MlflowTag> tags = common_tags();
  tags.push_back({"mlflow.parentRunId", parent_.run_id});
  tags.push_back({"segq.kind", "method"});
  tags.push_back({"segq.method", method});
  nlohmann::json params = {{"method", method}};
  for (const MethodDesc& m : run_.methods) {
    if (m.name != method) continue;
    tags.push_back({"segq.method_family", m.family});
    tags.push_back({"segq.bits", std::to_string(m.nominal_bits)});
    params["method_family"] = m.family;
    params["method_bits"] = m.nominal_bits;
    params["bits_per_weight"] = m.bits_per_weight;
    params["method_spec"] = m.spec;
  }
  MlflowRunInfo info = client_.create_run(
      experiment_id_, model_short_name(run_.model_id) + "-" + method, to_ms(start_unix_s), tags);
  MlflowBatch batch;
  batch.params = flatten_params(params, "");
  client_.log_batch(info.run_id, batch);
  children_.erase(method);
  auto [it, inserted] = children_.emplace(
      method, Child{std::move(info),
                    HistoryThrottle(num_images, client_.settings().max_history_points),
                    {},
                    now_seconds()});
  return it->second;
}

void MlflowSink::on_method_started(const MethodStarted& event) {
  if (!active_) return;
  create_child(event.method, event.num_images, event.time_unix_s);
}

void MlflowSink::flush(Child& child, bool force) {
  if (child.pending.empty()) return;
  if (!force && child.pending.size() < kFlushPoints &&
      now_seconds() - child.last_flush_s < kFlushIntervalS) {
    return;
  }
  MlflowBatch batch;
  batch.metrics = std::move(child.pending);
  child.pending.clear();
  child.last_flush_s = now_seconds();
  client_.log_batch(child.info.run_id, batch);
}

void MlflowSink::on_progress(const Progress& event) {
  if (!active_) return;
  auto it = children_.find(event.method);
  if (it == children_.end() || !it->second.throttle.take(event.images_done)) return;
  Child& child = it->second;
  const int64_t t = to_ms(event.time_unix_s);
  add_metric(child.pending, "running/mean_iou", event.running.mean_iou, t, event.images_done);
  add_metric(child.pending, "running/mean_accuracy", event.running.mean_accuracy, t,
             event.images_done);
  add_metric(child.pending, "running/overall_accuracy", event.running.overall_accuracy, t,
             event.images_done);
  add_metric(child.pending, "images_per_s", event.images_per_s, t, event.images_done);
  flush(child, false);
}

void MlflowSink::on_method_finished(const MethodFinished& event) {
  if (!active_) return;
  if (event.restored) {
    for (const MlflowRunInfo& r : children_of(event.method)) {
      if (r.status == "FINISHED") return;  // logged by the process that evaluated it
    }
  }
  auto it = children_.find(event.method);
  if (it == children_.end()) {
    create_child(event.method, event.summary ? event.summary->num_images : 0, event.time_unix_s);
    it = children_.find(event.method);
  }
  Child& child = it->second;
  const int64_t t = to_ms(event.time_unix_s);
  if (event.summary) {
    const MethodSummary& s = *event.summary;
    // The final point of the running curves, as in W&B.
    if (s.num_images > child.throttle.last_step()) {
      add_metric(child.pending, "running/mean_iou", s.metrics.mean_iou, t, s.num_images);
      add_metric(child.pending, "running/mean_accuracy", s.metrics.mean_accuracy, t, s.num_images);
      add_metric(child.pending, "running/overall_accuracy", s.metrics.overall_accuracy, t,
                 s.num_images);
      add_metric(child.pending, "images_per_s", s.images_per_s, t, s.num_images);
    }
    // "images_per_s" is the running rate's history; the method's mean rate gets its own key.
    const nlohmann::json values = summary_values(s);
    for (const auto& [key, value] : values.items()) {
      if (!value.is_number()) continue;
      add_metric(child.pending, key == "images_per_s" ? "images_per_s_mean" : key,
                 value.get<double>(), t, 0);
    }
  }
  for (const ClassRow& c : event.per_class) {
    add_metric(child.pending, "class_iou/" + c.name, c.iou, t, 0);
    add_metric(child.pending, "class_accuracy/" + c.name, c.accuracy, t, 0);
  }
  MlflowBatch tags;
  tags.tags.push_back({"segq.exit_code", std::to_string(event.exit_code)});
  if (!event.error.empty()) tags.tags.push_back({"segq.error", event.error});
  client_.log_batch(child.info.run_id, tags);
  flush(child, true);
  client_.set_status(child.info.run_id, status_for_exit(event.exit_code), t);
  children_.erase(it);
}

void MlflowSink::on_run_finished(const RunFinished& event) {
  if (!active_) return;
  const int64_t t = to_ms(event.time_unix_s);
  const int open_exit_code = event.exit_code != 0 ? event.exit_code : 1;
  for (auto& [method, child] : children_) {
    flush(child, true);
    client_.set_status(child.info.run_id, status_for_exit(open_exit_code), t);
  }
  children_.clear();
  std::string upload_problem;
  for (const std::string& path : event.artifact_paths) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      log_warn("MLflow: artifact ", path, " does not exist; not uploaded");
      continue;
    }
    try {
      client_.upload_artifact(parent_, std::filesystem::path(path).filename().string(),
                              read_file(path));
    } catch (const Error& e) {
      upload_problem = e.what();
      break;  // the run's status is still set below
    }
  }
  client_.set_status(parent_.run_id, status_for_exit(event.exit_code), t);
  if (!upload_problem.empty()) throw Error(upload_problem);
}

}  // namespace segq::track
