// The CSV views of a results.json (same numbers, for spreadsheets and pandas):
//   results.csv    one row per method: method, spec, images, bits_per_weight, size_bytes, size_mb,
//                  compression, mean_iou, mean_accuracy, overall_accuracy, delta_miou_vs_fp32,
//                  delta_low, delta_high, agreement_vs_fp32, logit_nmse_vs_fp32, ms_per_image,
//                  images_per_s
//   per_class.csv  one row per (method, class): method, class_id, class_name, iou, accuracy
// Metric values are fractions in [0, 1] printed with 17 significant digits (they parse back to
// the doubles of results.json); undefined values are empty cells. RFC 4180 quoting.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace segq {

std::string results_csv(const nlohmann::json& results);
std::string per_class_csv(const nlohmann::json& results);
// Writes <dir>/results.csv and <dir>/per_class.csv atomically.
void write_run_tables(const std::string& dir, const nlohmann::json& results);

}  // namespace segq
