// Test doubles for the evaluation pipeline, standing in for the real SegFormer and data layer:
// a deterministic per-pixel model, a synthetic dataset and its preparation function. Everything is
// a pure function of the sample index, so results can be compared across batchings and shards.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "eval/counts.h"
#include "eval/index_png.h"
#include "eval/method.h"
#include "model/model.h"

namespace segq::fake {

constexpr int kNumLabels = 11;

inline uint32_t mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// Input size of sample i: a few distinct sizes (like the mmseg protocol), or fixed.
inline std::pair<int, int> input_size(size_t i, bool varying) {
  if (!varying) return {32, 24};
  static const int hs[3] = {32, 20, 17};
  static const int ws[3] = {24, 28, 13};
  return {hs[i % 3], ws[(i / 3) % 3]};
}

// Raw annotation (ADE style: 0 = ignored, k = class k - 1) of sample i at its label size.
inline std::vector<uint8_t> raw_labels(size_t i, int h, int w) {
  std::vector<uint8_t> v(static_cast<size_t>(h) * w);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const uint32_t r = mix(static_cast<uint32_t>(i * 7919 + y * 131 + x));
      // Blocky regions so the model (which sees the pixels) gets many of them right.
      const int region = static_cast<int>(
          (mix(static_cast<uint32_t>(i * 31 + y / 16 * 17 + x / 16)) % kNumLabels));
      v[static_cast<size_t>(y) * w + x] =
          r % 23 == 0 ? 0
                      : static_cast<uint8_t>(r % 7 == 0 ? 1 + (r / 7) % kNumLabels : 1 + region);
    }
  }
  return v;
}

inline std::pair<int, int> label_size(size_t i, bool varying) {
  const auto [h, w] = input_size(i, varying);
  return {h * 2 + static_cast<int>(i % 3), w * 2 - static_cast<int>(i % 2)};
}

// The model input encodes the (reduced) region class of each pixel, blurred by noise.
inline PreparedSample prepare(size_t i, bool varying) {
  PreparedSample s;
  s.index = i;
  s.id = "img_" + std::to_string(100000 + i);
  const auto [h, w] = input_size(i, varying);
  const auto [lh, lw] = label_size(i, varying);
  const std::vector<uint8_t> raw = raw_labels(i, lh, lw);
  s.labels.resize(raw.size());
  for (size_t k = 0; k < raw.size(); ++k) s.labels[k] = raw[k] == 0 ? 255 : raw[k] - 1;
  s.label_h = lh;
  s.label_w = lw;
  s.logits_resize_chain = {{lh, lw}};
  s.pixels = Tensor::empty(DType::F32, {3, h, w});
  float* p = s.pixels.data<float>();
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const int ly = std::min(lh - 1, y * lh / h), lx = std::min(lw - 1, x * lw / w);
        const int cls = raw[static_cast<size_t>(ly) * lw + lx];
        const float noise =
            static_cast<float>(mix(static_cast<uint32_t>(i * 977 + y * 61 + x)) % 100) / 400.0f;
        p[(static_cast<size_t>(c) * h + y) * w + x] = static_cast<float>(cls) + noise;
      }
    }
  }
  return s;
}

// logits[b, y, x, c] = -|pixel(b, 0, 4y, 4x) - 1 - c + bias[c]|: peaks at the encoded class.
// Batch-invariant by construction; the bias comes from the weight set ("fake.bias", [L]).
class Model : public segq::Model {
 public:
  explicit Model(const WeightSet& w) : bias_(w.at("fake.bias").dense_tensor().clone()) {}
  int num_labels() const override { return kNumLabels; }
  int output_stride() const override { return 4; }
  Tensor forward(const Tensor& pixels) override {
    const int64_t B = pixels.dim(0), H = pixels.dim(2), W = pixels.dim(3);
    const int64_t h = (H + 3) / 4, w = (W + 3) / 4;
    Tensor out = Tensor::empty(DType::F32, {B, h, w, kNumLabels});
    const float* in = pixels.data<float>();
    const float* bias = bias_.data<float>();
    float* o = out.data<float>();
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t x = 0; x < w; ++x) {
          const float v = in[((b * 3) * H + 4 * y) * W + 4 * x];
          for (int c = 0; c < kNumLabels; ++c) {
            o[((b * h + y) * w + x) * kNumLabels + c] =
                -std::fabs(v - 1.0f - static_cast<float>(c) + bias[c]);
          }
        }
      }
    }
    return out;
  }

 private:
  Tensor bias_;
};

inline WeightSet fp32_weights() {
  WeightSet ws;
  ws["fake.bias"] = Weight::dense(Tensor::zeros(DType::F32, {kNumLabels}));
  return ws;
}

// "shift<k>": moves class k's logits peak, so its predictions differ from fp32.
inline EvalMethod resolve_method(const std::string& name) {
  if (name.rfind("shift", 0) == 0 && name.size() > 5) {
    const int k = std::stoi(name.substr(5));
    EvalMethod m;
    m.name = name;
    m.spec = "fake-shift(class=" + std::to_string(k % kNumLabels) + ")";  // canonical
    m.make_weights = [k](const WeightSet& fp32) {
      WeightSet ws = fp32;
      Tensor b = fp32.at("fake.bias").dense_tensor().clone();
      b.data<float>()[k % kNumLabels] = 0.6f;
      ws["fake.bias"] = Weight::dense(b);
      return ws;
    };
    return m;
  }
  return resolve_builtin_method(name);
}

// A dataset whose label bytes are the raw annotations as PNG (for `score`).
class Dataset : public segq::Dataset {
 public:
  Dataset(size_t n, bool varying) : varying_(varying) {
    for (size_t i = 0; i < n; ++i) {
      const std::string id = "img_" + std::to_string(100000 + i);
      samples_.push_back({id, id + ".jpg", id + ".png"});
    }
  }
  const std::vector<Sample>& samples() const override { return samples_; }
  std::string read_image_bytes(size_t) const override { return {}; }
  std::string read_label_bytes(size_t i) const override {
    const auto [lh, lw] = label_size(i, varying_);
    const std::vector<uint8_t> raw = raw_labels(i, lh, lw);
    return encode_index_png(raw.data(), lh, lw);
  }
  std::string image_location(size_t i) const override { return "fake:" + samples_[i].image_name; }
  std::string label_location(size_t i) const override { return "fake:" + samples_[i].label_name; }
  std::string description() const override { return "fake:" + std::to_string(samples_.size()); }

 private:
  bool varying_;
  std::vector<Sample> samples_;
};

}  // namespace segq::fake
