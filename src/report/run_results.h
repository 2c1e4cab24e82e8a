// What a report needs from one evaluation run directory, read from its files only:
//   <run>/results.json  (kind "segq-results", written by `segq eval` / `segq merge`)
//   <run>/config.json   (optional: the resolved settings of the run)
// The reader is tolerant of schema growth: metrics may sit at the method's top level or nested
// under "metrics" / "timings" (schema_version 1 nests them), every optional number may be absent
// or null (-> NaN, shown as "n/a"). A field of the wrong type is an error naming the file and the
// field path (e.g. "runs/a/results.json: field 'methods[2].metrics.mean_iou': expected a number
// or null, got string").
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace segq::report {

// A value with a confidence interval, all NaN when unknown.
struct Interval {
  double value;
  double low;
  double high;
};

struct ClassResult {
  int id = 0;
  std::string name;  // from the file, else id2label, else "class <id>"
  double iou = 0;    // NaN: class absent from labels and predictions
  double accuracy = 0;
};

struct MethodSummary {
  std::string name;
  std::string spec;
  double num_images;
  double mean_iou;          // 0..1
  double mean_accuracy;     // 0..1
  double overall_accuracy;  // 0..1
  double size_bytes;
  double size_mb;  // as stored in the file, else size_bytes / 1e6
  double bits_per_weight;
  double compression;        // fp32 size / this size
  Interval delta_miou;       // vs fp32, fraction (not points); from the file, else mIoU difference
  double agreement_vs_fp32;  // 0..1 pixel agreement
  double logit_nmse_vs_fp32;
  double ms_per_image;
  double images_per_s;
  std::vector<ClassResult> per_class;  // by class id
};

// Paths are relative to the run directory (checked: no absolute paths, no "..").
struct SampleEntry {
  std::string id;
  std::string image;
  std::string label;
  std::vector<std::pair<std::string, std::string>> predictions;  // method name -> path
};

struct RunResults {
  std::string run_dir;
  std::string results_path;
  std::string model;    // a readable name, "n/a" when the files do not say
  std::string dataset;  // idem
  std::string segq_version;
  std::vector<MethodSummary> methods;
  int baseline = -1;  // index of the fp32 method, -1 when absent
  std::vector<SampleEntry> samples;
  // Settings table rows (dotted key -> compact value): config.json flattened when present, else
  // the results' "info" and "fingerprint".
  std::vector<std::pair<std::string, std::string>> settings;
  bool settings_from_config = false;
};

// Reads <run_dir>/results.json and, when present, <run_dir>/config.json. Throws segq::Error naming
// the file and field on malformed input, segq::UsageError when results.json does not exist.
RunResults read_run(const std::string& run_dir);

// Parses an already-loaded results document; `results_path` names it in errors. `config` may be
// null. Exposed for tests.
RunResults parse_run(const nlohmann::json& results, const std::string& results_path,
                     const nlohmann::json& config, const std::string& config_path);

// Flattens a JSON object into (dotted key, compact value) rows; strings unquoted, arrays of more
// than `max_array` elements summarized ("[150 values]").
std::vector<std::pair<std::string, std::string>> flatten_settings(const nlohmann::json& j,
                                                                  size_t max_array = 16);

}  // namespace segq::report
