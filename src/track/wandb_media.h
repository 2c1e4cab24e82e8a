// W&B media files of a run: tables (`table-file`) and PNG images (`image-file`), written under
// the run's files/ directory and referenced from summary or history values. Naming and JSON
// shapes as wandb's own data types write them (shared/spec/tracking.md).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace segq::track {

// The bytes of a table file: {"columns": [...], "data": [[...], ...]}, compact JSON. Non-finite
// numbers become null.
std::string wandb_table_json(const std::vector<std::string>& columns,
                             const std::vector<nlohmann::json>& rows);

// A media file to write under files/ and the value that refers to it.
struct WandbMediaFile {
  std::string relative_path;  // e.g. "media/table/per_class_summary_<20 hex>.table.json"
  std::string bytes;
  nlohmann::json ref;  // the table-file / image-file value
};

// `key` names the value (it becomes part of the file name, made safe); `step_label` is the
// history step or "summary" for summary values.
WandbMediaFile wandb_table_file(const std::string& key, const std::string& step_label,
                                const std::vector<std::string>& columns,
                                const std::vector<nlohmann::json>& rows);
WandbMediaFile wandb_png_file(const std::string& key, const std::string& step_label,
                              std::string png, int width_px, int height_px);

// JSON text of a number as W&B's parsers take it: shortest round-trip form, NaN, Infinity and
// -Infinity for the non-finite values (which strict JSON cannot carry).
std::string wandb_number_json(double v);
// JSON text of any value; non-finite numbers anywhere inside become null except at top level,
// where wandb_number_json's spelling is used.
std::string wandb_value_json(const nlohmann::json& v);

}  // namespace segq::track
