// segq bench --model M --size HxW [--batch B] [--threads T] [--warmup N] [--repeats N] [--json]:
// median ms per image of the forward pass after warm-up, images/s, peak RSS.
//   --method X        quantize the weights with method X first; the fp32 weights are dropped
//                     before the model is bound, so the process's peak RSS is that method's
//   --no-fold         run the plain decode head instead of its exact fold (the default)
//   --images DIR      time passes over the images of DIR (preprocessed as the model's
//                     preprocessor_config.json says; --size is then ignored) instead of synthetic
//                     pixels; a repeat is one pass
//   --save-preds DIR  after timing, write each image's argmax at logit resolution as a PNG of
//                     label indices (DIR/<image stem>.png), for agreement checks (needs --images)
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/model_weights.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "data/preprocess.h"
#include "io/file_util.h"
#include "io/image.h"
#include "io/model_files.h"
#include "kernels/isa.h"
#include "model/model_bench.h"
#include "model/segformer.h"
#include "model/segformer_stats.h"
#include "model/weight_set.h"
#include "quant/plan.h"

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
  bool no_fold = false;
  bool json = false;
  std::string method = "fp32";
  bool method_given = false;
  std::string images;
  std::string save_preds;
};

// Image files of `dir` (or of dir/images/validation, the ADE layout `segq synth` writes), by name.
std::vector<std::filesystem::path> list_images(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path root(dir);
  if (fs::is_directory(root / "images" / "validation")) root = root / "images" / "validation";
  if (!fs::is_directory(root)) throw UsageError("--images: not a directory: " + dir);
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(root)) {
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (e.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png")) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  if (out.empty()) throw UsageError("--images: no .jpg/.png files in " + root.string());
  return out;
}

void run_bench(const BenchArgs& a) {
  int64_t h = 0, w = 0;
  parse_size(a.size, &h, &w);
  if (a.batch < 1) throw UsageError("--batch must be at least 1");
  if (a.threads < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");
  if (a.repeats < 1) throw UsageError("--repeats must be at least 1");
  if (a.warmup < 0) throw UsageError("--warmup must be >= 0");
  if (!a.save_preds.empty() && a.images.empty()) {
    throw UsageError("--save-preds needs --images (predictions of real images)");
  }
  set_num_threads(a.threads);
  const MethodSpec method = parse_method(a.method);
  std::string why;
  if (!method_available(method, &why)) throw UsageError(why);
  SegformerConfig config;
  nlohmann::json preprocessor_config;
  std::string model_spec;
  std::string method_name;
  WeightSet weights;
  {
    // The checkpoint's tensors and the fp32 set live only in this scope: with --method the
    // quantized set is the only copy of the weights once the model is bound. A segq quantize
    // checkpoint runs as stored (--method on one is a usage error).
    PlanArgs plan;
    if (a.method_given) plan.method = a.method;
    ResolvedWeights r = resolve_weights(a.model, plan);
    model_spec = r.files.spec;
    preprocessor_config = r.files.preprocessor_config;
    config = SegformerConfig::from_json(r.files.config, r.files.directory + "/config.json");
    weights = std::move(r.weights);
    method_name = r.method;
  }
  SegformerOptions options;
  options.fold_decode_head = !a.no_fold;
  SegformerModel model(config, weights, options);
  weights.clear();  // the model holds what it binds

  std::vector<std::filesystem::path> image_paths;
  std::vector<Tensor> batches;
  if (!a.images.empty()) {
    image_paths = list_images(a.images);
    const PreprocessConfig pc = preprocess_config_from_json(preprocessor_config);
    std::vector<Tensor> singles;
    for (const auto& p : image_paths) {
      const ImageU8 rgb = decode_image_rgb(read_file(p.string()), p.string());
      singles.push_back(preprocess_pixels(rgb, Protocol::Hf, pc));
    }
    h = singles[0].dim(1);
    w = singles[0].dim(2);
    for (size_t i = 0; i < singles.size(); i += a.batch) {
      const int64_t nb = std::min<int64_t>(a.batch, static_cast<int64_t>(singles.size() - i));
      Tensor b = Tensor::empty(DType::F32, {nb, config.num_channels, h, w});
      for (int64_t j = 0; j < nb; ++j) {
        const Tensor& s1 = singles[i + j];
        SEGQ_CHECK(s1.dim(1) == h && s1.dim(2) == w, "--images: ", image_paths[i + j].string(),
                   " preprocesses to ", shape_str(s1.shape()), ", the first image to ", h, "x", w);
        std::copy(s1.data<float>(), s1.data<float>() + s1.numel(),
                  b.data<float>() + j * s1.numel());
      }
      batches.push_back(std::move(b));
    }
  } else {
    batches.push_back(synthetic_pixels(a.batch, config.num_channels, h, w));
  }
  const BenchResult r = a.images.empty()
                            ? bench_forward(model, batches[0], a.warmup, a.repeats)
                            : bench_forward_batches(model, batches, a.warmup, a.repeats);
  if (!a.save_preds.empty()) {
    std::filesystem::create_directories(a.save_preds);
    size_t next = 0;
    for (const Tensor& b : batches) {
      const Tensor labels = argmax_labels(model.forward(b));
      const int64_t lh = labels.dim(1), lw = labels.dim(2);
      for (int64_t j = 0; j < labels.dim(0); ++j, ++next) {
        ImageU8 img(static_cast<int>(lh), static_cast<int>(lw), 1);
        std::copy(labels.data<uint8_t>() + j * lh * lw, labels.data<uint8_t>() + (j + 1) * lh * lw,
                  img.pixels.begin());
        const std::string out =
            (std::filesystem::path(a.save_preds) / image_paths[next].stem()).string() + ".png";
        write_file_atomic(out, encode_png(img, 1));
      }
    }
  }
  const double gmac = segformer_stats(config, h, w).macs / 1e9;
  const int threads = global_pool().num_threads();
  if (a.json) {
    nlohmann::json j = {{"model", model_spec},
                        {"method", method_name},
                        {"images", a.images.empty() ? "synthetic" : a.images},
                        {"num_images", a.images.empty() ? int64_t{a.batch}
                                                        : static_cast<int64_t>(image_paths.size())},
                        {"height", h},
                        {"width", w},
                        {"batch", a.batch},
                        {"threads", threads},
                        {"kernels", kernel_isa_name(kernel_isa())},
                        {"fold_decode_head", model.options().fold_decode_head},
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
  std::printf("model: %s, method: %s\n", model_spec.c_str(), method_name.c_str());
  std::printf(
      "input: %dx%dx%lldx%lld (%s), threads: %d, kernels: %s, cpu: %s\n", a.batch,
      config.num_channels, static_cast<long long>(h), static_cast<long long>(w),
      a.images.empty() ? "synthetic" : (std::to_string(image_paths.size()) + " images").c_str(),
      threads, kernel_isa_name(kernel_isa()), cpu_model_name().c_str());
  std::printf("warmup: %d, repeats: %d, decode head: %s\n", a.warmup, a.repeats,
              model.options().fold_decode_head ? "folded" : "plain");
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
  CLI::Option* method_opt =
      cmd->add_option(
             "--method", args->method,
             "Quantization method (segq methods); its weights are the only copy in memory. "
             "A segq quantize checkpoint runs as stored")
          ->capture_default_str();
  cmd->add_flag("--fold-decode-head", args->fold,
                "Run the decode head as its exact algebraic fold (the default; kept for old "
                "scripts)");
  cmd->add_flag("--no-fold", args->no_fold,
                "Run the plain decode head (linear_fuse on the concatenation) instead of its fold");
  cmd->add_option("--images", args->images,
                  "Time passes over the images of this directory (or its images/validation)");
  cmd->add_option(
      "--save-preds", args->save_preds,
      "Write each image's argmax at logit resolution as DIR/<stem>.png (with --images)");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args, method_opt] {
    BenchArgs a = *args;
    a.method_given = method_opt->count() > 0;
    run_bench(a);
  });
}

}  // namespace

SEGQ_REGISTER_COMMAND("bench", 90, setup);

}  // namespace segq::cli
