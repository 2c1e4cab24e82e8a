// segq inspect --model M [--size HxW] [--json]: config summary, parameters and GMACs per module
// (with and without the attention matmuls), bytes by dtype / weight format.
#include <cstdio>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "io/model_files.h"
#include "model/segformer.h"
#include "model/segformer_report.h"
#include "model/weight_set.h"

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
  bool json = false;
};

void run_inspect(const InspectArgs& a) {
  int64_t h = 0, w = 0;
  parse_size(a.size, &h, &w);
  const ModelFiles files = load_model_files(a.model);
  const SegformerConfig config =
      SegformerConfig::from_json(files.config, files.directory + "/config.json");
  const WeightSet weights = dense_weight_set(files.tensors);
  // Where a --method weight-set transformation would go (quantize `weights` here).
  const SegformerModel model(config, weights);  // validates names and shapes
  nlohmann::json report =
      segformer_inspect_json(config, h, w, &files.tensors, &model.bound_weights());
  report["model"] = files.spec;
  if (a.json) {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    std::printf("model: %s\n%s", files.spec.c_str(), segformer_inspect_text(report).c_str());
  }
}

void setup(CLI::App& app, int* /*exit_code*/) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Model summary: config, parameters and GMACs per module, bytes by dtype");
  cmd->add_option("--model", args->model, "Model directory (config.json + weights)")->required();
  cmd->add_option("--size", args->size, "Input size HxW for the GMAC count")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args] { run_inspect(*args); });
}

}  // namespace

SEGQ_REGISTER_COMMAND("inspect", 40, setup);

}  // namespace segq::cli
