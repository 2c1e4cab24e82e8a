#include "cli/eval_observers.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/timer.h"
#include "eval/metrics.h"
#include "io/file_util.h"
#include "track/env.h"
#include "track/mlflow_sink.h"
#include "track/wandb_settings.h"
#include "track/wandb_sink.h"

namespace segq::cli {

using nlohmann::json;
namespace fs = std::filesystem;

void FanoutObserver::method_started(const EvalMethod& m, uint64_t total, uint64_t done) {
  for (EvalObserver* o : observers_) o->method_started(m, total, done);
}
void FanoutObserver::progress(const MethodResult& partial, uint64_t total) {
  for (EvalObserver* o : observers_) o->progress(partial, total);
}
void FanoutObserver::method_finished(const MethodResult& r) {
  for (EvalObserver* o : observers_) o->method_finished(r);
}
void FanoutObserver::method_restored(const MethodResult& r) {
  for (EvalObserver* o : observers_) o->method_restored(r);
}

ProgressObserver::ProgressObserver(bool tty, double interval_s)
    : tty_(tty), interval_s_(interval_s) {}

void ProgressObserver::method_started(const EvalMethod& m, uint64_t /*total*/, uint64_t done) {
  method_ = m.name;
  done_at_start_ = done;
  started_s_ = last_print_s_ = now_seconds();
}

void ProgressObserver::progress(const MethodResult& partial, uint64_t total) {
  const double now = now_seconds();
  if (now - last_print_s_ < (tty_ ? 0.1 : interval_s_)) return;
  last_print_s_ = now;
  print(partial, total, false);
}

void ProgressObserver::method_finished(const MethodResult& r) {
  print(r, r.counts.num_images() + r.skipped.size(), true);
}

void ProgressObserver::print(const MethodResult& r, uint64_t total, bool final_line) {
  const uint64_t done = r.counts.num_images() + r.skipped.size();
  const double elapsed = now_seconds() - started_s_;
  const double rate = elapsed > 0 ? static_cast<double>(done - done_at_start_) / elapsed : 0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
  const double miou = compute_metrics(r.counts).mean_iou;
  char line[256];
  std::snprintf(
      line, sizeof line, "%-16s %6llu/%-6llu %7.1f img/s  ETA %5.0fs  mIoU %s", method_.c_str(),
      static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), rate,
      final_line ? 0.0 : eta,
      std::isnan(miou) ? "  n/a" : str_cat(std::to_string(100 * miou).substr(0, 5)).c_str());
  if (tty_) {
    const int width = 24;
    const int filled = total > 0 ? static_cast<int>(width * done / total) : width;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(width - filled), '.');
    std::fprintf(stderr, "\r\033[K[%s] %s%s", bar.c_str(), line, final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s%s\n", line, final_line ? "  done" : "");
  }
  std::fflush(stderr);
}

std::string method_family(const std::string& name) {
  std::string s = name;
  const size_t colon = s.find(':');
  if (colon != std::string::npos) s = s.substr(colon + 1);
  return s.substr(0, s.find('-'));
}

int method_nominal_bits(const std::string& family) {
  size_t i = family.size();
  while (i > 0 && family[i - 1] >= '0' && family[i - 1] <= '9') --i;
  return i < family.size() ? std::stoi(family.substr(i)) : 32;
}

namespace {

double number_or_nan(const json& j, const char* key) {
  return j.contains(key) && j.at(key).is_number() ? j.at(key).get<double>() : track::kNaN;
}

std::optional<double> optional_number(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_number()) return std::nullopt;
  return j.at(key).get<double>();
}

}  // namespace

track::MethodFinished method_finished_event(const json& m, const std::string& samples_dir,
                                            const std::vector<std::string>& preview_ids,
                                            bool restored) {
  track::MethodFinished e;
  e.method = m.at("name").get<std::string>();
  e.restored = restored;
  track::MethodSummary s;
  const json& mt = m.at("metrics");
  s.metrics.mean_iou = number_or_nan(mt, "mean_iou");
  s.metrics.mean_accuracy = number_or_nan(mt, "mean_accuracy");
  s.metrics.overall_accuracy = number_or_nan(mt, "overall_accuracy");
  s.size_bytes =
      m.value("size_bytes", json(0)).is_number() ? m.at("size_bytes").get<uint64_t>() : 0;
  s.size_mb = static_cast<double>(s.size_bytes) / 1e6;
  s.bits_per_weight = number_or_nan(m, "bits_per_weight");
  s.compression = number_or_nan(m, "compression");
  const json d = m.value("delta_miou_vs_fp32", json());
  s.delta_miou_vs_fp32 = optional_number(d, "value");
  s.delta_miou_ci95_low = optional_number(d, "low");
  s.delta_miou_ci95_high = optional_number(d, "high");
  s.agreement_vs_fp32 = optional_number(m, "agreement_vs_fp32");
  s.ms_per_image = number_or_nan(m, "ms_per_image");
  s.images_per_s = number_or_nan(m, "images_per_s");
  s.num_images = m.at("num_images").get<int64_t>();
  if (const auto nmse = optional_number(m, "logit_nmse_vs_fp32")) {
    s.extra["logit_nmse_vs_fp32"] = *nmse;
  }
  e.summary = s;
  for (const json& row : m.at("per_class")) {
    track::ClassRow c;
    c.class_id = row.at("id").get<int>();
    c.name = row.at("name").get<std::string>();
    c.iou = row.at("iou").is_number() ? row.at("iou").get<double>() : track::kNaN;
    c.accuracy = row.at("accuracy").is_number() ? row.at("accuracy").get<double>() : track::kNaN;
    e.per_class.push_back(c);
  }
  for (const std::string& id : preview_ids) {
    const fs::path p = fs::path(samples_dir) / id / (method_file_stem(e.method) + ".png");
    if (samples_dir.empty() || !fs::exists(p)) continue;
    track::SampleImage img;
    img.name = id;
    img.png = read_file(p.string());
    // PNG IHDR: width and height as big-endian uint32 at bytes 16 and 20.
    if (img.png.size() >= 24) {
      auto be32 = [&](size_t o) {
        return (static_cast<int>(static_cast<uint8_t>(img.png[o])) << 24) |
               (static_cast<int>(static_cast<uint8_t>(img.png[o + 1])) << 16) |
               (static_cast<int>(static_cast<uint8_t>(img.png[o + 2])) << 8) |
               static_cast<int>(static_cast<uint8_t>(img.png[o + 3]));
      };
      img.width_px = be32(16);
      img.height_px = be32(20);
    }
    e.samples.push_back(std::move(img));
  }
  return e;
}

std::unique_ptr<track::Tracker> make_tracker(const std::optional<std::string>& wandb_flag,
                                             const std::optional<std::string>& mlflow_flag) {
  const track::EnvLookup env = track::process_env();
  const track::WandbSettings wandb = track::resolve_wandb_settings(wandb_flag, env);
  const track::MlflowSettings mlflow = track::resolve_mlflow_settings(mlflow_flag, env);
  auto tracker = std::make_unique<track::Tracker>();
  if (wandb.enabled()) tracker->add(std::make_unique<track::WandbSink>(wandb));
  if (mlflow.enabled()) tracker->add(std::make_unique<track::MlflowSink>(mlflow));
  return tracker;
}

TrackingObserver::TrackingObserver(track::Sink* sink, json class_names, std::string samples_dir,
                                   std::vector<std::string> preview_ids)
    : sink_(sink),
      class_names_(std::move(class_names)),
      samples_dir_(std::move(samples_dir)),
      preview_ids_(std::move(preview_ids)) {}

void TrackingObserver::method_started(const EvalMethod& m, uint64_t total, uint64_t done) {
  started_s_ = now_seconds();
  done_at_start_ = done;
  track::MethodStarted e;
  e.method = m.name;
  e.num_images = static_cast<int64_t>(total);
  sink_->on_method_started(e);
}

void TrackingObserver::progress(const MethodResult& partial, uint64_t /*total*/) {
  const SegmentationMetrics mt = compute_metrics(partial.counts);
  track::Progress e;
  e.method = partial.name;
  e.images_done = static_cast<int64_t>(partial.counts.num_images() + partial.skipped.size());
  e.running.mean_iou = mt.mean_iou;
  e.running.mean_accuracy = mt.mean_accuracy;
  e.running.overall_accuracy = mt.overall_accuracy;
  e.elapsed_s = now_seconds() - started_s_;
  e.images_per_s =
      e.elapsed_s > 0
          ? static_cast<double>(e.images_done - static_cast<int64_t>(done_at_start_)) / e.elapsed_s
          : 0;
  sink_->on_progress(e);
}

void TrackingObserver::method_finished(const MethodResult& r) { finished(r, false); }
void TrackingObserver::method_restored(const MethodResult& r) { finished(r, true); }

void TrackingObserver::finished(const MethodResult& r, bool restored) {
  if (r.spec == fp32_method().spec && !baseline_) baseline_ = r;
  const json m = method_results_json(r, baseline_ ? &*baseline_ : nullptr, class_names_);
  sink_->on_method_finished(method_finished_event(m, samples_dir_, preview_ids_, restored));
}

}  // namespace segq::cli
