#include "track/wandb_media.h"

#include <cmath>

#include "io/file_util.h"

namespace segq::track {

namespace {

// Keeps [A-Za-z0-9._-]; anything else (slashes included) becomes '_'.
std::string safe_file_stem(const std::string& key) {
  std::string out = key;
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out.empty() ? std::string("value") : out;
}

nlohmann::json finite_or_null(const nlohmann::json& v) {
  if (v.is_number_float() && !std::isfinite(v.get<double>())) return nullptr;
  if (v.is_array() || v.is_object()) {
    nlohmann::json out = v;
    for (auto& item : out) item = finite_or_null(item);
    return out;
  }
  return v;
}

}  // namespace

std::string wandb_table_json(const std::vector<std::string>& columns,
                             const std::vector<nlohmann::json>& rows) {
  nlohmann::json data = nlohmann::json::array();
  for (const nlohmann::json& row : rows) data.push_back(finite_or_null(row));
  nlohmann::json table = {{"columns", columns}, {"data", std::move(data)}};
  return table.dump();
}

WandbMediaFile wandb_table_file(const std::string& key, const std::string& step_label,
                                const std::vector<std::string>& columns,
                                const std::vector<nlohmann::json>& rows) {
  WandbMediaFile f;
  f.bytes = wandb_table_json(columns, rows);
  const std::string sha = sha256_hex(f.bytes);
  f.relative_path = "media/table/" + safe_file_stem(key) + "_" + safe_file_stem(step_label) + "_" +
                    sha.substr(0, 20) + ".table.json";
  f.ref = {{"_type", "table-file"},   {"sha256", sha},           {"size", f.bytes.size()},
           {"path", f.relative_path}, {"ncols", columns.size()}, {"nrows", rows.size()},
           {"log_mode", "IMMUTABLE"}};
  return f;
}

WandbMediaFile wandb_png_file(const std::string& key, const std::string& step_label,
                              std::string png, int width_px, int height_px) {
  WandbMediaFile f;
  f.bytes = std::move(png);
  const std::string sha = sha256_hex(f.bytes);
  f.relative_path = "media/images/" + safe_file_stem(key) + "_" + safe_file_stem(step_label) + "_" +
                    sha.substr(0, 20) + ".png";
  f.ref = {{"_type", "image-file"},  {"path", f.relative_path}, {"sha256", sha},
           {"size", f.bytes.size()}, {"format", "png"},         {"width", width_px},
           {"height", height_px}};
  return f;
}

std::string wandb_number_json(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return nlohmann::json(v).dump();
}

std::string wandb_value_json(const nlohmann::json& v) {
  if (v.is_number_float()) return wandb_number_json(v.get<double>());
  return finite_or_null(v).dump();
}

}  // namespace segq::track
