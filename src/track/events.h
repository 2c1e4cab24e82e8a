// What experiment trackers are told about an evaluation: the events `segq eval` (and `segq merge`)
// emit, independent of any tracker. Sinks (track/sink.h) turn them into W&B runs, MLflow runs or
// local files. Plain data; the evaluation fills it, the sinks only read it.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace segq::track {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Segmentation metrics in [0, 1]; NaN where undefined (no pixels seen yet).
struct Metrics {
  double mean_iou = kNaN;
  double mean_accuracy = kNaN;
  double overall_accuracy = kNaN;
};

// One quantization method of the evaluation.
struct MethodDesc {
  std::string name;             // as on the command line, e.g. "int4-g64-hqq"; unique in a run
  std::string family;           // "fp32", "bf16", "fp8", "int8", "int4", "int2", ...
  int nominal_bits = 32;        // bits of a weight code (32 for fp32, 4 for int4-g64)
  double bits_per_weight = 32;  // stored bits per quantized weight incl. scales and zero points
  nlohmann::json spec = nlohmann::json::object();  // the resolved method (per-layer formats, ...)
};

// An evaluation (`segq eval`): one model on one dataset, several methods.
struct TrackingRun {
  std::string eval_id;   // stable across --resume of the same evaluation; names tracker runs
  std::string model_id;  // Hub id or path, e.g. "nvidia/segformer-b0-finetuned-ade-512-512"
  std::string dataset;   // e.g. "ade20k-val" or the data path
  nlohmann::json config = nlohmann::json::object();        // every resolved setting
  nlohmann::json model_config = nlohmann::json::object();  // the model's config.json
  std::string segq_version;
  std::string git_commit;  // of segq's sources, empty when unknown
  std::string cpu;         // CPU model name
  int threads = 1;
  std::vector<MethodDesc> methods;
  // The method whose tracker run also gets the all-methods table (fp32 when evaluated). Empty:
  // the first method.
  std::string baseline_method;
  int shard_index = 0;  // a shard (shard_count > 1) is a partial evaluation; see sink docs
  int shard_count = 1;
  double start_time_unix_s = 0;  // 0: now
};

struct MethodStarted {
  std::string method;
  int64_t num_images = 0;  // images this method will evaluate
  double time_unix_s = 0;  // 0: now
};

// Running state during a method's evaluation. Sent as often as the loop likes; sinks thin it out.
struct Progress {
  std::string method;
  int64_t images_done = 0;
  Metrics running;
  double images_per_s = 0;
  double elapsed_s = 0;    // since the method started
  double time_unix_s = 0;  // 0: now
};

struct ClassRow {
  int class_id = 0;
  std::string name;        // from the model's id2label
  double iou = kNaN;       // NaN when the class appears in neither labels nor predictions
  double accuracy = kNaN;  // NaN when the class has no labelled pixels
};

// A sample overlay (image, ground truth, prediction) as PNG.
struct SampleImage {
  std::string name;  // e.g. "ADE_val_00000001"; unique within a method
  std::string png;   // encoded PNG bytes
  int width_px = 0;
  int height_px = 0;
};

struct MethodSummary {
  Metrics metrics;
  uint64_t size_bytes = 0;  // stored bytes of the model's weights in this method
  double size_mb = 0;       // size_bytes / 1e6
  double bits_per_weight = 0;
  double compression = 1;  // fp32 bytes / size_bytes
  // Relative to the fp32 baseline; absent without one.
  std::optional<double> delta_miou_vs_fp32;
  std::optional<double> delta_miou_ci95_low;  // paired bootstrap over images
  std::optional<double> delta_miou_ci95_high;
  std::optional<double> agreement_vs_fp32;  // fraction of pixels predicted as by fp32
  double ms_per_image = 0;
  double images_per_s = 0;
  int64_t num_images = 0;
  // Further numbers by key (e.g. {"logit_nmse_vs_fp32": 1e-4}); logged like the fields above.
  nlohmann::json extra = nlohmann::json::object();
};

struct MethodFinished {
  std::string method;
  int exit_code = 0;  // 0: evaluated; otherwise the method failed (error says why)
  std::string error;
  std::optional<MethodSummary> summary;  // set when exit_code == 0
  std::vector<ClassRow> per_class;
  std::vector<SampleImage> samples;
  // True when the method was finished by an earlier process and is only announced again (on
  // --resume, or by `segq merge`): sinks log it only where they have not already.
  bool restored = false;
  double time_unix_s = 0;  // 0: now
};

struct RunFinished {
  int exit_code = 0;  // the process's exit code: 0 success, 1 failure, 130 interrupted
  // Local result files to attach (results.json, per_class.csv, report.html).
  std::vector<std::string> artifact_paths;
  double time_unix_s = 0;  // 0: now
};

// Helpers shared by the sinks.
double unix_now_s();
// The last path component of a model id ("nvidia/segformer-b0-..." -> "segformer-b0-...").
std::string model_short_name(const std::string& model_id);
// The summary as flat {key: number}: the fields by their names (delta_miou_vs_fp32_ci95_low/high
// for the interval; optional ones only when set), then `extra`.
nlohmann::json summary_values(const MethodSummary& s);

}  // namespace segq::track
