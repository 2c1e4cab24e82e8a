// segq eval --model M --data D [--methods fp32,...] [--protocol hf|seed|mmseg] [--split S]
//           [--batch-size B] [--threads T] [--data-workers W] [--limit N] [--shard i/n]
//           [--num-shards n] [--out DIR] [--resume] [--save-preds DIR] [--skip-bad]
//           [--images DIR --labels DIR] [--checkpoint-every N] [--config FILE] [--dry-run]
//           [--json] [--wandb [MODE]] [--mlflow URI] [--baseline MODEL] [--fold-decode-head]
// Evaluates the fp32 baseline and each method on the dataset (this process's shard of it) and
// writes <out>/shards/shard-<i>-of-<n>.json, plus, for an unsharded run, <out>/config.json,
// results.json, results.csv, per_class.csv and samples/. Without --model/--data/--images it runs
// the embedded demo (cli/eval_demo.h). --config FILE: a JSON object or a TOML file (CLI11's TOML
// subset: key = value lines) whose keys are option names without the dashes ("batch-size": 8);
// options given on the command line win. Exit codes: 0 ok, 1 failure during the run (progress
// saved, --resume continues), 2 usage error, 130 interrupted (progress saved). A quantized --model
// (segq quantize output) is evaluated as stored, beside its fp32 --baseline when one is given.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>

#include "cli/command.h"
#include "cli/eval_demo.h"
#include "cli/eval_observers.h"
#include "cli/model_weights.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "data/dataset.h"
#include "data/preprocess.h"
#include "data/shard.h"
#include "eval/evaluator.h"
#include "eval/method.h"
#include "eval/results.h"
#include "eval/run_tables.h"
#include "io/file_util.h"
#include "io/image.h"
#include "io/model_files.h"
#include "track/sink.h"

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
#include "quant/checkpoint.h"
#include "quant/method.h"
#include "quant/plan.h"
#include "quant/size_report.h"
#include "report/report.h"
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
  std::string methods = "fp32";  // the demo's default list when running the demo
  std::string baseline;          // fp32 checkpoint beside a stored quantized --model
  bool fold_decode_head = false;
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
  std::string config;
  bool dry_run = false;
  bool print_json = false;
  std::string wandb_mode, mlflow_uri;  // bound to the options
  std::optional<std::string> wandb;    // nullopt: --wandb not given
  std::optional<std::string> mlflow;
  bool methods_given = false;
};

// Fills the options not given on the command line from a JSON object or a TOML file.
void apply_config_file(const std::string& path, CLI::App* cmd) {
  if (!fs::is_regular_file(path)) throw UsageError(str_cat("--config ", path, ": no such file"));
  const std::string text = read_file(path);
  std::vector<std::pair<std::string, std::vector<std::string>>> items;
  const json j = json::parse(text, nullptr, false);
  if (!j.is_discarded()) {
    if (!j.is_object()) throw UsageError(str_cat(path, ": a config file must be a JSON object"));
    for (auto it = j.begin(); it != j.end(); ++it) {
      std::vector<std::string> values;
      auto scalar = [&](const json& v) {
        if (v.is_string()) return v.get<std::string>();
        if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
        if (v.is_number()) return v.dump();
        throw UsageError(str_cat(path, ": bad config value for '", it.key(), "': ", v.dump()));
      };
      if (it.value().is_array()) {
        std::string joined;  // lists (methods) are comma-separated on the command line
        for (const json& v : it.value()) joined += (joined.empty() ? "" : ",") + scalar(v);
        values.push_back(joined);
      } else {
        values.push_back(scalar(it.value()));
      }
      items.emplace_back(it.key(), values);
    }
  } else {
    std::istringstream in(text);
    std::vector<CLI::ConfigItem> parsed;
    try {
      parsed = CLI::ConfigTOML().from_config(in);
    } catch (const CLI::Error& e) {
      throw UsageError(str_cat(path, ": neither JSON nor TOML: ", e.what()));
    }
    for (const CLI::ConfigItem& c : parsed) {
      if (c.name == "++" || c.name == "--") continue;  // section markers
      std::string joined;
      for (const std::string& v : c.inputs) joined += (joined.empty() ? "" : ",") + v;
      items.emplace_back(c.name, std::vector<std::string>{joined});
    }
  }
  for (const auto& [key, values] : items) {
    if (key == "config") throw UsageError(str_cat(path, ": a config file cannot name another"));
    CLI::Option* opt = cmd->get_option_no_throw("--" + key);
    if (opt == nullptr) {
      throw UsageError(str_cat(path, ": unknown setting '", key, "' (settings are segq eval's ",
                               "option names without the dashes, e.g. \"batch-size\")"));
    }
    if (opt->count() > 0) continue;  // the command line wins
    try {
      if (opt->get_type_size() == 0) {  // a flag
        const std::string& v = values.at(0);
        if (v == "true" || v == "1") {
          opt->add_result(std::string("true"));
        } else if (v != "false" && v != "0") {
          throw UsageError(str_cat(path, ": bad config value for '", key, "': ", v,
                                   " (expected true or false)"));
        } else {
          continue;
        }
      } else {
        for (const std::string& v : values) opt->add_result(v);
      }
      opt->run_callback();
    } catch (const CLI::ParseError& e) {
      throw UsageError(str_cat(path, ": bad config value for '", key, "': ", e.what()));
    }
  }
}

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

// Every resolved setting of the run, for config.json and the trackers.
json settings_json(const EvalArgs& a, bool demo, const std::string& model, const std::string& data,
                   const std::string& out, const ShardSpec& shard, int threads, int data_workers,
                   const std::vector<EvalMethod>& methods) {
  json m = json::array();
  for (const EvalMethod& e : methods) m.push_back({{"name", e.name}, {"spec", e.spec}});
  return {{"demo", demo},
          {"model", model},
          {"data", data},
          {"images", a.images},
          {"labels", a.labels},
          {"split", a.split},
          {"methods", m},
          {"protocol", a.protocol},
          {"batch_size", a.batch_size},
          {"threads", threads},
          {"data_workers", data_workers},
          {"limit", a.limit},
          {"shard", {{"index", shard.index}, {"count", shard.count}, {"source", shard.source}}},
          {"out", out},
          {"resume", a.resume},
          {"save_preds", a.save_preds},
          {"skip_bad", a.skip_bad},
          {"checkpoint_every", a.checkpoint_every},
          {"config_file", a.config},
          {"baseline", a.baseline},
          {"fold_decode_head", a.fold_decode_head}};
}

#if SEGQ_HAVE_QUANT && SEGQ_HAVE_SEGFORMER
// A quantized --model must be the same network as its --baseline: every stored weight has an
// fp32 counterpart of the same shape, and nothing else differs in count.
void check_same_network(const WeightSet& stored, const std::string& stored_spec,
                        const WeightSet& fp32, const std::string& fp32_spec) {
  for (const auto& [name, w] : stored) {
    const auto it = fp32.find(name);
    if (it == fp32.end()) {
      throw UsageError(str_cat("--baseline ", fp32_spec, " has no tensor '", name, "' which ",
                               stored_spec, " stores: not the model it was quantized from"));
    }
    if (it->second.shape() != w.shape()) {
      throw UsageError(str_cat("--baseline ", fp32_spec, ": tensor '", name, "' has shape ",
                               shape_str(it->second.shape()), " but ", stored_spec, " stores ",
                               shape_str(w.shape()), ": not the model it was quantized from"));
    }
  }
  if (fp32.size() != stored.size()) {
    throw UsageError(str_cat("--baseline ", fp32_spec, " has ", fp32.size(), " weight tensors, ",
                             stored_spec, " ", stored.size(),
                             ": not the model it was quantized from"));
  }
}
#endif

void run_eval(EvalArgs a, int* exit_code) {
  // No model and no data: the embedded demo.
  const bool demo = a.model.empty() && a.data.empty() && a.images.empty();
  if (demo) {
    a.model = find_demo_model();
    if (a.methods == "fp32" && !a.methods_given) a.methods = kDemoMethods;
  }
  if (a.model.empty())
    throw UsageError("--model is required (or run segq eval alone for the demo)");
  if (!demo && a.data.empty() == a.images.empty()) {
    throw UsageError("give --data DIR|ZIP, or --images DIR with --labels DIR");
  }
  if (a.images.empty() != a.labels.empty()) throw UsageError("--images and --labels go together");
  if (a.batch_size < 1) throw UsageError("--batch-size must be at least 1");
  if (a.threads < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");
  if (a.limit < 0) throw UsageError("--limit must be >= 0");
  if (a.resume && a.out.empty()) throw UsageError("--resume needs --out DIR (the run to continue)");
  if (!a.data.empty() && !fs::exists(a.data)) {
    throw UsageError(str_cat("--data ", a.data, ": no such file or directory"));
  }
  for (const std::string* d : {&a.images, &a.labels}) {
    if (!d->empty() && !fs::is_directory(*d)) {
      throw UsageError(str_cat(*d, ": no such directory"));
    }
  }
  const ShardSpec shard = resolve_shard(a.shard, a.num_shards);
  if (shard.count > 1 && a.out.empty()) {
    throw UsageError("a sharded run needs --out DIR, the same directory for every shard");
  }
  std::vector<EvalMethod> methods = resolve_methods(a.methods, resolve_method);
  // Tracker settings are checked before any work (a bad WANDB_MODE is a usage error).
  std::unique_ptr<track::Tracker> tracker = make_tracker(a.wandb, a.mlflow);
#if SEGQ_HAVE_DATASETS && SEGQ_HAVE_SEGFORMER
  const Protocol protocol = protocol_from_name(a.protocol);
  set_num_threads(a.threads);
  const int threads = global_pool().num_threads();
  if (demo && a.data.empty()) a.data = ensure_demo_data();

  const ModelFiles files = load_model_files(a.model);
  const int num_labels = num_labels_of(files.config);
  // A stored quantized checkpoint (segq quantize) is evaluated as stored; the fp32 checkpoint it
  // came from is evaluated beside it, as the baseline of the comparisons, when --baseline names it.
  WeightSet fp32;
  std::string baseline_sha256;
  bool stored_quantized = false;
#if SEGQ_HAVE_QUANT
  CheckpointWeights stored = weights_from_checkpoint(files.tensors, files.metadata, files.spec);
  stored_quantized = stored.quantized;
  if (stored_quantized) {
    if (a.methods_given) {
      throw UsageError(str_cat(
          files.spec, " is a quantized checkpoint (", stored.method,
          "): it is evaluated as stored, so --methods does not apply; to compare other methods, "
          "give the fp32 checkpoint as --model"));
    }
    if (!a.baseline.empty()) {
      BaselineWeights base = load_baseline_weights(a.baseline);
      if (num_labels_of(base.files.config) != num_labels) {
        throw UsageError(str_cat("--baseline ", base.files.spec, " has ",
                                 num_labels_of(base.files.config), " labels, ", files.spec, " ",
                                 num_labels));
      }
      check_same_network(stored.weights, files.spec, base.weights, base.files.spec);
      fp32 = std::move(base.weights);
      baseline_sha256 = weights_fingerprint(base.files);
    } else {
      log_warn(files.spec, " is a quantized checkpoint (", stored.method,
               ") evaluated without an fp32 baseline: no dmIoU, agreement or logit NMSE; give "
               "--baseline MODEL (the checkpoint it was quantized from) for them");
    }
    EvalMethod m;
    m.name = stored.method;
    // The stored method's resolved spec where it is a method name (a --plan's name may not be);
    // "stored:" marks weights that come from the file, not from quantizing the baseline.
    std::string resolved = stored.method;
    try {
      resolved = parse_method(stored.method).name;
    } catch (const Error&) {
    }
    m.spec = "stored:" + resolved;
    auto weights = std::make_shared<const WeightSet>(std::move(stored.weights));
    m.make_weights = [weights](const WeightSet&) { return *weights; };
    methods.clear();
    if (!fp32.empty()) methods.push_back(fp32_method());
    methods.push_back(std::move(m));
  } else {
    fp32 = std::move(stored.weights);  // a plain checkpoint: the dense fp32 set
  }
#else
  fp32 = dense_weight_set(files.tensors);
#endif
  if (!a.baseline.empty() && !stored_quantized) {
    throw UsageError(str_cat("--baseline applies to a quantized --model; ", files.spec,
                             " is an fp32 checkpoint and is its own baseline"));
  }
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
  if (!baseline_sha256.empty()) fi.model["baseline_sha256"] = baseline_sha256;
  // The fold changes float rounding, so runs with and without it are different evaluations.
  if (a.fold_decode_head) fi.model["fold_decode_head"] = true;
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

  const std::string out_dir =
      !a.out.empty()
          ? a.out
          : (demo ? str_cat("runs/demo-", default_run_dir().substr(5)) : default_run_dir());
  const int data_workers =
      a.data_workers > 0 ? a.data_workers : std::max(1, std::min(4, threads / 2));
  const std::string data_desc = a.data.empty() ? a.images + " | " + a.labels : a.data;

  if (a.dry_run) {
    // The plan, without inference: what would run, on what, with which weights.
    std::printf("model    %s (%s, %d labels)\n", files.spec.c_str(),
                files.config.value("model_type", "?").c_str(), num_labels);
    std::printf("data     %s (%s): %zu samples%s\n", data_desc.c_str(),
                dataset->description().c_str(), n,
                shard.count > 1 ? str_cat(", shard ", shard.index, "/", shard.count, ": ",
                                          shard_indices(n, shard).size(), " samples")
                                      .c_str()
                                : "");
    std::printf("protocol %s, batch size %d, %d threads, out %s\n", protocol_name(protocol),
                a.batch_size, threads, out_dir.c_str());
    for (const EvalMethod& m : methods) {
      std::printf("\nmethod %s (%s)\n", m.name.c_str(), m.spec.c_str());
#if SEGQ_HAVE_QUANT
      const WeightSet w = m.make_weights(fp32);
      std::fputs(
          size_report_text(make_size_report(w, m.name, fp32.empty() ? nullptr : &fp32)).c_str(),
          stdout);
#endif
    }
    *exit_code = 0;
    return;
  }

  EvalJob job;
  job.fingerprint = make_fingerprint(fi);
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  job.info = {
      {"model", files.spec},
      {"model_directory", files.directory},
      {"data", data_desc},
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
  SegformerOptions model_options;
  model_options.fold_decode_head = a.fold_decode_head;
  job.make_model = [&files, model_options](const WeightSet& w) -> std::unique_ptr<Model> {
    return make_segformer(files.config, w, files.directory + "/config.json", model_options);
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
  o.out_dir = out_dir;
  o.samples_dir = (fs::path(o.out_dir) / "samples").string();
  const std::vector<std::string> previews =
      preview_sample_ids(job.sample_ids, o.num_preview_samples);
  job.info["preview_ids"] = previews;
  o.shard = shard;
  o.resume = a.resume;
  o.batch_size = a.batch_size;
  o.data_workers = data_workers;
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

  // config.json: every resolved setting (the shard files and results.json carry the fingerprint).
  const json settings =
      settings_json(a, demo, files.spec, data_desc, out_dir, shard, threads, data_workers, methods);
  const std::string git_commit = SEGQ_GIT_COMMIT;
  const json config = {{"kind", "segq-eval-config"},
                       {"segq_version", SEGQ_VERSION},
                       {"git_commit", git_commit.empty() ? json(nullptr) : json(git_commit)},
                       {"cpu", cpu_model_name()},
                       {"threads", threads},
                       {"host", host},
                       {"command_settings", settings},
                       {"model_config", files.config},
                       {"preprocessor_config", files.preprocessor_config},
                       {"fingerprint", job.fingerprint}};
  if (shard.index == 0) {
    write_file_atomic((fs::path(out_dir) / "config.json").string(), config.dump(1) + "\n");
  }

  // Trackers: one evaluation id per run directory and settings, stable across --resume.
  track::TrackingRun run;
  run.eval_id = sha256_hex(fingerprint_sha256(job.fingerprint) + "\n" +
                           fs::absolute(out_dir).lexically_normal().string())
                    .substr(0, 16);
  run.model_id = files.spec;
  run.dataset = demo ? "segq-synth-demo" : dataset->description();
  run.config = settings;
  run.model_config = files.config;
  run.segq_version = SEGQ_VERSION;
  run.git_commit = git_commit;
  run.cpu = cpu_model_name();
  run.threads = threads;
  for (const EvalMethod& m : methods) {
    track::MethodDesc md;
    md.name = m.name;
    md.family = method_family(m.spec);
    md.nominal_bits = method_nominal_bits(md.family);
    md.bits_per_weight = md.nominal_bits;
    md.spec = {{"name", m.name}, {"spec", m.spec}};
    run.methods.push_back(md);
  }
  run.baseline_method = methods.front().name;
  run.shard_index = shard.index;
  run.shard_count = shard.count;

  ProgressObserver progress(isatty(STDERR_FILENO) != 0, 10.0);
  TrackingObserver tracking(tracker.get(), class_names, o.samples_dir, previews);
  FanoutObserver observers;
  if (!a.print_json) observers.add(&progress);
  if (!tracker->empty()) {
    observers.add(&tracking);
    tracker->on_run_started(run);
  }
  log_info(
      "evaluating ", n, " samples",
      shard.count > 1 ? str_cat(" (shard ", shard.index, "/", shard.count, ")") : std::string(),
      " with ", methods.size(), " method(s) into ", o.out_dir);
  ShardState state;
  try {
    state = run_evaluation(job, o, &observers);
  } catch (const Interrupted&) {
    if (!tracker->empty()) tracker->on_run_finished({130, {}, 0});
    throw;
  } catch (...) {
    if (!tracker->empty()) tracker->on_run_finished({1, {}, 0});
    throw;
  }
  std::vector<std::string> artifacts;
  if (shard.count == 1) {
    const json results = results_json(state);
    write_run_tables(out_dir, results);
    write_report_or_warn(out_dir);
    for (const char* f :
         {"results.json", "results.csv", "per_class.csv", "config.json", "report.html"}) {
      artifacts.push_back((fs::path(out_dir) / f).string());
    }
    if (a.print_json) {
      std::fputs((results.dump(1) + "\n").c_str(), stdout);
    } else {
      std::fputs(results_summary(results).c_str(), stdout);
      std::printf("results: %s/results.json\n", o.out_dir.c_str());
    }
  } else {
    std::printf(
        "shard %d/%d done: %s\nwhen every shard is done: segq merge %s/shards/*.json --out "
        "%s\n",
        shard.index, shard.count, shard_file_path(o.out_dir, shard).c_str(), o.out_dir.c_str(),
        o.out_dir.c_str());
  }
  if (!tracker->empty()) tracker->on_run_finished({0, artifacts, 0});
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
  cmd->add_option("--model", args->model,
                  "Model directory, Hub id or URL (none, with no data: the embedded demo)");
  cmd->add_option("--data", args->data, "ADEChallengeData2016 folder, its parent, or the .zip");
  cmd->add_option("--images", args->images, "Generic dataset: image folder (with --labels)");
  cmd->add_option("--labels", args->labels, "Generic dataset: label folder (with --images)");
  cmd->add_option("--split", args->split, "validation (default) or training");
  CLI::Option* methods_opt = cmd->add_option("--methods", args->methods,
                                             str_cat("Comma-separated methods; fp32 is always "
                                                     "evaluated first (default fp32; the demo: ",
                                                     kDemoMethods, ")"))
                                 ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("--baseline", args->baseline,
                  "With a quantized --model (segq quantize output): the fp32 checkpoint it came "
                  "from, evaluated beside it as the baseline of the comparisons");
  cmd->add_flag("--fold-decode-head", args->fold_decode_head,
                "Run the decode head as its exact algebraic fold (about 2x faster on b0; float "
                "rounding differs from transformers in rare near-tie pixels)");
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
  cmd->add_option("--config", args->config,
                  "Settings from a JSON or TOML file (keys = option names, e.g. batch-size); "
                  "command-line options win");
  cmd->add_flag("--dry-run", args->dry_run,
                "Print the plan (model, data, samples, methods with per-layer formats and sizes) "
                "without running inference");
  cmd->add_flag("--json", args->print_json, "Print results.json instead of the table");
  CLI::Option* wandb = cmd->add_option("--wandb", args->wandb_mode,
                                       "Log to W&B: offline (default; or WANDB_MODE), online, "
                                       "disabled")
                           ->expected(0, 1);
  CLI::Option* mlflow =
      cmd->add_option("--mlflow", args->mlflow_uri, "MLflow tracking URI (or MLFLOW_TRACKING_URI)");
  cmd->callback([args, exit_code, cmd, methods_opt, wandb, mlflow] {
    if (!args->config.empty()) apply_config_file(args->config, cmd);
    EvalArgs a = *args;
    a.methods_given = methods_opt->count() > 0;
    if (wandb->count() > 0) a.wandb = a.wandb_mode;
    if (mlflow->count() > 0) a.mlflow = a.mlflow_uri;
    run_eval(a, exit_code);
  });
}

SEGQ_REGISTER_COMMAND("eval", 40, setup);

}  // namespace
}  // namespace segq::cli
