#include "track/event_json.h"

#include <filesystem>

#include "core/error.h"
#include "io/file_util.h"

namespace segq::track {

namespace {

double number_or_nan(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return kNaN;
  return j[key].get<double>();
}

std::optional<double> optional_number(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<double>();
}

Metrics metrics_from_json(const nlohmann::json& j) {
  Metrics m;
  m.mean_iou = number_or_nan(j, "mean_iou");
  m.mean_accuracy = number_or_nan(j, "mean_accuracy");
  m.overall_accuracy = number_or_nan(j, "overall_accuracy");
  return m;
}

uint32_t be32(const std::string& s, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) << 24 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

}  // namespace

std::pair<int, int> png_size(const std::string& png, const std::string& what) {
  static const std::string kSignature = "\x89PNG\r\n\x1a\n";
  SEGQ_CHECK(
      png.size() >= 24 && png.compare(0, 8, kSignature) == 0 && png.compare(12, 4, "IHDR") == 0,
      what, ": not a PNG file");
  return {static_cast<int>(be32(png, 16)), static_cast<int>(be32(png, 20))};
}

TrackingRun tracking_run_from_json(const nlohmann::json& j) {
  TrackingRun r;
  r.eval_id = j.at("eval_id").get<std::string>();
  r.model_id = j.at("model_id").get<std::string>();
  r.dataset = j.value("dataset", "");
  r.config = j.value("config", nlohmann::json::object());
  r.model_config = j.value("model_config", nlohmann::json::object());
  r.segq_version = j.value("segq_version", std::string(SEGQ_VERSION));
  r.git_commit = j.value("git_commit", "");
  r.cpu = j.value("cpu", "");
  r.threads = j.value("threads", 1);
  for (const auto& m : j.value("methods", nlohmann::json::array())) {
    MethodDesc d;
    d.name = m.at("name").get<std::string>();
    d.family = m.value("family", d.name);
    d.nominal_bits = m.value("nominal_bits", 32);
    d.bits_per_weight = m.value("bits_per_weight", 32.0);
    d.spec = m.value("spec", nlohmann::json::object());
    r.methods.push_back(std::move(d));
  }
  r.baseline_method = j.value("baseline_method", "");
  r.shard_index = j.value("shard_index", 0);
  r.shard_count = j.value("shard_count", 1);
  r.start_time_unix_s = j.value("start_time_unix_s", 0.0);
  return r;
}

MethodSummary method_summary_from_json(const nlohmann::json& j) {
  MethodSummary s;
  s.metrics = metrics_from_json(j);
  s.size_bytes = j.value("size_bytes", uint64_t{0});
  s.size_mb = j.value("size_mb", 0.0);
  s.bits_per_weight = j.value("bits_per_weight", 0.0);
  s.compression = j.value("compression", 1.0);
  s.delta_miou_vs_fp32 = optional_number(j, "delta_miou_vs_fp32");
  s.delta_miou_ci95_low = optional_number(j, "delta_miou_vs_fp32_ci95_low");
  s.delta_miou_ci95_high = optional_number(j, "delta_miou_vs_fp32_ci95_high");
  s.agreement_vs_fp32 = optional_number(j, "agreement_vs_fp32");
  s.ms_per_image = j.value("ms_per_image", 0.0);
  s.images_per_s = j.value("images_per_s", 0.0);
  s.num_images = j.value("num_images", int64_t{0});
  s.extra = j.value("extra", nlohmann::json::object());
  return s;
}

nlohmann::json method_summary_to_json(const MethodSummary& s) {
  nlohmann::json j = {{"mean_iou", s.metrics.mean_iou},
                      {"mean_accuracy", s.metrics.mean_accuracy},
                      {"overall_accuracy", s.metrics.overall_accuracy},
                      {"size_bytes", s.size_bytes},
                      {"size_mb", s.size_mb},
                      {"bits_per_weight", s.bits_per_weight},
                      {"compression", s.compression},
                      {"ms_per_image", s.ms_per_image},
                      {"images_per_s", s.images_per_s},
                      {"num_images", s.num_images},
                      {"extra", s.extra}};
  if (s.delta_miou_vs_fp32) j["delta_miou_vs_fp32"] = *s.delta_miou_vs_fp32;
  if (s.delta_miou_ci95_low) j["delta_miou_vs_fp32_ci95_low"] = *s.delta_miou_ci95_low;
  if (s.delta_miou_ci95_high) j["delta_miou_vs_fp32_ci95_high"] = *s.delta_miou_ci95_high;
  if (s.agreement_vs_fp32) j["agreement_vs_fp32"] = *s.agreement_vs_fp32;
  return j;
}

void replay_events(const nlohmann::json& doc, const std::string& base_dir, Sink& sink,
                   const std::function<void(const nlohmann::json& event)>& on_pause) {
  sink.on_run_started(tracking_run_from_json(doc.at("run")));
  const nlohmann::json& events = doc.at("events");
  for (size_t i = 0; i < events.size(); ++i) {
    const nlohmann::json& e = events[i];
    try {
      const std::string type = e.at("type").get<std::string>();
      if (type == "method_started") {
        MethodStarted m;
        m.method = e.at("method").get<std::string>();
        m.num_images = e.at("num_images").get<int64_t>();
        m.time_unix_s = e.value("time_unix_s", 0.0);
        sink.on_method_started(m);
      } else if (type == "progress") {
        Progress p;
        p.method = e.at("method").get<std::string>();
        p.images_done = e.at("images_done").get<int64_t>();
        p.running = metrics_from_json(e.value("running", nlohmann::json::object()));
        p.images_per_s = e.value("images_per_s", 0.0);
        p.elapsed_s = e.value("elapsed_s", 0.0);
        p.time_unix_s = e.value("time_unix_s", 0.0);
        sink.on_progress(p);
      } else if (type == "method_finished") {
        MethodFinished f;
        f.method = e.at("method").get<std::string>();
        f.exit_code = e.value("exit_code", 0);
        f.error = e.value("error", "");
        if (e.contains("summary") && !e["summary"].is_null()) {
          f.summary = method_summary_from_json(e["summary"]);
        }
        for (const auto& c : e.value("per_class", nlohmann::json::array())) {
          f.per_class.push_back({c.at("class_id").get<int>(), c.at("name").get<std::string>(),
                                 number_or_nan(c, "iou"), number_or_nan(c, "accuracy")});
        }
        for (const auto& s : e.value("samples", nlohmann::json::array())) {
          SampleImage img;
          img.name = s.at("name").get<std::string>();
          const std::string path =
              (std::filesystem::path(base_dir) / s.at("png_file").get<std::string>()).string();
          img.png = read_file(path);
          std::tie(img.width_px, img.height_px) = png_size(img.png, path);
          f.samples.push_back(std::move(img));
        }
        f.restored = e.value("restored", false);
        f.time_unix_s = e.value("time_unix_s", 0.0);
        sink.on_method_finished(f);
      } else if (type == "run_finished") {
        RunFinished r;
        r.exit_code = e.value("exit_code", 0);
        for (const auto& p : e.value("artifacts", nlohmann::json::array())) {
          r.artifact_paths.push_back(
              (std::filesystem::path(base_dir) / p.get<std::string>()).string());
        }
        r.time_unix_s = e.value("time_unix_s", 0.0);
        sink.on_run_finished(r);
      } else if (type == "pause") {
        on_pause(e);
      } else {
        throw Error(str_cat("unknown event type \"", type, "\""));
      }
    } catch (const nlohmann::json::exception& ex) {
      throw Error(str_cat("event ", i, ": ", ex.what()));
    }
  }
}

void SummaryFileSink::on_run_started(const TrackingRun& run) {
  doc_ = {{"eval_id", run.eval_id}, {"methods", nlohmann::json::object()}};
}

void SummaryFileSink::on_method_finished(const MethodFinished& event) {
  nlohmann::json m = {{"exit_code", event.exit_code}};
  if (event.summary) m["summary"] = method_summary_to_json(*event.summary);
  if (!event.error.empty()) m["error"] = event.error;
  doc_["methods"][event.method] = std::move(m);
}

void SummaryFileSink::on_run_finished(const RunFinished& event) {
  doc_["exit_code"] = event.exit_code;
  write_file_atomic(path_, doc_.dump(2) + "\n");
}

}  // namespace segq::track
