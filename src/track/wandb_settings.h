// Settings of the W&B sink, from the --wandb flag and W&B's own environment variables.
// segq never reads W&B credentials (WANDB_API_KEY, ~/.netrc): only `wandb sync` does.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "track/env.h"

namespace segq::track {

enum class WandbMode { kDisabled, kOffline, kOnline };

struct WandbSettings {
  WandbMode mode = WandbMode::kDisabled;
  std::string root_dir = ".";  // WANDB_DIR; runs go to <root_dir>/wandb/
  std::string project = "segq";
  std::string entity;
  std::string group;              // WANDB_RUN_GROUP; empty: the eval id
  std::vector<std::string> tags;  // WANDB_TAGS, comma separated
  std::string notes;
  std::string name_prefix;       // WANDB_NAME
  std::string run_id;            // WANDB_RUN_ID; used only when exactly one method is evaluated
  std::string base_url;          // WANDB_BASE_URL, shown in the sync command (sync reads it itself)
  bool log_shards = false;       // log the partial runs of a sharded evaluation too
  int max_history_points = 100;  // per method

  bool enabled() const { return mode != WandbMode::kDisabled; }
  std::string wandb_dir() const;  // <root_dir>/wandb
};

// `flag`: nullopt when --wandb was not given, "" for a bare --wandb, else its value
// (offline|online|disabled). A bare flag takes WANDB_MODE, else offline; without the flag,
// WANDB_MODE=offline|online enables W&B. Throws segq::UsageError on an unknown mode or a run id
// W&B would reject.
WandbSettings resolve_wandb_settings(const std::optional<std::string>& flag, const EnvLookup& env);

// W&B-style run id for a method of an evaluation: 8 characters of [a-z0-9] derived from the
// eval id and the method, so a resumed evaluation writes the same runs.
std::string wandb_run_id_for(const std::string& eval_id, const std::string& method);

// The command that uploads run directories: {"wandb", "sync", dirs...}.
std::vector<std::string> wandb_sync_command(const std::vector<std::string>& run_dirs);
// The command as one line a shell would run as is (arguments quoted where needed).
std::string shell_command_line(const std::vector<std::string>& argv);

}  // namespace segq::track
