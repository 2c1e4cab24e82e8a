// segq merge FILES... --out DIR: sums the shard files of one run into DIR/results.json (the file
// an unsharded run writes). Refuses shards of different runs, missing, duplicate or unfinished
// shards, naming the files.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "core/log.h"
#include "eval/results.h"

namespace segq::cli {
namespace {

struct MergeArgs {
  std::vector<std::string> files;
  std::string out;
};

void run_merge(const MergeArgs& a) {
  std::vector<std::pair<std::string, ShardState>> shards;
  for (const std::string& f : a.files) {
    if (!std::filesystem::is_regular_file(f)) throw UsageError(str_cat(f, ": no such shard file"));
    shards.emplace_back(f, read_shard_file(f));
  }
  const ShardState merged = merge_shards(shards);
  const std::string path = (std::filesystem::path(a.out) / "results.json").string();
  write_results_file(path, merged);
  std::fputs(results_summary(results_json(merged)).c_str(), stdout);
  std::printf("merged %zu shards into %s\n", shards.size(), path.c_str());
}

void setup(CLI::App& app, int* /*exit_code*/) {
  auto args = std::make_shared<MergeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "merge", "Sum the shard files of a sharded evaluation into one results.json");
  cmd->add_option("files", args->files, "Shard files (<run>/shards/shard-<i>-of-<n>.json)")
      ->required();
  cmd->add_option("--out", args->out, "Directory for results.json")->required();
  cmd->callback([args] { run_merge(*args); });
}

SEGQ_REGISTER_COMMAND("merge", 41, setup);

}  // namespace
}  // namespace segq::cli
