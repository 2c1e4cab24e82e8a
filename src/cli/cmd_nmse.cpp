// segq nmse --model M --data D [--methods fp8,int8,int4,int2] [--limit N] [--protocol hf] [--json]:
// for each method, the logit NMSE / SQNR vs the fp32 model and the top-1 agreement on N images
// (eval/logit_fidelity.h), with the stored size. Labels are not used.
#include <cstdio>

#include "cli/command.h"
#include "cli/model_weights.h"
#include "core/error.h"
#include "core/log.h"
#include "eval/logit_fidelity.h"

namespace segq::cli {
namespace {

struct NmseArgs {
  std::string model;
  std::string methods = "fp8,int8,int4,int2";
  PlanArgs plan;
  InputArgs inputs;
  bool json = false;
};

void run_nmse(const NmseArgs& a) {
  std::vector<PlanOptions> plans;
  for (const MethodSpec& m : parse_method_list(a.methods)) {
    std::string why;
    if (!method_available(m, &why)) throw UsageError(why);
    plans.push_back(plan_options(a.plan, m.name));
  }
  const ResolvedWeights w = resolve_weights(a.model, PlanArgs{});
  if (w.stored_quantized) {
    throw UsageError(str_cat(a.model, " is a quantized checkpoint (", w.method,
                             "); nmse compares methods against the fp32 model"));
  }
  const std::vector<Tensor> inputs = load_model_inputs(a.inputs, w.files);
  const std::vector<MethodFidelity> rows =
      logit_fidelity(w.files.config, w.dense, plans, inputs, [&](size_t i) {
        log_info("nmse: ", plans[i].method.name, " (", i + 1, "/", plans.size(), ")");
      });
  if (a.json) {
    nlohmann::json j = {
        {"model", w.files.spec}, {"inputs", inputs.size()}, {"methods", logit_fidelity_json(rows)}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("model: %s, %zu input(s)\n%s", w.files.spec.c_str(), inputs.size(),
                logit_fidelity_text(rows).c_str());
  }
}

void setup(CLI::App& app, int* /*exit_code*/) {
  auto args = std::make_shared<NmseArgs>();
  CLI::App* cmd = app.add_subcommand(
      "nmse", "Logit NMSE / SQNR vs fp32 and top-1 agreement of quantization methods");
  cmd->add_option("--model", args->model, "fp32 model directory (config.json + weights)")
      ->required();
  cmd->add_option("--methods", args->methods, "Comma-separated methods (see `segq methods`)")
      ->capture_default_str();
  add_plan_options(cmd, &args->plan);
  add_input_options(cmd, &args->inputs);
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args] { run_nmse(*args); });
}

}  // namespace

SEGQ_REGISTER_COMMAND("nmse", 46, setup);

}  // namespace segq::cli
