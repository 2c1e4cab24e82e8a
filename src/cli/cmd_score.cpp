// segq score --pred-dir DIR (--data D [--split S] | --images DIR --labels DIR) [--num-labels 150]
//            [--reduce-labels | --no-reduce-labels] [--json FILE] [--threads T]
// Scores class-index PNG predictions (<sample id>.png, values 0..N-1 in the model's output space)
// against a dataset's annotations, with the metrics `segq eval` reports. Annotations are reduced
// (0 = ignored, k -> k-1) by default for ADE20K data, not for generic folder pairs.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "data/dataset.h"
#include "eval/metrics.h"
#include "eval/score.h"
#include "io/file_util.h"

// open_dataset() is implemented by the data layer; until that lands in this build the command
// explains itself instead of failing to link (data/folder_dataset.h comes with it).
#if __has_include("data/folder_dataset.h")
#define SEGQ_HAVE_DATASETS 1
#else
#define SEGQ_HAVE_DATASETS 0
#endif

namespace segq::cli {
namespace {

struct ScoreArgs {
  std::string pred_dir;
  std::string data;
  std::string split = "validation";
  std::string images;
  std::string labels;
  int num_labels = 150;
  bool reduce = false;
  bool no_reduce = false;
  std::string json;
  int threads = 0;
};

void run_score(const ScoreArgs& a) {
  if (a.reduce && a.no_reduce) {
    throw UsageError("--reduce-labels and --no-reduce-labels exclude each other");
  }
  if (a.num_labels < 1 || a.num_labels > 254) {
    throw UsageError(str_cat("--num-labels ", a.num_labels, " outside [1, 254]"));
  }
  if (a.data.empty() == a.images.empty()) {
    throw UsageError("give --data DIR|ZIP, or --images DIR with --labels DIR");
  }
  if (a.images.empty() != a.labels.empty()) throw UsageError("--images and --labels go together");
  set_num_threads(a.threads);
#if SEGQ_HAVE_DATASETS
  DatasetOptions d;
  d.data = a.data;
  d.split = a.split;
  d.images_dir = a.images;
  d.labels_dir = a.labels;
  const std::unique_ptr<Dataset> dataset = open_dataset(d);
  ScoreOptions o;
  o.num_labels = a.num_labels;
  const bool ade = dataset->description().rfind("ade20k", 0) == 0;
  o.reduce_labels = a.reduce || (ade && !a.no_reduce);
  const ScoreResult r = score_prediction_dir(*dataset, a.pred_dir, o);
  const nlohmann::json j = score_json(r);
  auto show = [](const nlohmann::json& v) {
    return v.is_null() ? std::string("n/a") : str_cat(v.get<double>());
  };
  std::printf("mean_iou: %s\nmean_accuracy: %s\noverall_accuracy: %s\n",
              show(j.at("mean_iou")).c_str(), show(j.at("mean_accuracy")).c_str(),
              show(j.at("overall_accuracy")).c_str());
  std::printf("images: %llu  pixels: %llu  labels: %s\n",
              static_cast<unsigned long long>(r.counts.num_images()),
              static_cast<unsigned long long>(r.counts.num_pixels()),
              o.reduce_labels ? "reduced (0 ignored, k -> k-1)" : "as stored (255 ignored)");
  if (!a.json.empty()) write_file_atomic(a.json, j.dump(1) + "\n");
#else
  throw Error("segq score: this build has no dataset readers (the data layer is not linked in)");
#endif
}

void setup(CLI::App& app, int* /*exit_code*/) {
  auto args = std::make_shared<ScoreArgs>();
  CLI::App* cmd = app.add_subcommand(
      "score", "Score class-index PNG predictions (<id>.png) against a dataset's annotations");
  cmd->add_option("--pred-dir", args->pred_dir, "Directory of <sample id>.png predictions")
      ->required();
  cmd->add_option("--data", args->data, "ADEChallengeData2016 folder, its parent, or the .zip");
  cmd->add_option("--split", args->split, "validation (default) or training");
  cmd->add_option("--images", args->images, "Generic dataset: image folder (with --labels)");
  cmd->add_option("--labels", args->labels, "Generic dataset: label folder (with --images)");
  cmd->add_option("--num-labels", args->num_labels, "Number of classes (default 150)");
  cmd->add_flag("--reduce-labels", args->reduce,
                "Annotations store 0 = ignored, k = class k-1 (default for ADE20K data)");
  cmd->add_flag("--no-reduce-labels", args->no_reduce,
                "Annotations store class indices, 255 = ignored");
  cmd->add_option("--json", args->json, "Also write the metrics as JSON to FILE");
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  cmd->callback([args] { run_score(*args); });
}

SEGQ_REGISTER_COMMAND("score", 42, setup);

}  // namespace
}  // namespace segq::cli
