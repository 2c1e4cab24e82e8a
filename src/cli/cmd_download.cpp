// segq download --model M [--revision R]: resolves a model into the local Hugging Face cache (the
// files `segq eval/inspect` would load) and prints the local directory holding them, so caches can
// be filled ahead of offline jobs (HF_HUB_OFFLINE=1).
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "core/log.h"
#include "io/hub.h"

namespace segq::cli {

namespace {

struct DownloadArgs {
  std::string model;
  std::string revision;
};

void run_download(const DownloadArgs& args) {
  namespace fs = std::filesystem;
  const HubConfig config = HubConfig::from_env();
  std::string directory;
  if (args.model.rfind("http://", 0) == 0 || args.model.rfind("https://", 0) == 0) {
    if (!args.revision.empty()) throw UsageError("--revision applies to Hub ids, not URLs");
    const HubSnapshot snap = download_url_model(config, args.model);
    directory = snap.directory;
    log_info(args.model, ": ", snap.weight_files.size(), " weight file(s) in ", directory);
  } else if (std::error_code ec; fs::is_directory(args.model, ec)) {
    if (!args.revision.empty()) throw UsageError("--revision applies to Hub ids, not directories");
    directory = fs::absolute(args.model).lexically_normal().string();
    log_info(args.model, " is a local directory; nothing to download");
  } else {
    std::optional<HubRepo> repo = parse_hub_id(args.model);
    if (!repo) {
      throw UsageError(str_cat("--model '", args.model,
                               "' is neither a Hub id (org/name[@revision]), an http(s) URL nor "
                               "a local directory"));
    }
    if (!args.revision.empty()) {
      if (args.model.find('@') != std::string::npos && repo->revision != args.revision) {
        throw UsageError(str_cat("--model ", args.model, " and --revision ", args.revision,
                                 " name different revisions"));
      }
      repo->revision = args.revision;
    }
    const HubSnapshot snap = hub_download_model(config, *repo);
    directory = snap.directory;
    log_info(repo->display(), " at commit ", snap.commit, ": ", snap.weight_files.size(),
             " weight file(s) in ", directory);
  }
  std::printf("%s\n", directory.c_str());
  std::fflush(stdout);
}

void setup_download(CLI::App& app, int* /*exit_code*/) {
  auto args = std::make_shared<DownloadArgs>();
  CLI::App* cmd = app.add_subcommand(
      "download",
      "Fetch a model (Hub id org/name[@revision] or URL) into the local Hugging Face cache and "
      "print its local directory; later runs can use it offline (HF_HUB_OFFLINE=1)");
  cmd->add_option("--model", args->model, "Hub id org/name[@revision], URL, or local directory")
      ->required();
  cmd->add_option("--revision", args->revision, "branch, tag or commit hash (default: main)");
  cmd->callback([args] { run_download(*args); });
}

}  // namespace

SEGQ_REGISTER_COMMAND("download", 80, setup_download);

}  // namespace segq::cli
