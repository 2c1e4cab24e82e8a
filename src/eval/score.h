// `segq score`: any model's predictions, saved as class-index PNGs named <sample id>.png, scored
// against a dataset's annotations with the same counts and metrics as `segq eval`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "eval/counts.h"

namespace segq {

struct ScoreOptions {
  int num_labels = 150;
  // ADE20K convention: raw 0 -> ignored (255), raw k -> k - 1. Off: raw values are class indices
  // and 255 is ignored.
  bool reduce_labels = true;
};

struct ScoreResult {
  SegmentationCounts counts;
  std::vector<ImageCounts> per_image;  // sorted by id
};

// Annotation bytes (PNG) -> labels to score against. Throws segq::Error naming `what` on values
// that are neither a class nor ignored (raw > num_labels with reduction; >= num_labels and != 255
// without).
std::vector<uint8_t> decode_annotation(std::string_view png_bytes, const std::string& what,
                                       const ScoreOptions& options, int* height, int* width);

// Scores <pred_dir>/<id>.png for every sample. Throws segq::Error listing the missing prediction
// files (all of them, up to a limit) before scoring anything, and naming the file on a size
// mismatch or corrupt PNG. Uses the global thread pool.
ScoreResult score_prediction_dir(const Dataset& dataset, const std::string& pred_dir,
                                 const ScoreOptions& options);

// {"mean_iou", "mean_accuracy", "overall_accuracy", "per_class_iou", "per_class_accuracy",
//  "devkit_mean_iou", "devkit_mean_accuracy", "num_images", "num_pixels"}; NaN -> null.
nlohmann::json score_json(const ScoreResult& result);

}  // namespace segq
