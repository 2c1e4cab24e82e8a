#include "cli/model_weights.h"

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "data/preprocess.h"
#include "eval/logit_fidelity.h"
#include "io/file_util.h"
#include "model/segformer_config.h"
#include "quant/checkpoint.h"

namespace segq::cli {

void add_plan_options(CLI::App* cmd, PlanArgs* args) {
  cmd->add_option("--include", args->include,
                  "Quantize only weights whose name matches one of these globs");
  cmd->add_option("--exclude", args->exclude, "Keep weights matching these globs in fp32");
  cmd->add_option("--plan", args->plan_file,
                  "Per-layer overrides: JSON {\"glob\": \"method\"}, first match wins");
}

bool has_plan_overrides(const PlanArgs& args) {
  return !args.include.empty() || !args.exclude.empty() || !args.plan_file.empty();
}

PlanOptions plan_options(const PlanArgs& args, const std::string& method) {
  PlanOptions options;
  options.method = parse_method(method);
  options.include = args.include;
  options.exclude = args.exclude;
  if (!args.plan_file.empty()) {
    if (!std::filesystem::exists(args.plan_file)) {
      throw UsageError(str_cat(args.plan_file, ": plan file not found"));
    }
    options.overrides = parse_override_json(read_file(args.plan_file), args.plan_file);
  }
  return options;
}

ResolvedWeights resolve_weights(const std::string& model, const PlanArgs& args) {
  ResolvedWeights r;
  r.files = load_model_files(model);
  CheckpointWeights loaded = weights_from_checkpoint(r.files.tensors, r.files.metadata, model);
  if (loaded.quantized) {
    if (!args.method.empty() || has_plan_overrides(args)) {
      throw UsageError(str_cat(model, " is already quantized (", loaded.method,
                               "); segq runs quantized checkpoints as stored, so --method does not "
                               "apply: drop --method, --include, --exclude and --plan"));
    }
    r.weights = std::move(loaded.weights);
    r.method = loaded.method;
    r.stored_quantized = true;
    return r;
  }
  r.dense = std::move(loaded.weights);
  if (args.method.empty() && !has_plan_overrides(args)) {
    r.weights = r.dense;
    return r;
  }
  const QuantizedModel q =
      quantize_model(r.dense, plan_options(args, args.method.empty() ? "fp32" : args.method));
  r.weights = q.weights;
  r.method = q.plan.name;
  return r;
}

BaselineWeights load_baseline_weights(const std::string& model) {
  BaselineWeights b;
  b.files = load_model_files(model);
  CheckpointWeights loaded = weights_from_checkpoint(b.files.tensors, b.files.metadata, model);
  if (loaded.quantized) {
    throw UsageError(str_cat("--baseline ", b.files.spec,
                             " is itself a quantized checkpoint; give an fp32 one"));
  }
  b.weights = std::move(loaded.weights);
  return b;
}

void add_input_options(CLI::App* cmd, InputArgs* args) {
  cmd->add_option("--data", args->data.data,
                  "Dataset: ADEChallengeData2016 folder, its parent or .zip (e.g. from segq synth)")
      ->required();
  cmd->add_option("--split", args->data.split, "validation | training")->capture_default_str();
  cmd->add_option("--limit", args->limit, "Images to use (0 = all)")->capture_default_str();
  cmd->add_option("--protocol", args->protocol, "Preprocessing protocol: hf | seed | mmseg")
      ->capture_default_str();
}

std::vector<Tensor> load_model_inputs(const InputArgs& args, const ModelFiles& files) {
  const Protocol protocol = protocol_from_name(args.protocol);
  const PreprocessConfig pre = preprocess_config_from_json(files.preprocessor_config);
  const int num_labels =
      SegformerConfig::from_json(files.config, files.directory + "/config.json").num_labels;
  const std::unique_ptr<Dataset> dataset = open_dataset(args.data);
  std::vector<Tensor> inputs =
      prepare_model_inputs(*dataset, protocol, pre, num_labels, args.limit);
  log_info("inputs: ", inputs.size(), " image(s) of ", dataset->description(), " (protocol ",
           protocol_name(protocol), ", ", inputs.empty() ? 0 : inputs[0].dim(2), "x",
           inputs.empty() ? 0 : inputs[0].dim(3), ")");
  return inputs;
}

}  // namespace segq::cli
