// Preprocessing protocols: turning a sample's bytes into the model input and the label map that
// predictions are scored against. See spec/segformer.md "Preprocessing" and "Evaluation protocols".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"

namespace segq {

enum class Protocol { Hf, Seed, Mmseg };
Protocol protocol_from_name(const std::string& name);  // "hf" | "seed" | "mmseg"; UsageError else
const char* protocol_name(Protocol p);

// SegformerImageProcessor settings (from preprocessor_config.json; transformers' defaults when
// absent or when a field is missing).
struct PreprocessConfig {
  bool do_resize = true;
  int height = 512;
  int width = 512;
  int resample = 2;  // PIL BILINEAR
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  float image_mean[3] = {0.485f, 0.456f, 0.406f};
  float image_std[3] = {0.229f, 0.224f, 0.225f};
  bool reduce_labels = false;  // do_reduce_labels (or the older reduce_labels)
};
PreprocessConfig preprocess_config_from_json(const nlohmann::json& preprocessor_config);

// One sample ready for the model and for scoring.
struct PreparedSample {
  size_t index = 0;      // index in Dataset::samples()
  std::string id;
  Tensor pixels;         // [3, H, W] fp32, the model input
  // Labels to score against (after reduce_labels: 255 = ignored), row-major label_h x label_w.
  std::vector<uint8_t> labels;
  int label_h = 0;
  int label_w = 0;
  // Sizes the logits go through before the argmax, in order, ending at (label_h, label_w).
  // hf: [label size]; seed: [input size]; mmseg: [input size, original size].
  std::vector<std::pair<int, int>> logits_resize_chain;
};

// Decodes and preprocesses sample i. Throws segq::Error naming the file on corrupt images,
// image/label size mismatch, or label values above the number of classes (num_labels, raw scale).
PreparedSample prepare_sample(const Dataset& dataset, size_t i, Protocol protocol,
                              const PreprocessConfig& config, int num_labels);

}  // namespace segq
