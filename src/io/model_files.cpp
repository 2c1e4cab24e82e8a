#include "io/model_files.h"

#include <algorithm>
#include <filesystem>

#include "io/file_util.h"
#include "io/safetensors.h"

namespace segq {

namespace fs = std::filesystem;

namespace {
nlohmann::json read_json_file(const std::string& path) {
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": malformed JSON: ", e.what()));
  }
}
}  // namespace

ModelFiles load_model_files(const std::string& spec) {
  ModelFiles m;
  m.spec = spec;
  m.directory = spec;
  if (!fs::is_directory(spec)) throw UsageError(str_cat(spec, ": model directory not found"));
  const std::string config = (fs::path(spec) / "config.json").string();
  if (!fs::exists(config)) throw Error(str_cat(config, ": missing (every model needs config.json)"));
  m.config = read_json_file(config);
  const std::string pre = (fs::path(spec) / "preprocessor_config.json").string();
  if (fs::exists(pre)) m.preprocessor_config = read_json_file(pre);
  const std::string st = (fs::path(spec) / "model.safetensors").string();
  if (!fs::exists(st)) throw Error(str_cat(spec, ": no model.safetensors"));
  SafetensorsFile f = read_safetensors(st);
  m.weight_files.push_back(st);
  m.metadata = f.metadata;
  m.tensors = std::move(f.tensors);
  std::sort(m.tensors.begin(), m.tensors.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return m;
}

}  // namespace segq
