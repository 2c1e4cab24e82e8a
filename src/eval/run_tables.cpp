#include "eval/run_tables.h"

#include <cstdio>
#include <filesystem>
#include <vector>

#include "io/file_util.h"

namespace segq {

using nlohmann::json;

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q.push_back('"');
    q.push_back(c);
  }
  return q + "\"";
}

std::string csv_value(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return csv_field(v.get<std::string>());
  if (v.is_number_float()) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v.get<double>());
    return buf;
  }
  return v.dump();
}

std::string csv_line(const std::vector<std::string>& cells) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) line += (i ? "," : "") + cells[i];
  return line + "\n";
}

json at_or_null(const json& j, const char* key) {
  return j.is_object() && j.contains(key) ? j.at(key) : json(nullptr);
}

}  // namespace

std::string results_csv(const json& results) {
  std::string out = csv_line(
      {"method", "spec", "images", "bits_per_weight", "size_bytes", "size_mb", "compression",
       "mean_iou", "mean_accuracy", "overall_accuracy", "delta_miou_vs_fp32", "delta_low",
       "delta_high", "agreement_vs_fp32", "logit_nmse_vs_fp32", "ms_per_image", "images_per_s"});
  for (const json& m : results.at("methods")) {
    const json& mt = m.at("metrics");
    const json d = at_or_null(m, "delta_miou_vs_fp32");
    out += csv_line(
        {csv_value(m.at("name")), csv_value(m.at("spec")), csv_value(m.at("num_images")),
         csv_value(at_or_null(m, "bits_per_weight")), csv_value(at_or_null(m, "size_bytes")),
         csv_value(at_or_null(m, "size_mb")), csv_value(at_or_null(m, "compression")),
         csv_value(mt.at("mean_iou")), csv_value(mt.at("mean_accuracy")),
         csv_value(mt.at("overall_accuracy")), csv_value(at_or_null(d, "value")),
         csv_value(at_or_null(d, "low")), csv_value(at_or_null(d, "high")),
         csv_value(at_or_null(m, "agreement_vs_fp32")),
         csv_value(at_or_null(m, "logit_nmse_vs_fp32")), csv_value(at_or_null(m, "ms_per_image")),
         csv_value(at_or_null(m, "images_per_s"))});
  }
  return out;
}

std::string per_class_csv(const json& results) {
  std::string out = csv_line({"method", "class_id", "class_name", "iou", "accuracy"});
  for (const json& m : results.at("methods")) {
    for (const json& row : m.at("per_class")) {
      out += csv_line({csv_value(m.at("name")), csv_value(row.at("id")), csv_value(row.at("name")),
                       csv_value(row.at("iou")), csv_value(row.at("accuracy"))});
    }
  }
  return out;
}

void write_run_tables(const std::string& dir, const json& results) {
  write_file_atomic((std::filesystem::path(dir) / "results.csv").string(), results_csv(results));
  write_file_atomic((std::filesystem::path(dir) / "per_class.csv").string(),
                    per_class_csv(results));
}

}  // namespace segq
