#include "track/wandb_settings.h"

#include <filesystem>

#include "core/error.h"
#include "io/file_util.h"

namespace segq::track {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

WandbMode parse_mode(const std::string& text, const std::string& source) {
  const std::string m = lower(text);
  if (m == "offline" || m == "dryrun") return WandbMode::kOffline;
  if (m == "online" || m == "run") return WandbMode::kOnline;
  if (m == "disabled") return WandbMode::kDisabled;
  throw UsageError(
      str_cat(source, ": unknown W&B mode \"", text, "\" (expected offline, online or disabled)"));
}

std::vector<std::string> split_tags(const std::string& text) {
  std::vector<std::string> tags;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string tag = text.substr(start, end - start);
    const size_t first = tag.find_first_not_of(' ');
    const size_t last = tag.find_last_not_of(' ');
    if (first != std::string::npos) tags.push_back(tag.substr(first, last - first + 1));
    start = end + 1;
  }
  return tags;
}

}  // namespace

std::string WandbSettings::wandb_dir() const {
  return (std::filesystem::path(root_dir) / "wandb").string();
}

WandbSettings resolve_wandb_settings(const std::optional<std::string>& flag, const EnvLookup& env) {
  WandbSettings s;
  const auto get = [&](const char* name) { return env(name).value_or(""); };
  const std::string env_mode = get("WANDB_MODE");
  if (flag.has_value() && !flag->empty()) {
    s.mode = parse_mode(*flag, "--wandb");
  } else if (!env_mode.empty()) {
    s.mode = parse_mode(env_mode, "WANDB_MODE");
  } else {
    s.mode = flag.has_value() ? WandbMode::kOffline : WandbMode::kDisabled;
  }
  const std::string disabled = lower(get("WANDB_DISABLED"));
  if (!flag.has_value() && (disabled == "true" || disabled == "1")) s.mode = WandbMode::kDisabled;

  if (!get("WANDB_DIR").empty()) s.root_dir = get("WANDB_DIR");
  if (!get("WANDB_PROJECT").empty()) s.project = get("WANDB_PROJECT");
  s.entity = get("WANDB_ENTITY");
  s.group = get("WANDB_RUN_GROUP");
  s.tags = split_tags(get("WANDB_TAGS"));
  s.notes = get("WANDB_NOTES");
  s.name_prefix = get("WANDB_NAME");
  s.run_id = get("WANDB_RUN_ID");
  s.base_url = get("WANDB_BASE_URL");
  if (!s.run_id.empty() && s.run_id.find_first_of(":;,#?/' ") != std::string::npos) {
    throw UsageError(str_cat("WANDB_RUN_ID \"", s.run_id,
                             "\" contains a character W&B does not allow in run ids (:;,#?/' or "
                             "space)"));
  }
  return s;
}

std::string wandb_run_id_for(const std::string& eval_id, const std::string& method) {
  const std::string digest = sha256_hex(str_cat("segq-wandb-run\n", eval_id, "\n", method));
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string id;
  // 8 base-36 digits from 8 pairs of hex digits (bytes mod 36: a slight bias, irrelevant here).
  for (int i = 0; i < 8; ++i) {
    const int byte = std::stoi(digest.substr(2 * i, 2), nullptr, 16);
    id.push_back(kAlphabet[byte % 36]);
  }
  return id;
}

std::vector<std::string> wandb_sync_command(const std::vector<std::string>& run_dirs) {
  std::vector<std::string> argv = {"wandb", "sync"};
  argv.insert(argv.end(), run_dirs.begin(), run_dirs.end());
  return argv;
}

std::string shell_command_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) {
    if (!line.empty()) line += ' ';
    const bool plain = !arg.empty() && arg.find_first_not_of(
                                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789_-./=:@%+,") == std::string::npos;
    if (plain) {
      line += arg;
    } else {
      line += '\'';
      for (char c : arg) line += (c == '\'') ? std::string("'\\''") : std::string(1, c);
      line += '\'';
    }
  }
  return line;
}

}  // namespace segq::track
