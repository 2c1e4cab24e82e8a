// Preprocessing protocols: turning a sample's bytes into the model input and the label map that
// predictions are scored against. See spec/segformer.md "Preprocessing" and "Evaluation protocols".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "io/image.h"

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
// Reads SegformerImageProcessor's fields: do_resize, size ({"height", "width"}, an int for a
// square, or [h, w]; {"shortest_edge"} is rejected as SegformerImageProcessor rejects it),
// resample, do_rescale, rescale_factor, do_normalize, image_mean, image_std (lists of 3 or one
// number), and do_reduce_labels (else the older reduce_labels). UsageError naming the field on a
// bad value.
PreprocessConfig preprocess_config_from_json(const nlohmann::json& preprocessor_config);

// One sample ready for the model and for scoring.
struct PreparedSample {
  size_t index = 0;  // index in Dataset::samples()
  std::string id;
  Tensor pixels;  // [3, H, W] fp32, the model input
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
// Throws BadSampleError (carrying i and the sample id) for all of these and for unreadable files.
// Thread-safe: worker threads call it concurrently; it uses no thread pool.
PreparedSample prepare_sample(const Dataset& dataset, size_t i, Protocol protocol,
                              const PreprocessConfig& config, int num_labels);

// The building blocks of prepare_sample, for tests, tools and other callers.

// Model input size (height, width) for an image of image_h x image_w under the protocol.
std::pair<int, int> model_input_size(int image_h, int image_w, Protocol protocol,
                                     const PreprocessConfig& config);
// mmseg's keep-ratio rescale to (2048, 512): s = min(2048 / long, 512 / short),
// (int(h * s + 0.5), int(w * s + 0.5)).
std::pair<int, int> mmseg_input_size(int image_h, int image_w);

// RGB image [H, W, 3] -> model input [3, h, w] fp32 (resize, rescale, normalize).
Tensor preprocess_pixels(const ImageU8& rgb, Protocol protocol, const PreprocessConfig& config);

// Throws Error naming `where` when a raw label value is out of range: valid values are
// 0..num_labels with reduce_labels (0 = ignored), 0..num_labels-1 without, and 255 (ignored).
void check_label_values(const ImageU8& raw_labels, int num_labels, bool reduce_labels,
                        const std::string& where);
// do_reduce_labels: 0 -> 255, k -> k - 1, 255 stays 255 (transformers' reduce_label).
void reduce_labels_in_place(ImageU8* labels);

}  // namespace segq
