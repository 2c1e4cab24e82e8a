// segq quantize --model M --method X --out DIR [--include G]... [--exclude G]... [--plan FILE]
//               [--report] [--json]
// Writes DIR/model.safetensors (packed tensors + the quantization map,
// docs/quantized-checkpoint.md) and copies config.json and preprocessor_config.json; every file is
// written atomically.
#include <cstdio>
#include <filesystem>

#include "cli/command.h"
#include "cli/model_weights.h"
#include "core/error.h"
#include "io/file_util.h"
#include "io/model_files.h"
#include "io/safetensors.h"
#include "quant/checkpoint.h"
#include "quant/plan.h"
#include "quant/size_report.h"

namespace segq::cli {
namespace {

namespace fs = std::filesystem;

struct QuantizeArgs {
  std::string model;
  PlanArgs plan;  // plan.method: --method
  std::string out;
  bool report = false;
  bool json = false;
};

void run_quantize(const QuantizeArgs& a) {
  const PlanOptions options = plan_options(a.plan, a.plan.method);
  if (!options.method.quantizes_weights() && options.overrides.empty()) {
    throw UsageError(str_cat("--method ", options.method.name,
                             " keeps every weight fp32: there is nothing to quantize"));
  }
  const ModelFiles files = load_model_files(a.model);
  if (has_quantization_map(files.metadata)) {
    const CheckpointWeights loaded =
        weights_from_checkpoint(files.tensors, files.metadata, a.model);
    throw UsageError(str_cat(a.model, " is already quantized (", loaded.method,
                             "); segq quantizes fp32 checkpoints once and evaluates quantized "
                             "ones as stored"));
  }
  if (fs::exists(a.out) && !fs::is_directory(a.out)) {
    throw UsageError(str_cat("--out ", a.out, " exists and is not a directory"));
  }
  const WeightSet dense = weights_from_checkpoint(files.tensors, files.metadata, a.model).weights;
  const QuantizedModel q = quantize_model(dense, options);
  const CheckpointTensors ct = quantized_checkpoint_tensors(q.weights, q.plan.name);

  fs::create_directories(a.out);
  const std::string st_path = (fs::path(a.out) / "model.safetensors").string();
  for (const char* name : {"config.json", "preprocessor_config.json"}) {
    const fs::path src = fs::path(files.directory) / name;
    if (fs::exists(src))
      write_file_atomic((fs::path(a.out) / name).string(), read_file(src.string()));
  }
  write_safetensors(st_path, ct.tensors, ct.metadata);

  const SizeReport report = make_size_report(q.weights, q.plan.name, &dense);
  if (a.json) {
    nlohmann::json j = size_report_json(report);
    j["out"] = st_path;
    j["file_bytes"] = fs::file_size(st_path);
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  if (a.report) std::printf("%s", size_report_text(report).c_str());
  std::printf(
      "wrote %s: %s, %lld of %zu tensors quantized, %lld bytes of tensors (%.3f MB, %.3f "
      "bits/weight, %.2fx smaller than fp32), file %llu bytes\n",
      st_path.c_str(), q.plan.name.c_str(), static_cast<long long>(report.num_quantized),
      report.tensors.size(), static_cast<long long>(report.total_bytes), report.total_mb(),
      report.bits_per_weight(), report.compression_vs_fp32(),
      static_cast<unsigned long long>(fs::file_size(st_path)));
}

void setup(CLI::App& app, int* /*exit_code*/) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "quantize", "Write a quantized checkpoint (packed weights + quantization map)");
  cmd->add_option("--model", args->model, "Model directory (config.json + weights)")->required();
  cmd->add_option("--method", args->plan.method, "Quantization method (see `segq methods`)")
      ->required();
  cmd->add_option("--out", args->out, "Output directory")->required();
  add_plan_options(cmd, &args->plan);
  cmd->add_flag("--report", args->report, "Print the per-layer size and distortion table");
  cmd->add_flag("--json", args->json, "Print the size report as JSON");
  cmd->callback([args] { run_quantize(*args); });
}

}  // namespace

SEGQ_REGISTER_COMMAND("quantize", 55, setup);

}  // namespace segq::cli
