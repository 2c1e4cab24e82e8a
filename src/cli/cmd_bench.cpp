// segq bench --model M --size HxW [--batch B] [--threads T] [--warmup N] [--repeats N] [--json]:
// median ms per image of the forward pass after warm-up, images/s, peak RSS.
// [--fold-decode-head] times the folded decode head (SegformerOptions).
#include <cstdio>
#include <string>

#include "cli/command.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "io/model_files.h"
#include "kernels/isa.h"
#include "model/model_bench.h"
#include "model/segformer.h"
#include "model/segformer_stats.h"
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

struct BenchArgs {
  std::string model;
  std::string size = "512x512";
  int batch = 1;
  int threads = 0;
  int warmup = 2;
  int repeats = 10;
  bool fold = false;
  bool json = false;
};

void run_bench(const BenchArgs& a) {
  int64_t h = 0, w = 0;
  parse_size(a.size, &h, &w);
  if (a.batch < 1) throw UsageError("--batch must be at least 1");
  if (a.threads < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");
  if (a.repeats < 1) throw UsageError("--repeats must be at least 1");
  if (a.warmup < 0) throw UsageError("--warmup must be >= 0");
  set_num_threads(a.threads);
  const ModelFiles files = load_model_files(a.model);
  const SegformerConfig config =
      SegformerConfig::from_json(files.config, files.directory + "/config.json");
  const WeightSet weights = dense_weight_set(files.tensors);
  // Where a --method weight-set transformation would go (quantize `weights` here).
  SegformerOptions options;
  options.fold_decode_head = a.fold;
  SegformerModel model(config, weights, options);
  const Tensor pixels = synthetic_pixels(a.batch, config.num_channels, h, w);
  const BenchResult r = bench_forward(model, pixels, a.warmup, a.repeats);
  const double gmac = segformer_stats(config, h, w).macs / 1e9;
  const int threads = global_pool().num_threads();
  if (a.json) {
    nlohmann::json j = {{"model", files.spec},
                        {"height", h},
                        {"width", w},
                        {"batch", a.batch},
                        {"threads", threads},
                        {"kernels", kernel_isa_name(kernel_isa())},
                        {"fold_decode_head", a.fold},
                        {"cpu", cpu_model_name()},
                        {"warmup", a.warmup},
                        {"repeats", a.repeats},
                        {"median_ms_per_image", r.median_ms_per_image},
                        {"mean_ms_per_image", r.mean_ms_per_image},
                        {"min_ms_per_image", r.min_ms_per_image},
                        {"images_per_s", r.images_per_s},
                        {"gmac_per_image", gmac},
                        {"gflop_per_s", 2.0 * gmac / (r.median_ms_per_image / 1e3)},
                        {"peak_rss_bytes", r.peak_rss_bytes},
                        {"ms_per_batch", r.ms_per_batch}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("model: %s\n", files.spec.c_str());
  std::printf("input: %dx%dx%lldx%lld (synthetic), threads: %d, kernels: %s, cpu: %s\n", a.batch,
              config.num_channels, static_cast<long long>(h), static_cast<long long>(w), threads,
              kernel_isa_name(kernel_isa()), cpu_model_name().c_str());
  std::printf("warmup: %d, repeats: %d, decode head: %s\n", a.warmup, a.repeats,
              a.fold ? "folded" : "plain");
  std::printf("median_ms_per_image: %.2f\n", r.median_ms_per_image);
  std::printf("mean_ms_per_image: %.2f\n", r.mean_ms_per_image);
  std::printf("min_ms_per_image: %.2f\n", r.min_ms_per_image);
  std::printf("images_per_s: %.2f\n", r.images_per_s);
  std::printf("gflop_per_s: %.1f (%.2f GMAC per image)\n",
              2.0 * gmac / (r.median_ms_per_image / 1e3), gmac);
  std::printf("peak_rss_mb: %.1f\n", r.peak_rss_bytes / (1024.0 * 1024.0));
}

void setup(CLI::App& app, int* /*exit_code*/) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Latency / throughput of the forward pass");
  cmd->add_option("--model", args->model, "Model directory (config.json + weights)")->required();
  cmd->add_option("--size", args->size, "Input size HxW")->capture_default_str();
  cmd->add_option("--batch", args->batch, "Images per forward")->capture_default_str();
  cmd->add_option("--threads", args->threads, "Threads (0 = SEGQ_THREADS or all cores)")
      ->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Untimed forwards first")->capture_default_str();
  cmd->add_option("--repeats", args->repeats, "Timed forwards")->capture_default_str();
  cmd->add_flag("--fold-decode-head", args->fold,
                "Run the decode head as its exact algebraic fold (linear_fuse + BatchNorm folded "
                "into the per-stage MLPs; changes float rounding only)");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args] { run_bench(*args); });
}

}  // namespace

SEGQ_REGISTER_COMMAND("bench", 90, setup);

}  // namespace segq::cli
