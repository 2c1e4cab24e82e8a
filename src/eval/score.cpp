#include "eval/score.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/thread_pool.h"
#include "eval/index_png.h"
#include "eval/metrics.h"
#include "eval/results.h"
#include "io/file_util.h"

namespace segq {

namespace fs = std::filesystem;

std::vector<uint8_t> decode_annotation(std::string_view png_bytes, const std::string& what,
                                       const ScoreOptions& options, int* height, int* width) {
  IndexMap map = decode_index_png(png_bytes, what);
  const int n = options.num_labels;
  for (uint8_t& v : map.values) {
    if (options.reduce_labels) {
      if (v > n) {
        throw Error(str_cat(what, ": label value ", int{v}, " is above the ", n,
                            " classes (raw annotation values 0 = ignored, 1..", n, ")"));
      }
      v = v == 0 ? static_cast<uint8_t>(kIgnoreLabel) : static_cast<uint8_t>(v - 1);
    } else if (v >= n && v != kIgnoreLabel) {
      throw Error(str_cat(what, ": label value ", int{v}, " is neither a class in [0, ", n,
                          ") nor the ignore value ", kIgnoreLabel));
    }
  }
  *height = map.height;
  *width = map.width;
  return std::move(map.values);
}

ScoreResult score_prediction_dir(const Dataset& dataset, const std::string& pred_dir,
                                 const ScoreOptions& options) {
  if (!fs::is_directory(pred_dir)) {
    throw UsageError(str_cat("--pred-dir ", pred_dir, ": not a directory"));
  }
  const std::vector<Sample>& samples = dataset.samples();
  std::vector<std::string> paths(samples.size()), missing;
  for (size_t i = 0; i < samples.size(); ++i) {
    paths[i] = (fs::path(pred_dir) / (samples[i].id + ".png")).string();
    if (!fs::exists(paths[i])) missing.push_back(paths[i]);
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t k = 0; k < missing.size() && k < 10; ++k) list += "\n  " + missing[k];
    if (missing.size() > 10) list += str_cat("\n  ... and ", missing.size() - 10, " more");
    throw Error(str_cat(missing.size(), " of ", samples.size(), " predictions are missing in ",
                        pred_dir, " (expected <sample id>.png):", list));
  }

  ThreadPool& pool = global_pool();
  std::vector<SegmentationCounts> counts(pool.num_threads(),
                                         SegmentationCounts(options.num_labels));
  std::vector<std::vector<ImageCounts>> per_image(pool.num_threads());
  pool.parallel_for(static_cast<int64_t>(samples.size()), 1, [&](int64_t b, int64_t e, int t) {
    for (int64_t i = b; i < e; ++i) {
      int lh = 0, lw = 0;
      const std::vector<uint8_t> labels = decode_annotation(
          dataset.read_label_bytes(i), dataset.label_location(i), options, &lh, &lw);
      const IndexMap pred = decode_index_png(read_file(paths[i]), paths[i]);
      if (pred.height != lh || pred.width != lw) {
        throw Error(str_cat(paths[i], ": prediction is ", pred.width, "x", pred.height,
                            ", the annotation ", dataset.label_location(i), " is ", lw, "x", lh));
      }
      per_image[t].push_back(
          counts[t].add_image(samples[i].id, pred.values.data(), labels.data(), labels.size()));
    }
  });
  ScoreResult r;
  r.counts = SegmentationCounts(options.num_labels);
  for (int t = 0; t < pool.num_threads(); ++t) {
    r.counts.merge(counts[t]);
    r.per_image.insert(r.per_image.end(), per_image[t].begin(), per_image[t].end());
  }
  std::sort(r.per_image.begin(), r.per_image.end(),
            [](const ImageCounts& a, const ImageCounts& b) { return a.id < b.id; });
  return r;
}

nlohmann::json score_json(const ScoreResult& r) {
  const SegmentationMetrics m = compute_metrics(r.counts);
  nlohmann::json iou = nlohmann::json::array(), acc = nlohmann::json::array();
  for (double v : m.per_class_iou) iou.push_back(json_number(v));
  for (double v : m.per_class_accuracy) acc.push_back(json_number(v));
  return {{"mean_iou", json_number(m.mean_iou)},
          {"mean_accuracy", json_number(m.mean_accuracy)},
          {"overall_accuracy", json_number(m.overall_accuracy)},
          {"per_class_iou", iou},
          {"per_class_accuracy", acc},
          {"devkit_mean_iou", json_number(m.devkit_mean_iou)},
          {"devkit_mean_accuracy", json_number(m.devkit_mean_accuracy)},
          {"num_images", r.counts.num_images()},
          {"num_pixels", r.counts.num_pixels()}};
}

}  // namespace segq
