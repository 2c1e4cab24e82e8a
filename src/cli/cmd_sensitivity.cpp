// segq sensitivity --model M --data D --method X [--limit N] [--protocol hf] [--json]: for every
// layer the method quantizes, the SQNR of that layer's output and of the final logits when only
// that layer is quantized, on N images (eval/layer_sensitivity.h); most damaging layers first.
#include <cstdio>

#include "cli/command.h"
#include "cli/model_weights.h"
#include "core/error.h"
#include "core/log.h"
#include "eval/layer_sensitivity.h"

namespace segq::cli {
namespace {

struct SensitivityArgs {
  std::string model;
  std::string method;
  InputArgs inputs;
  bool json = false;
};

void run_sensitivity(const SensitivityArgs& a) {
  const MethodSpec method = parse_method(a.method);
  if (!method.quantizes_weights()) {
    throw UsageError(str_cat("--method ", method.name, " quantizes nothing"));
  }
  std::string why;
  if (!method_available(method, &why)) throw UsageError(why);
  const ResolvedWeights w = resolve_weights(a.model, PlanArgs{});
  if (w.stored_quantized) {
    throw UsageError(str_cat(a.model, " is a quantized checkpoint (", w.method,
                             "); sensitivity needs the fp32 model"));
  }
  const std::vector<Tensor> inputs = load_model_inputs(a.inputs, w.files);
  const SensitivityReport r = layer_sensitivity(
      w.files.config, w.dense, method, inputs,
      [&](size_t i) { log_info("sensitivity: image ", i + 1, "/", inputs.size()); });
  if (a.json) {
    nlohmann::json j = sensitivity_json(r);
    j["model"] = w.files.spec;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("model: %s\n%s", w.files.spec.c_str(), sensitivity_text(r).c_str());
  }
}

void setup(CLI::App& app, int* /*exit_code*/) {
  auto args = std::make_shared<SensitivityArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sensitivity", "Per-layer damage: output and logits SQNR with one layer quantized at a time");
  cmd->add_option("--model", args->model, "fp32 model directory (config.json + weights)")
      ->required();
  cmd->add_option("--method", args->method, "Quantization method (see `segq methods`)")->required();
  add_input_options(cmd, &args->inputs);
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args] { run_sensitivity(*args); });
}

}  // namespace

SEGQ_REGISTER_COMMAND("sensitivity", 45, setup);

}  // namespace segq::cli
