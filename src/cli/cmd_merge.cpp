// segq merge FILES... --out DIR [--json] [--wandb [MODE]] [--mlflow URI]: sums the shard files of
// one run into DIR/results.json (the file an unsharded run writes) plus results.csv and
// per_class.csv. Refuses shards of different runs, missing, duplicate or unfinished shards, naming
// the files. Shards log nothing to trackers by default; the merge logs the merged evaluation (one
// W&B run per method, an MLflow parent run with a child per method).
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/eval_observers.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/log.h"
#include "eval/results.h"
#include "eval/run_tables.h"
#include "io/file_util.h"
#include "report/report.h"

namespace segq::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct MergeArgs {
  std::vector<std::string> files;
  std::string out;
  bool print_json = false;
  std::string wandb_mode, mlflow_uri;
};

void run_merge(const MergeArgs& a, const std::optional<std::string>& wandb,
               const std::optional<std::string>& mlflow) {
  std::unique_ptr<track::Tracker> tracker = make_tracker(wandb, mlflow);
  std::vector<std::pair<std::string, ShardState>> shards;
  for (const std::string& f : a.files) {
    if (!fs::is_regular_file(f)) throw UsageError(str_cat(f, ": no such shard file"));
    shards.emplace_back(f, read_shard_file(f));
  }
  const ShardState merged = merge_shards(shards);
  const std::string path = (fs::path(a.out) / "results.json").string();
  write_results_file(path, merged);
  const json results = results_json(merged);
  write_run_tables(a.out, results);
  write_report_or_warn(a.out);
  if (a.print_json) {
    std::fputs((results.dump(1) + "\n").c_str(), stdout);
  } else {
    std::fputs(results_summary(results).c_str(), stdout);
    std::printf("merged %zu shards into %s\n", shards.size(), path.c_str());
  }
  if (tracker->empty()) return;
  // The run directory the shards were written to (<run>/shards/shard-*.json): its samples/ and
  // config.json, and the evaluation id `segq eval` would have used there.
  const fs::path run_dir = fs::path(shards.front().first).parent_path().parent_path();
  const json config_file =
      fs::exists(run_dir / "config.json")
          ? json::parse(read_file((run_dir / "config.json").string()), nullptr, false)
          : json();
  track::TrackingRun run;
  run.eval_id = sha256_hex(fingerprint_sha256(merged.fingerprint) + "\n" +
                           fs::absolute(run_dir).lexically_normal().string())
                    .substr(0, 16);
  run.model_id = merged.info.value("model", "");
  run.dataset = merged.fingerprint.at("dataset").value("description", "");
  if (config_file.is_object()) {
    run.config = config_file.value("command_settings", json::object());
    run.model_config = config_file.value("model_config", json::object());
    run.git_commit = config_file.value("git_commit", json()).is_string()
                         ? config_file.at("git_commit").get<std::string>()
                         : "";
  }
  run.config["merged_shards"] = shards.size();
  run.segq_version = SEGQ_VERSION;
  run.cpu = cpu_model_name();
  run.threads = merged.info.value("threads", 1);
  for (const MethodResult& m : merged.methods) {
    track::MethodDesc md;
    md.name = m.name;
    md.family = method_family(m.spec);
    md.nominal_bits = method_nominal_bits(md.family);
    md.bits_per_weight = m.size.bits_per_weight() > 0 ? m.size.bits_per_weight() : md.nominal_bits;
    md.spec = {{"name", m.name}, {"spec", m.spec}};
    run.methods.push_back(md);
  }
  run.baseline_method = merged.methods.front().name;
  std::vector<std::string> previews;
  for (const json& id : merged.info.value("preview_ids", json::array())) {
    previews.push_back(id.get<std::string>());
  }
  std::vector<track::MethodFinished> finished;
  for (const json& m : results.at("methods")) {
    finished.push_back(
        method_finished_event(m, (run_dir / "samples").string(), previews, /*restored=*/false));
  }
  std::vector<std::string> artifacts;
  for (const char* f : {"results.json", "results.csv", "per_class.csv", "report.html"}) {
    artifacts.push_back((fs::path(a.out) / f).string());
  }
  track::log_finished_evaluation(*tracker, run, finished, {0, artifacts, 0});
}

void setup(CLI::App& app, int* /*exit_code*/) {
  auto args = std::make_shared<MergeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "merge", "Sum the shard files of a sharded evaluation into one results.json");
  cmd->add_option("files", args->files, "Shard files (<run>/shards/shard-<i>-of-<n>.json)")
      ->required();
  cmd->add_option("--out", args->out, "Directory for results.json")->required();
  cmd->add_flag("--json", args->print_json, "Print results.json instead of the table");
  CLI::Option* wandb = cmd->add_option("--wandb", args->wandb_mode,
                                       "Log the merged runs to W&B: offline (default; or "
                                       "WANDB_MODE), online, disabled")
                           ->expected(0, 1);
  CLI::Option* mlflow = cmd->add_option("--mlflow", args->mlflow_uri,
                                        "Log the merged runs to MLflow (or MLFLOW_TRACKING_URI)");
  cmd->callback([args, wandb, mlflow] {
    run_merge(*args,
              wandb->count() > 0 ? std::optional<std::string>(args->wandb_mode) : std::nullopt,
              mlflow->count() > 0 ? std::optional<std::string>(args->mlflow_uri) : std::nullopt);
  });
}

SEGQ_REGISTER_COMMAND("merge", 41, setup);

}  // namespace
}  // namespace segq::cli
