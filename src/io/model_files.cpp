#include "io/model_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include "io/file_util.h"
#include "io/hub.h"
#include "io/pytorch_bin.h"
#include "io/safetensors.h"

namespace segq {

namespace fs = std::filesystem;

namespace {

constexpr const char* kWeightNames =
    "model.safetensors, model.safetensors.index.json, pytorch_model.bin, "
    "pytorch_model.bin.index.json";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

nlohmann::json read_json_object(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": malformed JSON: ", e.what()));
  }
  if (!j.is_object()) throw Error(str_cat(path, ": expected a JSON object, got ", j.type_name()));
  return j;
}

bool safe_relative_path(const std::string& p) {
  if (p.empty() || p[0] == '/' || p.find('\\') != std::string::npos) return false;
  for (size_t start = 0; start <= p.size();) {
    const size_t end = std::min(p.find('/', start), p.size());
    const std::string_view part(p.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

// weight_map: tensor name -> shard file
std::map<std::string, std::string> read_weight_map(const std::string& index_path) {
  const nlohmann::json j = read_json_object(index_path);
  if (!j.contains("weight_map") || !j["weight_map"].is_object()) {
    throw Error(str_cat(index_path, ": no \"weight_map\" object (not a shard index)"));
  }
  std::map<std::string, std::string> out;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string()) {
      throw Error(str_cat(index_path, ": weight_map entry '", it.key(), "' is not a file name"));
    }
    const std::string shard = it.value().get<std::string>();
    if (!safe_relative_path(shard)) {
      throw Error(str_cat(index_path, ": weight_map entry '", it.key(), "' names '", shard,
                          "', which is not a file inside the model directory"));
    }
    out[it.key()] = shard;
  }
  if (out.empty()) throw Error(str_cat(index_path, ": weight_map is empty"));
  return out;
}

struct WeightSelection {
  std::vector<std::string> files;
  std::string index;  // shard index the files came from, or ""
};

WeightSelection local_weight_files(const fs::path& dir) {
  WeightSelection w;
  for (const char* name : {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                           "pytorch_model.bin.index.json"}) {
    const fs::path p = dir / name;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) continue;
    if (ends_with(name, ".index.json")) {
      w.index = p.string();
      for (const std::string& shard : shard_files_from_index(w.index)) {
        const fs::path s = dir / shard;
        if (!fs::is_regular_file(s, ec)) {
          throw Error(
              str_cat(w.index, ": names shard '", shard, "', which is missing (", s.string(), ")"));
        }
        w.files.push_back(s.string());
      }
    } else {
      w.files.push_back(p.string());
    }
    return w;
  }
  throw Error(str_cat(dir.string(), ": no weights found (looked for ", kWeightNames, ")"));
}

ModelFiles load_files(const std::string& spec, const std::string& directory,
                      const std::string& config_path, const std::string& preprocessor_path,
                      const WeightSelection& weights) {
  ModelFiles m;
  m.spec = spec;
  m.directory = directory;
  std::error_code ec;
  if (!fs::is_regular_file(config_path, ec)) {
    throw Error(str_cat(config_path, ": missing (every model needs config.json)"));
  }
  m.config = read_json_object(config_path);
  if (!preprocessor_path.empty() && fs::is_regular_file(preprocessor_path, ec)) {
    m.preprocessor_config = read_json_object(preprocessor_path);
  }

  std::unordered_map<std::string, std::string> origin;  // tensor -> file, to catch duplicates
  for (const std::string& file : weights.files) {
    std::vector<std::pair<std::string, Tensor>> tensors;
    std::string format;
    if (ends_with(file, ".safetensors")) {
      SafetensorsFile f = read_safetensors(file);
      for (const auto& [k, v] : f.metadata) m.metadata[k] = v;
      tensors = std::move(f.tensors);
      format = "safetensors";
    } else {
      tensors = read_pytorch_bin(file).tensors;
      format = "pytorch_bin";
    }
    if (m.format.empty()) m.format = format;
    if (m.format != format) {
      throw Error(str_cat(file, ": ", format, " shard among ", m.format, " shards"));
    }
    for (auto& [name, t] : tensors) {
      const auto [it, inserted] = origin.emplace(name, file);
      if (!inserted) {
        throw Error(str_cat("tensor '", name, "' appears in both ", it->second, " and ", file));
      }
      m.tensors.emplace_back(std::move(name), std::move(t));
    }
    m.weight_files.push_back(file);
    m.weight_file_sha256.push_back(weight_file_sha256(file));
  }
  if (!weights.index.empty()) {
    const fs::path base = fs::path(weights.index).parent_path();
    for (const auto& [name, shard] : read_weight_map(weights.index)) {
      const auto it = origin.find(name);
      if (it == origin.end() || fs::path(it->second) != base / shard) {
        throw Error(str_cat(weights.index, ": lists tensor '", name, "' in ", shard,
                            ", but that shard does not contain it"));
      }
    }
  }
  std::sort(m.tensors.begin(), m.tensors.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  if (m.weight_files.size() == 1) {
    m.weights_sha256 = m.weight_file_sha256[0];
  } else {
    std::string lines;
    for (size_t i = 0; i < m.weight_files.size(); ++i) {
      const std::string rel = fs::path(m.weight_files[i]).lexically_relative(directory).string();
      lines += str_cat(rel, " ", m.weight_file_sha256[i], "\n");
    }
    m.weights_sha256 = sha256_hex(lines);
  }
  return m;
}

ModelFiles load_snapshot(const std::string& spec, const HubSnapshot& snap) {
  WeightSelection w;
  w.files = snap.weight_files;
  w.index = snap.weight_index_file;
  ModelFiles m =
      load_files(spec, snap.directory, snap.config_file, snap.preprocessor_config_file, w);
  m.commit = snap.commit;
  return m;
}

}  // namespace

std::vector<std::string> shard_files_from_index(const std::string& index_path) {
  std::vector<std::string> files;
  for (const auto& [name, shard] : read_weight_map(index_path)) files.push_back(shard);
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

std::string weight_file_sha256(const std::string& path) {
  std::error_code ec;
  const fs::path real = fs::canonical(path, ec);
  if (ec) throw Error(str_cat(path, ": cannot resolve: ", ec.message()));
  const std::string name = real.filename().string();
  if (real.parent_path().filename() == "blobs" && name.size() == 64 &&
      name.find_first_not_of("0123456789abcdef") == std::string::npos) {
    return name;  // a Hub cache blob is named by the sha256 of its content (LFS files)
  }
  struct stat st {};
  if (::stat(real.c_str(), &st) != 0) throw Error(str_cat(path, ": cannot stat"));
  const std::string key = str_cat(real.string(), "|", st.st_size, "|", st.st_mtim.tv_sec, ".",
                                  st.st_mtim.tv_nsec, "|", st.st_ino);
  static std::mutex mutex;
  static std::map<std::string, std::string> memo;
  {
    std::lock_guard<std::mutex> lock(mutex);
    const auto it = memo.find(key);
    if (it != memo.end()) return it->second;
  }
  const std::string digest = sha256_file_hex(real.string());
  std::lock_guard<std::mutex> lock(mutex);
  memo[key] = digest;
  return digest;
}

ModelFiles load_model_files(const std::string& spec) {
  if (spec.rfind("http://", 0) == 0 || spec.rfind("https://", 0) == 0) {
    return load_snapshot(spec, download_url_model(HubConfig::from_env(), spec));
  }
  std::error_code ec;
  if (fs::is_directory(spec, ec)) {
    const fs::path dir(spec);
    return load_files(spec, spec, (dir / "config.json").string(),
                      (dir / "preprocessor_config.json").string(), local_weight_files(dir));
  }
  if (fs::is_regular_file(spec, ec)) {  // one weights file (or shard index) of a model directory
    const fs::path dir =
        fs::path(spec).parent_path().empty() ? fs::path(".") : fs::path(spec).parent_path();
    WeightSelection w;
    if (ends_with(spec, ".index.json")) {
      w.index = spec;
      for (const std::string& shard : shard_files_from_index(spec)) {
        w.files.push_back((dir / shard).string());
      }
    } else {
      w.files.push_back(spec);
    }
    return load_files(spec, dir.string(), (dir / "config.json").string(),
                      (dir / "preprocessor_config.json").string(), w);
  }
  if (const auto repo = parse_hub_id(spec)) {
    return load_snapshot(spec, hub_download_model(HubConfig::from_env(), *repo));
  }
  throw UsageError(str_cat("model '", spec,
                           "' is neither a local directory, a Hub id (org/name[@revision]) nor an "
                           "http(s) URL"));
}

}  // namespace segq
