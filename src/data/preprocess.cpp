#include "data/preprocess.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "data/cv_resize.h"
#include "data/pil_resize.h"

namespace segq {

namespace {

// mmsegmentation's ADE20K test pipeline: Resize(scale=(2048, 512), keep_ratio=True).
constexpr double kMmsegLongEdge = 2048.0;
constexpr double kMmsegShortEdge = 512.0;

const char* json_type(const nlohmann::json& j) { return j.type_name(); }

[[noreturn]] void bad_field(const std::string& field, const std::string& expected,
                            const nlohmann::json& got) {
  throw UsageError(str_cat("preprocessor_config.json: \"", field, "\" must be ", expected, " (got ",
                           json_type(got), " ", got.dump(), ")"));
}

bool read_bool(const nlohmann::json& j, const char* field, bool fallback) {
  if (!j.contains(field) || j[field].is_null()) return fallback;
  if (!j[field].is_boolean()) bad_field(field, "true or false", j[field]);
  return j[field].get<bool>();
}

int read_positive_int(const nlohmann::json& v, const std::string& field) {
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > 65535) {
    bad_field(field, "a positive integer", v);
  }
  return static_cast<int>(v.get<int64_t>());
}

void read_triplet(const nlohmann::json& j, const char* field, float out[3]) {
  if (!j.contains(field) || j[field].is_null()) return;
  const nlohmann::json& v = j[field];
  if (v.is_number()) {
    out[0] = out[1] = out[2] = static_cast<float>(v.get<double>());
    return;
  }
  if (!v.is_array() || v.size() != 3) bad_field(field, "a list of 3 numbers", v);
  for (int c = 0; c < 3; ++c) {
    if (!v[c].is_number()) bad_field(field, "a list of 3 numbers", v);
    // transformers' normalize builds np.array(mean, dtype=float32) from the Python floats.
    out[c] = static_cast<float>(v[c].get<double>());
  }
}

// Per-channel table: uint8 value -> model input value, computed with exactly the operations (and
// dtypes) transformers uses per element, so the table equals the per-pixel computation.
struct ChannelLut {
  float value[3][256];
};

ChannelLut hf_lut(const PreprocessConfig& config) {
  ChannelLut lut;
  for (int c = 0; c < 3; ++c) {
    for (int u = 0; u < 256; ++u) {
      // rescale: image.astype(float64) * scale, then .astype(float32).
      float x = config.do_rescale ? static_cast<float>(double(u) * config.rescale_factor)
                                  : static_cast<float>(u);
      // normalize: float32 arrays, (image - mean) / std.
      if (config.do_normalize) x = (x - config.image_mean[c]) / config.image_std[c];
      lut.value[c][u] = x;
    }
  }
  return lut;
}

// mmseg normalizes 0..255 pixels with mean/std * 255 (123.675, ... for ImageNet) in float32.
ChannelLut mmseg_lut(const PreprocessConfig& config) {
  ChannelLut lut;
  for (int c = 0; c < 3; ++c) {
    const float mean = static_cast<float>(double(config.image_mean[c]) * 255.0);
    const float std = static_cast<float>(double(config.image_std[c]) * 255.0);
    for (int u = 0; u < 256; ++u) lut.value[c][u] = (static_cast<float>(u) - mean) / std;
  }
  return lut;
}

// [H, W, 3] uint8 -> [3, H, W] fp32 through the table.
Tensor to_chw(const ImageU8& rgb, const ChannelLut& lut) {
  Tensor out = Tensor::empty(DType::F32, {3, rgb.height, rgb.width});
  float* dst = out.data<float>();
  const size_t plane = size_t(rgb.height) * rgb.width;
  const uint8_t* src = rgb.pixels.data();
  float* r = dst;
  float* g = dst + plane;
  float* b = dst + 2 * plane;
  for (size_t i = 0; i < plane; ++i) {
    r[i] = lut.value[0][src[3 * i]];
    g[i] = lut.value[1][src[3 * i + 1]];
    b[i] = lut.value[2][src[3 * i + 2]];
  }
  return out;
}

}  // namespace

Protocol protocol_from_name(const std::string& name) {
  if (name == "hf") return Protocol::Hf;
  if (name == "seed") return Protocol::Seed;
  if (name == "mmseg") return Protocol::Mmseg;
  throw UsageError(str_cat("unknown protocol \"", name, "\" (expected hf, seed or mmseg)"));
}

const char* protocol_name(Protocol p) {
  switch (p) {
    case Protocol::Hf:
      return "hf";
    case Protocol::Seed:
      return "seed";
    case Protocol::Mmseg:
      return "mmseg";
  }
  return "?";
}

PreprocessConfig preprocess_config_from_json(const nlohmann::json& j) {
  PreprocessConfig config;
  if (j.is_null()) return config;
  if (!j.is_object()) bad_field("(top level)", "a JSON object", j);
  config.do_resize = read_bool(j, "do_resize", config.do_resize);
  if (j.contains("size") && !j["size"].is_null()) {
    const nlohmann::json& size = j["size"];
    if (size.is_number_integer()) {
      // get_size_dict(int) with default_to_square=True.
      config.height = config.width = read_positive_int(size, "size");
    } else if (size.is_array() && size.size() == 2) {
      // get_size_dict((h, w)) with height_width_order=True.
      config.height = read_positive_int(size[0], "size[0]");
      config.width = read_positive_int(size[1], "size[1]");
    } else if (size.is_object() && size.contains("height") && size.contains("width")) {
      config.height = read_positive_int(size["height"], "size.height");
      config.width = read_positive_int(size["width"], "size.width");
    } else if (size.is_object() && size.contains("shortest_edge")) {
      throw UsageError(
          "preprocessor_config.json: \"size\" is {\"shortest_edge\": ...}; "
          "SegformerImageProcessor only resizes to {\"height\", \"width\"} (transformers raises "
          "\"The `size` dictionary must contain the keys `height` and `width`\")");
    } else {
      bad_field("size", "an integer, [height, width] or {\"height\", \"width\"}", size);
    }
  }
  if (j.contains("resample") && !j["resample"].is_null()) {
    if (!j["resample"].is_number_integer()) bad_field("resample", "an integer 0..5", j["resample"]);
    config.resample = static_cast<int>(pil_filter_from_int(j["resample"].get<int>()));
  }
  config.do_rescale = read_bool(j, "do_rescale", config.do_rescale);
  if (j.contains("rescale_factor") && !j["rescale_factor"].is_null()) {
    if (!j["rescale_factor"].is_number())
      bad_field("rescale_factor", "a number", j["rescale_factor"]);
    config.rescale_factor = j["rescale_factor"].get<double>();
  }
  config.do_normalize = read_bool(j, "do_normalize", config.do_normalize);
  read_triplet(j, "image_mean", config.image_mean);
  read_triplet(j, "image_std", config.image_std);
  // Older checkpoints (e.g. nvidia/segformer-*-ade-*) say "reduce_labels"; transformers < 4.4x
  // mapped it to do_reduce_labels. do_reduce_labels wins when both are present.
  if (j.contains("do_reduce_labels") && !j["do_reduce_labels"].is_null()) {
    config.reduce_labels = read_bool(j, "do_reduce_labels", false);
  } else {
    config.reduce_labels = read_bool(j, "reduce_labels", false);
  }
  return config;
}

std::pair<int, int> mmseg_input_size(int image_h, int image_w) {
  const double long_edge = std::max(image_h, image_w);
  const double short_edge = std::min(image_h, image_w);
  const double scale = std::min(kMmsegLongEdge / long_edge, kMmsegShortEdge / short_edge);
  return {static_cast<int>(image_h * scale + 0.5), static_cast<int>(image_w * scale + 0.5)};
}

std::pair<int, int> model_input_size(int image_h, int image_w, Protocol protocol,
                                     const PreprocessConfig& config) {
  if (protocol == Protocol::Mmseg) return mmseg_input_size(image_h, image_w);
  if (!config.do_resize) return {image_h, image_w};
  return {config.height, config.width};
}

Tensor preprocess_pixels(const ImageU8& rgb, Protocol protocol, const PreprocessConfig& config) {
  SEGQ_CHECK(rgb.channels == 3, "preprocess_pixels: expected an RGB image, got ", rgb.channels,
             " channels");
  const auto [h, w] = model_input_size(rgb.height, rgb.width, protocol, config);
  if (protocol == Protocol::Mmseg) {
    if (h == rgb.height && w == rgb.width) return to_chw(rgb, mmseg_lut(config));
    return to_chw(cv_resize_linear(rgb, h, w), mmseg_lut(config));
  }
  if (h == rgb.height && w == rgb.width) return to_chw(rgb, hf_lut(config));
  return to_chw(pil_resize(rgb, h, w, pil_filter_from_int(config.resample)), hf_lut(config));
}

void check_label_values(const ImageU8& raw_labels, int num_labels, bool reduce_labels,
                        const std::string& where) {
  // Largest valid raw value besides 255.
  const int max_valid = reduce_labels ? num_labels : num_labels - 1;
  if (max_valid >= 254) return;
  bool bad[256] = {false};
  for (uint8_t v : raw_labels.pixels) bad[v] = true;
  std::string values;
  int count = 0;
  for (int v = max_valid + 1; v < 255; ++v) {
    if (!bad[v]) continue;
    if (count < 8) values += str_cat(count ? ", " : "", v);
    ++count;
  }
  if (count == 0) return;
  throw Error(str_cat(
      where, ": label map holds value", count > 1 ? "s " : " ", values, count > 8 ? ", ..." : "",
      " above the ", num_labels, " classes (valid: ",
      reduce_labels ? str_cat("0 = ignored, 1..", num_labels) : str_cat("0..", num_labels - 1),
      ", 255 = ignored", reduce_labels ? ", before reduce_labels" : "", ")"));
}

void reduce_labels_in_place(ImageU8* labels) {
  uint8_t lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = (v == 0 || v == 255) ? 255 : static_cast<uint8_t>(v - 1);
  for (uint8_t& v : labels->pixels) v = lut[v];
}

PreparedSample prepare_sample(const Dataset& dataset, size_t i, Protocol protocol,
                              const PreprocessConfig& config, int num_labels) {
  const Sample& sample = dataset.samples().at(i);
  PreparedSample out;
  out.index = i;
  out.id = sample.id;
  ImageU8 rgb;
  ImageU8 labels;
  try {
    rgb = decode_image_rgb(dataset.read_image_bytes(i), dataset.image_location(i));
    labels = decode_label_map(dataset.read_label_bytes(i), dataset.label_location(i));
    if (labels.height != rgb.height || labels.width != rgb.width) {
      throw Error(str_cat(dataset.label_location(i), ": label map is ", labels.width, "x",
                          labels.height, " (width x height) but its image ",
                          dataset.image_location(i), " is ", rgb.width, "x", rgb.height));
    }
    check_label_values(labels, num_labels, config.reduce_labels, dataset.label_location(i));
  } catch (const BadSampleError&) {
    throw;
  } catch (const Error& e) {
    throw BadSampleError(i, sample.id, e.what());
  }
  if (config.reduce_labels) reduce_labels_in_place(&labels);

  out.pixels = preprocess_pixels(rgb, protocol, config);
  const int input_h = static_cast<int>(out.pixels.dim(1));
  const int input_w = static_cast<int>(out.pixels.dim(2));
  if (protocol == Protocol::Seed && (labels.height != input_h || labels.width != input_w)) {
    labels = pil_resize(labels, input_h, input_w, PilFilter::Nearest);
  }
  out.label_h = labels.height;
  out.label_w = labels.width;
  out.labels = std::move(labels.pixels);
  switch (protocol) {
    case Protocol::Hf:
    case Protocol::Seed:
      out.logits_resize_chain = {{out.label_h, out.label_w}};
      break;
    case Protocol::Mmseg:
      out.logits_resize_chain = {{input_h, input_w}, {out.label_h, out.label_w}};
      break;
  }
  return out;
}

}  // namespace segq
