// Shared by the commands that take a model and a quantization method (inspect, sensitivity, nmse,
// quantize): the --method/--include/--exclude/--plan options, and resolving a model spec into the
// weight set to run — an fp32 checkpoint quantized in memory, or a quantized checkpoint as stored.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "io/model_files.h"
#include "quant/plan.h"

namespace segq::cli {

struct PlanArgs {
  std::string method;  // empty: none given
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::string plan_file;
};

// Adds --include, --exclude and --plan (the caller adds --method or --methods).
void add_plan_options(CLI::App* cmd, PlanArgs* args);
// The plan options for `method` (parsed) with the include/exclude globs and the override file.
// Throws UsageError for a bad method or a missing/invalid plan file.
PlanOptions plan_options(const PlanArgs& args, const std::string& method);
bool has_plan_overrides(const PlanArgs& args);

struct ResolvedWeights {
  ModelFiles files;
  WeightSet dense;                // the fp32 weights (empty for a quantized checkpoint)
  WeightSet weights;              // what the model runs
  std::string method = "fp32";    // the plan's name, or the quantized checkpoint's method
  bool stored_quantized = false;  // a quantized checkpoint, evaluated as stored
};

// Loads `model`. A quantized checkpoint is returned as stored; asking for a method (or
// include/exclude/plan options) on one is a UsageError. An fp32 checkpoint is quantized with
// args.method when one is given (fp32 otherwise).
ResolvedWeights resolve_weights(const std::string& model, const PlanArgs& args);

// The fp32 checkpoint a --baseline option names (beside a stored quantized --model): its files
// and dense weights. A UsageError when it is itself a quantized checkpoint.
struct BaselineWeights {
  ModelFiles files;
  WeightSet weights;
};
BaselineWeights load_baseline_weights(const std::string& model);

// --data/--split/--limit/--protocol: model inputs from a dataset (ADE20K layout, e.g. `segq
// synth`).
struct InputArgs {
  DatasetOptions data;
  size_t limit = 4;
  std::string protocol = "hf";
};
void add_input_options(CLI::App* cmd, InputArgs* args);
// The first `limit` samples preprocessed for the model of `files` (its preprocessor_config.json,
// transformers' defaults when absent) as [1, 3, H, W] tensors.
std::vector<Tensor> load_model_inputs(const InputArgs& args, const ModelFiles& files);

}  // namespace segq::cli
