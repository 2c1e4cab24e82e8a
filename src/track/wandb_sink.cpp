#include "track/wandb_sink.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/log.h"
#include "track/spawn.h"

namespace segq::track {

namespace {

double or_now(double t) { return t > 0 ? t : unix_now_s(); }

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

constexpr size_t kMaxTagChars = 64;  // W&B rejects longer tags

nlohmann::json metrics_json(const Metrics& m, const std::string& prefix) {
  return {{prefix + "mean_iou", m.mean_iou},
          {prefix + "mean_accuracy", m.mean_accuracy},
          {prefix + "overall_accuracy", m.overall_accuracy}};
}

nlohmann::json optional_number(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

WandbSink::WandbSink(WandbSettings settings) : settings_(std::move(settings)) {}
WandbSink::~WandbSink() = default;

std::string WandbSink::run_id_for(const std::string& method) const {
  if (!settings_.run_id.empty() && run_.methods.size() == 1) return settings_.run_id;
  return wandb_run_id_for(run_.eval_id, method);
}

const MethodDesc* WandbSink::find_method(const std::string& method) const {
  for (const MethodDesc& m : run_.methods) {
    if (m.name == method) return &m;
  }
  return nullptr;
}

void WandbSink::on_run_started(const TrackingRun& run) {
  run_ = run;
  run_.start_time_unix_s = or_now(run.start_time_unix_s);
  host_ = host_name();
  open_.clear();
  rows_.clear();
  run_dirs_.clear();
  active_ = settings_.enabled() && (run.shard_count <= 1 || settings_.log_shards);
  if (settings_.enabled() && !active_) {
    log_info("W&B: shard ", run.shard_index + 1, "/", run.shard_count,
             " logs nothing to W&B; `segq merge` logs the merged evaluation");
  }
  if (active_ && !settings_.run_id.empty() && run.methods.size() != 1) {
    log_warn("W&B: WANDB_RUN_ID is ignored: it names one run, and this evaluation has ",
             run.methods.size(), " methods (one run each)");
  }
}

WandbRunInfo WandbSink::run_info(const std::string& method, double start_unix_s) const {
  WandbRunInfo info;
  info.run_id = run_id_for(method);
  info.entity = settings_.entity;
  info.project = settings_.project;
  const std::string base = model_short_name(run_.model_id) + "-" + method;
  info.display_name = settings_.name_prefix.empty() ? base : settings_.name_prefix + "-" + base;
  info.group = settings_.group.empty() ? run_.eval_id : settings_.group;
  info.job_type = "eval";
  info.notes = settings_.notes;
  std::vector<std::string> tags = {run_.model_id, run_.dataset};
  if (const MethodDesc* m = find_method(method)) {
    tags.push_back(m->family);
    tags.push_back(std::to_string(m->nominal_bits) + "bit");
  }
  tags.insert(tags.end(), settings_.tags.begin(), settings_.tags.end());
  for (std::string& tag : tags) {
    if (tag.size() > kMaxTagChars) tag.resize(kMaxTagChars);
    if (!tag.empty() && std::find(info.tags.begin(), info.tags.end(), tag) == info.tags.end()) {
      info.tags.push_back(tag);
    }
  }
  info.host = host_;
  info.git_commit = run_.git_commit;
  info.start_time_unix_s = start_unix_s;
  return info;
}

nlohmann::json WandbSink::config_items(const std::string& method) const {
  nlohmann::json items = nlohmann::json::object();
  if (run_.config.is_object()) {
    for (const auto& [key, value] : run_.config.items()) items[key] = value;
  } else if (!run_.config.is_null()) {
    items["config"] = run_.config;
  }
  items["eval_id"] = run_.eval_id;
  items["model"] = run_.model_id;
  items["dataset"] = run_.dataset;
  items["method"] = method;
  if (const MethodDesc* m = find_method(method)) {
    items["method_family"] = m->family;
    items["method_bits"] = m->nominal_bits;
    items["bits_per_weight"] = m->bits_per_weight;
    items["method_spec"] = m->spec;
  }
  items["model_config"] = run_.model_config;
  items["segq_version"] = run_.segq_version;
  if (!run_.git_commit.empty()) items["git_commit"] = run_.git_commit;
  items["cpu"] = run_.cpu;
  items["threads"] = run_.threads;
  if (run_.shard_count > 1)
    items["shard"] = {{"index", run_.shard_index}, {"count", run_.shard_count}};
  return items;
}

WandbSink::OpenRun& WandbSink::open_run(const std::string& method, int64_t num_images,
                                        double start_unix_s) {
  open_.erase(method);
  WandbRunWriter writer = WandbRunWriter::create(
      settings_.wandb_dir(), run_info(method, start_unix_s), config_items(method));
  auto [it, inserted] = open_.emplace(
      method, OpenRun{std::move(writer), HistoryThrottle(num_images, settings_.max_history_points),
                      num_images, start_unix_s});
  return it->second;
}

void WandbSink::on_method_started(const MethodStarted& event) {
  if (!active_) return;
  open_run(event.method, event.num_images, or_now(event.time_unix_s));
}

void WandbSink::on_progress(const Progress& event) {
  if (!active_) return;
  auto it = open_.find(event.method);
  if (it == open_.end() || !it->second.throttle.take(event.images_done)) return;
  nlohmann::json items = metrics_json(event.running, "running/");
  items["images_per_s"] = event.images_per_s;
  const double now = or_now(event.time_unix_s);
  const double runtime_s = event.elapsed_s > 0 ? event.elapsed_s : now - it->second.started_unix_s;
  it->second.writer.history(event.images_done, items, runtime_s, now);
}

void WandbSink::remember_row(const std::string& method, const MethodSummary& summary) {
  rows_.erase(std::remove_if(rows_.begin(), rows_.end(),
                             [&](const FinishedRow& r) { return r.method == method; }),
              rows_.end());
  rows_.push_back({method, summary});
}

void WandbSink::on_method_finished(const MethodFinished& event) {
  if (!active_) return;
  const double now = or_now(event.time_unix_s);
  if (event.restored) {
    const auto dirs = find_wandb_run_dirs(settings_.wandb_dir(), run_id_for(event.method));
    const bool complete = std::any_of(
        dirs.begin(), dirs.end(), [](const std::string& d) { return wandb_run_is_complete(d); });
    if (complete) {
      if (event.summary) remember_row(event.method, *event.summary);
      return;
    }
  }
  auto it = open_.find(event.method);
  if (it == open_.end()) {
    const int64_t n = event.summary ? event.summary->num_images : 0;
    open_run(event.method, n, now);
    it = open_.find(event.method);
  }
  OpenRun& open = it->second;
  WandbRunWriter& w = open.writer;
  nlohmann::json summary = nlohmann::json::object();
  if (event.summary) {
    const MethodSummary& s = *event.summary;
    // A last history point with the final metrics, so the curves end at the reported values.
    if (s.num_images > open.throttle.last_step()) {
      nlohmann::json items = metrics_json(s.metrics, "running/");
      items["images_per_s"] = s.images_per_s;
      w.history(s.num_images, items, now - open.started_unix_s, now);
    }
    summary = summary_values(s);
    remember_row(event.method, s);
  }
  if (!event.error.empty()) summary["error"] = event.error;

  std::vector<WandbMediaFile> media;
  if (!event.per_class.empty()) {
    std::vector<nlohmann::json> rows;
    for (const ClassRow& c : event.per_class) {
      rows.push_back({c.class_id, c.name, c.iou, c.accuracy});
    }
    media.push_back(
        wandb_table_file("per_class", "summary", {"class_id", "class", "iou", "accuracy"}, rows));
    summary["per_class"] = media.back().ref;
  }
  for (const SampleImage& sample : event.samples) {
    media.push_back(wandb_png_file("samples_" + sample.name, "summary", sample.png, sample.width_px,
                                   sample.height_px));
    summary["samples/" + sample.name] = media.back().ref;
  }
  w.add_media(media);
  w.summary(summary);
  w.finish(event.exit_code, now - open.started_unix_s);
  open_.erase(it);
}

void WandbSink::add_all_methods_table() {
  std::string baseline = run_.baseline_method;
  if (baseline.empty() && !run_.methods.empty()) baseline = run_.methods.front().name;
  if (baseline.empty() || rows_.empty()) return;
  std::string dir;
  for (const std::string& d : find_wandb_run_dirs(settings_.wandb_dir(), run_id_for(baseline))) {
    if (wandb_run_is_complete(d)) dir = d;
  }
  if (dir.empty()) return;  // the baseline did not finish in any process
  // Rows in the evaluation's method order.
  std::vector<nlohmann::json> rows;
  for (const MethodDesc& m : run_.methods) {
    for (const FinishedRow& r : rows_) {
      if (r.method != m.name) continue;
      const MethodSummary& s = r.summary;
      rows.push_back({r.method, m.family, s.bits_per_weight, s.size_mb, s.compression,
                      s.metrics.mean_iou, s.metrics.mean_accuracy, s.metrics.overall_accuracy,
                      optional_number(s.delta_miou_vs_fp32), optional_number(s.delta_miou_ci95_low),
                      optional_number(s.delta_miou_ci95_high), optional_number(s.agreement_vs_fp32),
                      s.ms_per_image, s.images_per_s, s.num_images});
    }
  }
  const std::vector<std::string> columns = {"method",
                                            "family",
                                            "bits_per_weight",
                                            "size_mb",
                                            "compression",
                                            "mean_iou",
                                            "mean_accuracy",
                                            "overall_accuracy",
                                            "delta_miou_vs_fp32",
                                            "delta_miou_vs_fp32_ci95_low",
                                            "delta_miou_vs_fp32_ci95_high",
                                            "agreement_vs_fp32",
                                            "ms_per_image",
                                            "images_per_s",
                                            "num_images"};
  WandbRunWriter w = WandbRunWriter::reopen(dir);
  WandbMediaFile table = wandb_table_file("all_methods", "summary", columns, rows);
  w.add_media({table});
  w.summary({{"all_methods", table.ref}});
  w.finish(w.previous_exit_code(), w.previous_runtime_s());
}

void WandbSink::on_run_finished(const RunFinished& event) {
  if (!active_) return;
  const double now = or_now(event.time_unix_s);
  // Methods still open were cut short (interrupt or failure): close them with the run's code.
  const int open_exit_code = event.exit_code != 0 ? event.exit_code : 1;
  for (auto& [method, open] : open_) {
    open.writer.finish(open_exit_code, now - open.started_unix_s);
  }
  open_.clear();
  add_all_methods_table();
  run_dirs_.clear();
  for (const MethodDesc& m : run_.methods) {
    for (const std::string& d : find_wandb_run_dirs(settings_.wandb_dir(), run_id_for(m.name))) {
      run_dirs_.push_back(d);
    }
  }
  if (run_dirs_.empty()) return;
  if (settings_.mode == WandbMode::kOnline) {
    sync_online();
  } else {
    log_info("W&B: ", run_dirs_.size(), " offline run(s) in ", settings_.wandb_dir(),
             "; upload with: ", shell_command_line(wandb_sync_command(run_dirs_)));
  }
}

void WandbSink::sync_online() {
  const std::vector<std::string> argv = wandb_sync_command(run_dirs_);
  const std::string line = shell_command_line(argv);
  const std::optional<std::string> wandb = find_on_path("wandb");
  if (!wandb) {
    log_warn(
        "W&B: the `wandb` command is not installed (pip install wandb); the runs are "
        "saved offline, upload them with: ",
        line);
    return;
  }
  log_info("W&B: uploading ", run_dirs_.size(), " run(s): ", line);
  const int status = spawn_and_wait(*wandb, argv);
  if (status != 0) {
    throw Error(str_cat("`wandb sync` exited with status ", status,
                        "; the runs are saved offline, retry with: ", line));
  }
}

}  // namespace segq::track
