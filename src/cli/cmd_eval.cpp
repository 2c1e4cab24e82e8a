// segq eval --model M --data D [--methods fp32,...] [--protocol hf|seed|mmseg] [--split S]
//           [--batch-size B] [--threads T] [--data-workers W] [--limit N] [--shard i/n]
//           [--num-shards n] [--out DIR] [--resume] [--save-preds DIR] [--skip-bad]
//           [--images DIR --labels DIR] [--checkpoint-every N]
// Evaluates the fp32 baseline and each method on the dataset (this process's shard of it) and
// writes <out>/shards/shard-<i>-of-<n>.json, plus <out>/results.json for an unsharded run.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "data/dataset.h"
#include "data/preprocess.h"
#include "data/shard.h"
#include "eval/evaluator.h"
#include "eval/method.h"
#include "eval/results.h"
#include "io/file_util.h"
#include "io/image.h"
#include "io/model_files.h"

// The pieces this command wires together land from other parts of the project; each is used when
// its header is present, so every merge order builds (see the report of the eval branch).
#if __has_include("data/folder_dataset.h")  // data layer: open_dataset, prepare_sample
#define SEGQ_HAVE_DATASETS 1
#else
#define SEGQ_HAVE_DATASETS 0
#endif
#if __has_include("model/segformer.h")  // engine: SegFormer forward
#include "model/segformer.h"
#include "model/weight_set.h"
#define SEGQ_HAVE_SEGFORMER 1
#else
#define SEGQ_HAVE_SEGFORMER 0
#endif
#if __has_include("quant/plan.h")  // quantization: method grammar and weight-set quantization
#include "quant/method.h"
#include "quant/plan.h"
#define SEGQ_HAVE_QUANT 1
#else
#define SEGQ_HAVE_QUANT 0
#endif

namespace segq::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct EvalArgs {
  std::string model;
  std::string data;
  std::string images, labels;
  std::string split = "validation";
  std::string methods = "fp32";
  std::string protocol = "hf";
  int batch_size = 1;
  int threads = 0;
  int data_workers = 0;
  int64_t limit = 0;
  std::optional<std::string> shard;
  std::optional<int> num_shards;
  std::string out;
  bool resume = false;
  std::string save_preds;
  bool skip_bad = false;
  int checkpoint_every = 0;
};

// Hook: the model fingerprint. ModelFiles carries the weights' SHA-256 once io's loader provides
// it (weights_sha256); until then the weight files are hashed here.
template <class Files>
std::string weights_fingerprint(const Files& files) {
  if constexpr (requires { files.weights_sha256; }) {
    if (!files.weights_sha256.empty()) return files.weights_sha256;
  }
  std::string lines;
  for (const std::string& f : files.weight_files) {
    lines += fs::path(f).filename().string() + " " + sha256_file_hex(f) + "\n";
  }
  return files.weight_files.size() == 1 ? sha256_file_hex(files.weight_files[0])
                                        : sha256_hex(lines);
}

// Methods: fp32 here, everything else from the quantization layer's grammar.
EvalMethod resolve_method(const std::string& name) {
  if (name == "fp32") return fp32_method();
#if SEGQ_HAVE_QUANT
  const MethodSpec spec = parse_method(name);
  std::string why;
  if (!method_available(spec, &why)) {
    throw UsageError(str_cat("method '", name, "' cannot run yet: ", why));
  }
  EvalMethod m;
  m.name = name;
  m.spec = spec.name;
  m.make_weights = [spec](const WeightSet& fp32) {
    PlanOptions o;
    o.method = spec;
    return quantize_weights(fp32, make_quant_plan(fp32, o));
  };
  return m;
#else
  return resolve_builtin_method(name);
#endif
}

[[maybe_unused]] int num_labels_of(const json& config) {
  if (config.contains("num_labels")) return config.at("num_labels").get<int>();
  if (config.contains("id2label")) return static_cast<int>(config.at("id2label").size());
  throw Error("config.json: neither num_labels nor id2label");
}

// id2label[c] of a Hugging Face config, or the index as text.
[[maybe_unused]] std::string class_name_of(const json& config, int c) {
  const std::string key = std::to_string(c);
  if (config.contains("id2label") && config.at("id2label").contains(key) &&
      config.at("id2label").at(key).is_string()) {
    return config.at("id2label").at(key).get<std::string>();
  }
  return key;
}

[[maybe_unused]] std::string default_run_dir() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  std::random_device rd;
  char id[8];
  std::snprintf(id, sizeof id, "%06x", rd() & 0xffffff);
  return str_cat("runs/", stamp, "-", id);
}

[[maybe_unused]] std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void run_eval(const EvalArgs& a, int* exit_code) {
  if (a.model.empty()) throw UsageError("--model is required");
  if (a.data.empty() == a.images.empty()) {
    throw UsageError("give --data DIR|ZIP, or --images DIR with --labels DIR");
  }
  if (a.images.empty() != a.labels.empty()) throw UsageError("--images and --labels go together");
  if (a.batch_size < 1) throw UsageError("--batch-size must be at least 1");
  if (a.threads < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");
  if (a.limit < 0) throw UsageError("--limit must be >= 0");
  if (a.resume && a.out.empty()) throw UsageError("--resume needs --out DIR (the run to continue)");
  const ShardSpec shard = resolve_shard(a.shard, a.num_shards);
  if (shard.count > 1 && a.out.empty()) {
    throw UsageError("a sharded run needs --out DIR, the same directory for every shard");
  }
  std::vector<EvalMethod> methods = resolve_methods(a.methods, resolve_method);
#if SEGQ_HAVE_DATASETS && SEGQ_HAVE_SEGFORMER
  const Protocol protocol = protocol_from_name(a.protocol);
  set_num_threads(a.threads);
  const int threads = global_pool().num_threads();

  const ModelFiles files = load_model_files(a.model);
  const int num_labels = num_labels_of(files.config);
  const PreprocessConfig pre = preprocess_config_from_json(
      files.preprocessor_config.is_null() ? json::object() : files.preprocessor_config);
  DatasetOptions d;
  d.data = a.data;
  d.split = a.split;
  d.images_dir = a.images;
  d.labels_dir = a.labels;
  const std::unique_ptr<Dataset> dataset = open_dataset(d);
  const std::vector<Sample>& all = dataset->samples();
  const size_t n =
      a.limit > 0 ? std::min<size_t>(all.size(), static_cast<size_t>(a.limit)) : all.size();

  FingerprintInputs fi;
  fi.model_sha256 = weights_fingerprint(files);
  fi.model = {{"model_type", files.config.value("model_type", "")},
              {"config_sha256", sha256_hex(files.config.dump())}};
  fi.dataset_description = dataset->description();
  for (size_t i = 0; i < n; ++i) {
    fi.sample_keys.push_back(all[i].id + "\t" + all[i].image_name + "\t" + all[i].label_name);
  }
  fi.protocol = protocol_name(protocol);
  fi.preprocess = {{"do_resize", pre.do_resize},
                   {"height", pre.height},
                   {"width", pre.width},
                   {"resample", pre.resample},
                   {"do_rescale", pre.do_rescale},
                   {"rescale_factor", pre.rescale_factor},
                   {"do_normalize", pre.do_normalize},
                   {"image_mean", {pre.image_mean[0], pre.image_mean[1], pre.image_mean[2]}},
                   {"image_std", {pre.image_std[0], pre.image_std[1], pre.image_std[2]}},
                   {"reduce_labels", pre.reduce_labels}};
  fi.num_labels = num_labels;
  fi.methods = methods;

  const WeightSet fp32 = dense_weight_set(files.tensors);
  EvalJob job;
  job.fingerprint = make_fingerprint(fi);
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  job.info = {
      {"model", files.spec},
      {"model_directory", files.directory},
      {"data", a.data.empty() ? a.images + " | " + a.labels : a.data},
      {"split", a.split},
      {"host", host},
      {"started_utc", utc_now()},
      {"threads", threads},
      {"batch_size", a.batch_size},
      {"shard", {{"index", shard.index}, {"count", shard.count}, {"source", shard.source}}}};
  json class_names = json::array();
  for (int c = 0; c < num_labels; ++c) class_names.push_back(class_name_of(files.config, c));
  job.info["class_names"] = class_names;
  job.num_labels = num_labels;
  job.methods = methods;
  job.fp32_weights = &fp32;
  job.make_model = [&files](const WeightSet& w) -> std::unique_ptr<Model> {
    return make_segformer(files.config, w, files.directory + "/config.json");
  };
  for (size_t i = 0; i < n; ++i) job.sample_ids.push_back(all[i].id);
  const Dataset* ds = dataset.get();
  job.prepare = [ds, protocol, pre, num_labels](size_t i) {
    return prepare_sample(*ds, i, protocol, pre, num_labels);
  };

  job.load_rgb = [ds](size_t i) {
    return decode_image_rgb(ds->read_image_bytes(i), ds->image_location(i));
  };

  EvalOptions o;
  o.out_dir = a.out.empty() ? default_run_dir() : a.out;
  o.samples_dir = (fs::path(o.out_dir) / "samples").string();
  job.info["preview_ids"] = preview_sample_ids(job.sample_ids, o.num_preview_samples);
  o.shard = shard;
  o.resume = a.resume;
  o.batch_size = a.batch_size;
  o.data_workers = a.data_workers > 0 ? a.data_workers : std::max(1, std::min(4, threads / 2));
  o.skip_bad = a.skip_bad;
  // --skip-bad skips what the data layer reports as a bad sample; other errors end the run.
  o.is_bad_sample = [](const Error& e) {
    return dynamic_cast<const BadSampleError*>(&e) != nullptr;
  };
  o.save_preds_dir = a.save_preds;
  o.checkpoint_every_images = a.checkpoint_every;
  o.interrupt = &interrupt_flag();
  install_interrupt_handlers();
  if (protocol == Protocol::Mmseg) {
    log_info(
        "protocol mmseg: the keep-ratio resize approximates OpenCV's INTER_LINEAR; numbers "
        "can differ slightly from mmsegmentation's");
  }
  log_info(
      "evaluating ", n, " samples",
      shard.count > 1 ? str_cat(" (shard ", shard.index, "/", shard.count, ")") : std::string(),
      " with ", methods.size(), " method(s) into ", o.out_dir);
  const ShardState state = run_evaluation(job, o);
  if (shard.count == 1) {
    std::fputs(results_summary(results_json(state)).c_str(), stdout);
    std::printf("results: %s/results.json\n", o.out_dir.c_str());
  } else {
    std::printf(
        "shard %d/%d done: %s\nwhen every shard is done: segq merge %s/shards/*.json --out "
        "%s\n",
        shard.index, shard.count, shard_file_path(o.out_dir, shard).c_str(), o.out_dir.c_str(),
        o.out_dir.c_str());
  }
  *exit_code = 0;
#else
  (void)exit_code;
  throw Error(
      "segq eval: this build lacks the dataset readers or the SegFormer engine (not linked in)");
#endif
}

void setup(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Evaluate a model and quantization methods on a segmentation dataset");
  cmd->add_option("--model", args->model, "Model directory, Hub id or URL")->required();
  cmd->add_option("--data", args->data, "ADEChallengeData2016 folder, its parent, or the .zip");
  cmd->add_option("--images", args->images, "Generic dataset: image folder (with --labels)");
  cmd->add_option("--labels", args->labels, "Generic dataset: label folder (with --images)");
  cmd->add_option("--split", args->split, "validation (default) or training");
  cmd->add_option("--methods", args->methods,
                  "Comma-separated methods; fp32 is always evaluated first (default fp32)");
  cmd->add_option("--protocol", args->protocol, "hf (default), seed or mmseg");
  cmd->add_option("--batch-size", args->batch_size, "Images per forward pass (default 1)");
  cmd->add_option("--threads", args->threads, "Compute threads (default: all cores)");
  cmd->add_option("--data-workers", args->data_workers,
                  "Decode/preprocess threads (default: threads/2, 1..4)");
  cmd->add_option("--limit", args->limit, "Only the first N samples (by id)");
  cmd->add_option("--shard", args->shard,
                  "i/n: evaluate samples with index % n == i (default: from SLURM_ARRAY_*, "
                  "JOB_COMPLETION_INDEX or RANK/WORLD_SIZE, else 0/1)");
  cmd->add_option("--num-shards", args->num_shards,
                  "Shard count, for JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)");
  cmd->add_option("--out", args->out, "Run directory (default runs/<time>-<id>)");
  cmd->add_flag("--resume", args->resume, "Continue the run in --out");
  cmd->add_option("--save-preds", args->save_preds,
                  "Write predictions as class-index PNGs to DIR/<method>/<id>.png");
  cmd->add_flag("--skip-bad", args->skip_bad,
                "Skip unreadable or inconsistent samples, recording them in the results");
  cmd->add_option("--checkpoint-every", args->checkpoint_every,
                  "Also save progress every N images (always at least every 30 s)");
  cmd->callback([args, exit_code] { run_eval(*args, exit_code); });
}

SEGQ_REGISTER_COMMAND("eval", 40, setup);

}  // namespace
}  // namespace segq::cli
