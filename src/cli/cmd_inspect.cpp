// segq inspect --model M [--size HxW] [--method X [--include G].. [--exclude G].. [--plan FILE]]
//              [--baseline M] [--json]: config summary, parameters and GMACs per module (with and
// without the attention matmuls), bytes by dtype / weight format; with --method, or for a
// quantized checkpoint (method from its quantization map), the size report of quant/size_report.h:
// per layer format, group, params, bytes (codes, scales, shifts), SQNR and relative error against
// the fp32 weights (--baseline gives them for a quantized checkpoint), and the totals.
#include <cstdio>
#include <string>

#include "cli/command.h"
#include "cli/model_weights.h"
#include "core/error.h"
#include "io/model_files.h"
#include "model/segformer.h"
#include "model/segformer_report.h"
#include "quant/checkpoint.h"
#include "quant/size_report.h"

namespace segq::cli {
namespace {

void parse_size(const std::string& s, int64_t* h, int64_t* w) {
  const auto x = s.find('x');
  try {
    size_t end = 0;
    if (x == std::string::npos) {
      *h = *w = std::stoll(s, &end);
      if (end != s.size()) throw std::invalid_argument(s);
    } else {
      *h = std::stoll(s.substr(0, x), &end);
      if (end != x) throw std::invalid_argument(s);
      *w = std::stoll(s.substr(x + 1), &end);
      if (end != s.size() - x - 1) throw std::invalid_argument(s);
    }
  } catch (const std::exception&) {
    throw UsageError("--size must be HxW (e.g. 512x512), got '" + s + "'");
  }
  if (*h <= 0 || *w <= 0) throw UsageError("--size must be positive, got '" + s + "'");
}

struct InspectArgs {
  std::string model;
  std::string size = "512x512";
  PlanArgs plan;
  std::string baseline;
  bool json = false;
};

void run_inspect(const InspectArgs& a) {
  int64_t h = 0, w = 0;
  parse_size(a.size, &h, &w);
  const ResolvedWeights r = resolve_weights(a.model, a.plan);
  const ModelFiles& files = r.files;
  const SegformerConfig config =
      SegformerConfig::from_json(files.config, files.directory + "/config.json");
  const SegformerModel model(config, r.weights);  // validates names and shapes
  nlohmann::json report =
      segformer_inspect_json(config, h, w, &files.tensors, &model.bound_weights());
  report["model"] = files.spec;

  // The size report: for a method, or for a checkpoint stored quantized.
  const bool sized = !a.plan.method.empty() || has_plan_overrides(a.plan) || r.stored_quantized;
  if (!a.baseline.empty() && !r.stored_quantized) {
    throw UsageError(
        "--baseline is for quantized checkpoints (the fp32 weights to measure them "
        "against); " +
        a.model + " is not one");
  }
  std::string size_text;
  if (sized) {
    WeightSet baseline;
    const WeightSet* reference = &r.dense;
    if (r.stored_quantized) {
      reference = nullptr;
      if (!a.baseline.empty()) {
        baseline = load_baseline_weights(a.baseline).weights;
        reference = &baseline;
      }
    }
    const SizeReport sr = make_size_report(r.weights, r.method, reference);
    report["quantization"] = size_report_json(sr);
    report["quantization"]["stored_quantized"] = r.stored_quantized;
    size_text = size_report_text(sr);
  }
  if (a.json) {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    std::printf("model: %s\n%s", files.spec.c_str(), segformer_inspect_text(report).c_str());
    if (sized) std::printf("\n%s", size_text.c_str());
  }
}

void setup(CLI::App& app, int* /*exit_code*/) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect",
      "Model summary: config, parameters and GMACs per module, bytes; with --method (or a "
      "quantized checkpoint) bytes and distortion per layer");
  cmd->add_option("--model", args->model, "Model directory (config.json + weights)")->required();
  cmd->add_option("--size", args->size, "Input size HxW for the GMAC count")->capture_default_str();
  cmd->add_option("--method", args->plan.method,
                  "Quantization method: adds per-layer bytes and distortion (see `segq methods`)");
  add_plan_options(cmd, &args->plan);
  cmd->add_option("--baseline", args->baseline,
                  "For a quantized checkpoint: the fp32 model to measure distortion against");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args] { run_inspect(*args); });
}

}  // namespace

SEGQ_REGISTER_COMMAND("inspect", 40, setup);

}  // namespace segq::cli
