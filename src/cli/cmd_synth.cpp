// segq synth --out DIR [--n N] [--size HxW] [--seed S] [--classes 150] [--split validation]:
// writes synthetic scenes in the ADEChallengeData2016 layout (data/synth_dataset.h).
#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "data/synth_dataset.h"

namespace segq::cli {

namespace {

struct SynthArgs {
  SynthOptions options;
  std::string size = "256x256";
  int threads = 0;
};

// "HxW" -> (h, w).
void parse_size(const std::string& text, int* h, int* w) {
  const size_t x = text.find_first_of("xX");
  int hh = 0, ww = 0;
  size_t used_h = 0, used_w = 0;
  try {
    if (x != std::string::npos) {
      hh = std::stoi(text.substr(0, x), &used_h);
      ww = std::stoi(text.substr(x + 1), &used_w);
    }
  } catch (const std::exception&) {
    used_h = 0;
  }
  if (x == std::string::npos || used_h != x || used_w != text.size() - x - 1 || hh <= 0 ||
      ww <= 0) {
    throw UsageError(str_cat("--size \"", text, "\": expected HEIGHTxWIDTH, e.g. 256x256"));
  }
  *h = hh;
  *w = ww;
}

void run_synth(SynthArgs& args) {
  parse_size(args.size, &args.options.height, &args.options.width);
  if (args.threads < 0) throw UsageError("--threads must be >= 0");
  if (args.threads > 0) set_num_threads(args.threads);
  const SynthSummary s = write_synth_dataset(args.options);
  uint64_t other = s.class_pixels.empty() ? 0 : s.class_pixels[0];
  int present = 0;
  int fewest_images = s.images;
  for (size_t k = 1; k < s.class_images.size(); ++k) {
    present += s.class_images[k] > 0;
    fewest_images = std::min(fewest_images, s.class_images[k]);
  }
  log_info("synth: ", s.images, " scenes of ", args.options.height, "x", args.options.width,
           " (split ", args.options.split, ", seed ", args.options.seed, ") in ",
           args.options.out_dir, " in ", s.seconds, " s; ", present, "/", args.options.num_classes,
           " classes present (rarest in ", fewest_images, " images), ",
           100.0 * double(other) / double(s.pixels), " % pixels other (label 0)");
}

void setup_synth(CLI::App& app, int* /*exit_code*/) {
  auto args = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand(
      "synth",
      "Write a synthetic segmentation dataset in the ADEChallengeData2016 layout (procedural "
      "scenes whose classes differ in texture, not colour; identical for a seed on every machine)");
  cmd->add_option("--out", args->options.out_dir, "output folder (the ADEChallengeData2016 root)")
      ->required();
  cmd->add_option("--n", args->options.count, "number of scenes")->capture_default_str();
  cmd->add_option("--size", args->size, "HEIGHTxWIDTH of every scene")->capture_default_str();
  cmd->add_option("--seed", args->options.seed, "random seed")->capture_default_str();
  cmd->add_option("--classes", args->options.num_classes, "number of classes (labels 1..N)")
      ->capture_default_str();
  cmd->add_option("--split", args->options.split, "split folder name: validation or training")
      ->capture_default_str();
  cmd->add_option("--quality", args->options.jpeg_quality, "JPEG quality 1..100")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "worker threads (default: all cores)");
  cmd->callback([args] { run_synth(*args); });
}

}  // namespace

SEGQ_REGISTER_COMMAND("synth", 90, setup_synth);

}  // namespace segq::cli
