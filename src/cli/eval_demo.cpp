#include "cli/eval_demo.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "data/synth_dataset.h"
#include "io/file_util.h"

namespace segq::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

fs::path executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

SynthOptions demo_synth_options(const std::string& out) {
  SynthOptions o;
  o.out_dir = out;
  o.count = kDemoImages;
  o.height = o.width = kDemoSize;
  o.seed = kDemoSeed;
  o.split = "validation";
  return o;
}

// synth-validation.json without the per-class statistics (they follow from the rest).
json descriptor(const fs::path& dir) {
  const fs::path p = dir / "synth-validation.json";
  if (!fs::exists(p)) return nullptr;
  json j = json::parse(read_file(p.string()), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return nullptr;
  for (auto it = j.begin(); it != j.end();) {
    it = it.value().is_array() ? j.erase(it) : std::next(it);
  }
  return j;
}

}  // namespace

std::vector<std::string> demo_model_candidates() {
  std::vector<std::string> out;
  const std::string env = env_or_empty("SEGQ_DEMO_MODEL");
  if (!env.empty()) out.push_back(env);
  const fs::path exe = executable_dir();
  if (!exe.empty()) {
    out.push_back((exe / ".." / "assets" / "models" / kDemoModelName).lexically_normal().string());
    out.push_back((exe / "assets" / "models" / kDemoModelName).lexically_normal().string());
  }
#ifdef SEGQ_SOURCE_DIR
  out.push_back((fs::path(SEGQ_SOURCE_DIR) / "assets" / "models" / kDemoModelName).string());
#endif
  return out;
}

std::string find_demo_model() {
  const std::vector<std::string> candidates = demo_model_candidates();
  std::string tried;
  for (const std::string& c : candidates) {
    if (fs::is_regular_file(fs::path(c) / "config.json")) return c;
    tried += (tried.empty() ? "" : ", ") + c;
  }
  throw UsageError(str_cat("the demo model ", kDemoModelName, " was not found (looked in ", tried,
                           "); set SEGQ_DEMO_MODEL or pass --model"));
}

std::string demo_data_dir() {
  const std::string env = env_or_empty("SEGQ_DEMO_DATA");
  if (!env.empty()) return env;
  const std::string xdg = env_or_empty("XDG_CACHE_HOME");
  if (!xdg.empty()) return (fs::path(xdg) / "segq" / "demo-data").string();
  const std::string home = env_or_empty("HOME");
  if (!home.empty()) return (fs::path(home) / ".cache" / "segq" / "demo-data").string();
  return "runs/.demo-data";
}

std::string ensure_demo_data() {
  const fs::path dir = demo_data_dir();
  fs::create_directories(dir.parent_path().empty() ? fs::path(".") : dir.parent_path());
  // What this segq's generator writes: probe with one scene (fast), compare the descriptors.
  const fs::path probe = dir.string() + ".probe-" + std::to_string(::getpid());
  fs::remove_all(probe);
  SynthOptions po = demo_synth_options(probe.string());
  po.count = 1;
  write_synth_dataset(po);
  json want = descriptor(probe);
  fs::remove_all(probe);
  want["n"] = kDemoImages;
  if (descriptor(dir) == want) return dir.string();
  log_info("writing the demo data set (", kDemoImages, " synthetic scenes, ", kDemoSize, "x",
           kDemoSize, ", seed ", kDemoSeed, ") to ", dir.string());
  const fs::path tmp = dir.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  write_synth_dataset(demo_synth_options(tmp.string()));
  fs::remove_all(dir);
  fs::rename(tmp, dir);
  if (descriptor(dir) != want) {
    throw Error(str_cat(dir.string(), ": the demo data does not describe itself as expected"));
  }
  return dir.string();
}

}  // namespace segq::cli
