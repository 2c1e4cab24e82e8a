// `segq track-demo` (hidden, for tests and development): replays a JSON description of an
// evaluation's events (track/event_json.h) into the tracker sinks, as `segq eval` would.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "cli/command.h"
#include "core/error.h"
#include "io/file_util.h"
#include "track/env.h"
#include "track/event_json.h"
#include "track/mlflow_sink.h"
#include "track/sink.h"
#include "track/wandb_log.h"
#include "track/wandb_sink.h"

namespace segq::cli {
namespace {

struct TrackDemoOptions {
  std::string events_path;
  std::string wandb_mode;
  std::string mlflow_uri;
  std::string results_path;
};

void run_track_demo(const TrackDemoOptions& o, bool wandb_given, bool mlflow_given) {
  const nlohmann::json doc = nlohmann::json::parse(read_file(o.events_path), nullptr, false);
  if (doc.is_discarded()) throw UsageError(str_cat(o.events_path, ": not valid JSON"));
  const track::EnvLookup env = track::process_env();
  const track::WandbSettings wandb = track::resolve_wandb_settings(
      wandb_given ? std::optional<std::string>(o.wandb_mode) : std::nullopt, env);
  const track::MlflowSettings mlflow = track::resolve_mlflow_settings(
      mlflow_given ? std::optional<std::string>(o.mlflow_uri) : std::nullopt, env);

  track::Tracker tracker;
  if (wandb.enabled()) tracker.add(std::make_unique<track::WandbSink>(wandb));
  if (mlflow.enabled()) tracker.add(std::make_unique<track::MlflowSink>(mlflow));
  if (!o.results_path.empty()) {
    tracker.add(std::make_unique<track::SummaryFileSink>(o.results_path));
  }
  const std::string base_dir = std::filesystem::path(o.events_path).parent_path().string();
  track::replay_events(doc, base_dir.empty() ? "." : base_dir, tracker,
                       [](const nlohmann::json& event) {
                         // Tests wait for this line, then kill the process.
                         std::printf("PAUSED\n");
                         std::fflush(stdout);
                         const double seconds = event.value("seconds", 600.0);
                         std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
                       });
}

void setup_track_demo(CLI::App& app, int* /*exit_code*/) {
  auto opts = std::make_shared<TrackDemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "track-demo", "Replay evaluation events from a JSON file into the trackers (development)");
  cmd->group("");  // hidden from --help
  cmd->add_option("--events", opts->events_path, "JSON file: {\"run\": ..., \"events\": [...]}")
      ->required();
  CLI::Option* wandb = cmd->add_option("--wandb", opts->wandb_mode,
                                       "Log to W&B: offline (default), online or disabled")
                           ->expected(0, 1);
  CLI::Option* mlflow = cmd->add_option("--mlflow", opts->mlflow_uri, "MLflow tracking server URI");
  cmd->add_option("--results", opts->results_path, "Also write the summaries to this JSON file");
  cmd->callback(
      [opts, wandb, mlflow] { run_track_demo(*opts, wandb->count() > 0, mlflow->count() > 0); });
}

// `segq track-framing` (hidden, for the interop tests): writes a W&B transaction log whose
// records have exactly the given payload sizes, to check the framing with wandb's own reader.
void setup_track_framing(CLI::App& app, int* /*exit_code*/) {
  auto out = std::make_shared<std::string>();
  auto sizes = std::make_shared<std::vector<size_t>>();
  CLI::App* cmd = app.add_subcommand(
      "track-framing", "Write a W&B log with records of the given sizes (development)");
  cmd->group("");
  cmd->add_option("--out", *out, "Output .wandb file")->required();
  cmd->add_option("--sizes", *sizes, "Payload sizes in bytes (>= 3)")->required()->delimiter(',');
  cmd->callback([out, sizes] {
    std::string log = track::wandb_log_file_header();
    for (size_t n : *sizes) track::wandb_log_append(log, track::wandb_padding_record(n));
    write_file_atomic(*out, log);
  });
}

SEGQ_REGISTER_COMMAND("track-demo", 900, setup_track_demo);
SEGQ_REGISTER_COMMAND("track-framing", 901, setup_track_framing);

}  // namespace
}  // namespace segq::cli
