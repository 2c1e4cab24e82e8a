// Preprocessing: config parsing, protocols' sizes and resize chains, label checks and reduction,
// the PIL resize against its plain-loop reference, and the OpenCV-style resize against a
// double-precision bilinear.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "data/cv_resize.h"
#include "data/pil_resize.h"
#include "data/preprocess.h"
#include "fixture_sources.h"

namespace segq {
namespace {

using nlohmann::json;

TEST(PreprocessConfig, DefaultsAreSegformerImageProcessors) {
  const PreprocessConfig c = preprocess_config_from_json(json::object());
  EXPECT_TRUE(c.do_resize);
  EXPECT_EQ(c.height, 512);
  EXPECT_EQ(c.width, 512);
  EXPECT_EQ(c.resample, 2);
  EXPECT_TRUE(c.do_rescale);
  EXPECT_EQ(c.rescale_factor, 1.0 / 255.0);
  EXPECT_TRUE(c.do_normalize);
  EXPECT_EQ(c.image_mean[0], 0.485f);
  EXPECT_EQ(c.image_std[2], 0.225f);
  EXPECT_FALSE(c.reduce_labels);
}

TEST(PreprocessConfig, ReadsEveryFieldAndSizeForm) {
  // The nvidia ADE checkpoints' file: an int size and the older "reduce_labels".
  PreprocessConfig c = preprocess_config_from_json(json::parse(R"({
    "do_normalize": true, "do_resize": true, "feature_extractor_type": "SegformerFeatureExtractor",
    "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
    "reduce_labels": true, "resample": 2, "size": 640})"));
  EXPECT_EQ(c.height, 640);
  EXPECT_EQ(c.width, 640);
  EXPECT_TRUE(c.reduce_labels);
  c = preprocess_config_from_json(json::parse(R"({"size": {"height": 256, "width": 320},
    "do_reduce_labels": false, "reduce_labels": true, "resample": 3, "rescale_factor": 0.5,
    "image_mean": 0.5, "image_std": [1, 2, 3], "do_rescale": false, "do_normalize": false,
    "do_resize": false})"));
  EXPECT_EQ(c.height, 256);
  EXPECT_EQ(c.width, 320);
  EXPECT_FALSE(c.reduce_labels) << "do_reduce_labels wins over reduce_labels";
  EXPECT_EQ(c.resample, 3);
  EXPECT_EQ(c.rescale_factor, 0.5);
  EXPECT_EQ(c.image_mean[1], 0.5f);
  EXPECT_EQ(c.image_std[2], 3.f);
  EXPECT_FALSE(c.do_rescale);
  EXPECT_FALSE(c.do_normalize);
  EXPECT_FALSE(c.do_resize);
  c = preprocess_config_from_json(json::parse(R"({"size": [100, 200]})"));
  EXPECT_EQ(c.height, 100);
  EXPECT_EQ(c.width, 200);
}

TEST(PreprocessConfig, BadValuesNameTheField) {
  auto message = [](const char* text) {
    try {
      preprocess_config_from_json(json::parse(text));
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(R"({"size": {"shortest_edge": 512}})").find("shortest_edge"),
            std::string::npos);
  EXPECT_NE(message(R"({"size": "big"})").find("\"size\""), std::string::npos);
  EXPECT_NE(message(R"({"size": {"height": 0, "width": 4}})").find("size.height"),
            std::string::npos);
  EXPECT_NE(message(R"({"resample": 9})").find("resample"), std::string::npos);
  EXPECT_NE(message(R"({"image_mean": [1, 2]})").find("image_mean"), std::string::npos);
  EXPECT_NE(message(R"({"do_reduce_labels": "yes"})").find("do_reduce_labels"), std::string::npos);
  EXPECT_NE(message(R"([1, 2])").find("JSON object"), std::string::npos);
}

TEST(Protocol, NamesRoundTrip) {
  for (Protocol p : {Protocol::Hf, Protocol::Seed, Protocol::Mmseg}) {
    EXPECT_EQ(protocol_from_name(protocol_name(p)), p);
  }
  EXPECT_THROW(protocol_from_name("HF"), UsageError);
}

TEST(Protocol, InputSizes) {
  PreprocessConfig c;
  c.height = 384;
  c.width = 288;
  EXPECT_EQ(model_input_size(512, 683, Protocol::Hf, c), std::make_pair(384, 288));
  EXPECT_EQ(model_input_size(512, 683, Protocol::Seed, c), std::make_pair(384, 288));
  // mmseg: s = min(2048 / long, 512 / short); (int(h * s + 0.5), int(w * s + 0.5)).
  EXPECT_EQ(model_input_size(512, 683, Protocol::Mmseg, c), std::make_pair(512, 683));
  EXPECT_EQ(mmseg_input_size(300, 400), std::make_pair(512, 683));
  EXPECT_EQ(mmseg_input_size(256, 2000), std::make_pair(262, 2048));
  EXPECT_EQ(mmseg_input_size(1000, 1000), std::make_pair(512, 512));
  c.do_resize = false;
  EXPECT_EQ(model_input_size(31, 17, Protocol::Hf, c), std::make_pair(31, 17));
}

TEST(Labels, ReduceAndCheck) {
  ImageU8 labels(1, 5, 1);
  labels.pixels = {0, 1, 150, 255, 7};
  EXPECT_NO_THROW(check_label_values(labels, 150, true, "x.png"));
  EXPECT_THROW(check_label_values(labels, 150, false, "x.png"), Error);  // 150 is out of 0..149
  reduce_labels_in_place(&labels);
  EXPECT_EQ(labels.pixels, (std::vector<uint8_t>{255, 0, 149, 255, 6}));
  labels.pixels = {151, 200, 3};
  try {
    check_label_values(labels, 150, true, "dir/y.png");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dir/y.png: label map holds values 151, 200 above the 150 "
                                         "classes"),
              std::string::npos)
        << e.what();
  }
}

// A synthetic in-memory dataset of one sample, to drive prepare_sample.
class OneSample : public Dataset {
 public:
  OneSample(std::string image, std::string label)
      : image_(std::move(image)), label_(std::move(label)), samples_{{"s", "s.png", "s.png"}} {}
  const std::vector<Sample>& samples() const override { return samples_; }
  std::string read_image_bytes(size_t) const override { return image_; }
  std::string read_label_bytes(size_t) const override { return label_; }
  std::string image_location(size_t) const override { return "mem:image"; }
  std::string label_location(size_t) const override { return "mem:label"; }
  std::string description() const override { return "mem"; }

 private:
  std::string image_, label_;
  std::vector<Sample> samples_;
};

TEST(PrepareSample, ProtocolsShapeLabelsAndChains) {
  ImageU8 labels = test::formula_image(300, 400, 1, 3);
  for (uint8_t& v : labels.pixels) v = uint8_t(v % 151);
  const OneSample data(encode_png(test::formula_image(300, 400, 3, 2)), encode_png(labels));
  PreprocessConfig c;
  c.reduce_labels = true;
  c.height = 64;
  c.width = 96;
  ImageU8 reduced = labels;
  reduce_labels_in_place(&reduced);

  const PreparedSample hf = prepare_sample(data, 0, Protocol::Hf, c, 150);
  EXPECT_EQ(hf.pixels.shape(), (Shape{3, 64, 96}));
  EXPECT_EQ(hf.label_h, 300);
  EXPECT_EQ(hf.label_w, 400);
  EXPECT_EQ(hf.labels, reduced.pixels);
  EXPECT_EQ(hf.logits_resize_chain, (std::vector<std::pair<int, int>>{{300, 400}}));

  const PreparedSample seed = prepare_sample(data, 0, Protocol::Seed, c, 150);
  EXPECT_EQ(seed.label_h, 64);
  EXPECT_EQ(seed.label_w, 96);
  EXPECT_EQ(seed.labels, pil_resize(reduced, 64, 96, PilFilter::Nearest).pixels);
  EXPECT_EQ(seed.logits_resize_chain, (std::vector<std::pair<int, int>>{{64, 96}}));

  const PreparedSample mm = prepare_sample(data, 0, Protocol::Mmseg, c, 150);
  EXPECT_EQ(mm.pixels.shape(), (Shape{3, 512, 683}));
  EXPECT_EQ(mm.labels, reduced.pixels);
  EXPECT_EQ(mm.logits_resize_chain, (std::vector<std::pair<int, int>>{{512, 683}, {300, 400}}));
  // mmseg normalizes 0..255 pixels by mean*255 and std*255: pixel 0 of the red plane.
  const ImageU8 resized = cv_resize_linear(test::formula_image(300, 400, 3, 2), 512, 683);
  const float expected =
      (float(resized.pixels[0]) - float(0.485 * 255.0)) / float(double(0.229f) * 255.0);
  EXPECT_NEAR(mm.pixels.data<float>()[0], expected, 1e-5f);
}

TEST(PilResize, FastEqualsReferenceOnOddShapes) {
  const int shapes[][4] = {{1, 1, 7, 5},     {5, 9, 1, 1},     {13, 7, 13, 29},  {40, 3, 9, 3},
                           {33, 45, 32, 44}, {17, 23, 200, 9}, {100, 64, 21, 64}};
  for (const auto& s : shapes) {
    for (int channels : {1, 3, 4}) {
      const ImageU8 image = test::formula_image(s[0], s[1], channels, s[2] + s[3]);
      for (int f = 0; f <= 5; ++f) {
        const PilFilter filter = pil_filter_from_int(f);
        EXPECT_EQ(pil_resize(image, s[2], s[3], filter).pixels,
                  pil_resize_ref(image, s[2], s[3], filter).pixels)
            << s[0] << "x" << s[1] << " -> " << s[2] << "x" << s[3] << " c" << channels << " f"
            << f;
      }
    }
  }
}

TEST(PilResize, CoefficientsSumToOneInFixedPoint) {
  for (int in : {1, 2, 7, 97, 683}) {
    for (int out : {1, 3, 64, 512}) {
      const PilResampleCoeffs c = pil_resample_coeffs(in, out, PilFilter::Bilinear);
      for (int x = 0; x < out; ++x) {
        int64_t sum = 0;
        for (int k = 0; k < c.count[x]; ++k) sum += c.weights[size_t(x) * c.ksize + k];
        // Each weight is rounded separately: the sum is 2^22 up to one unit per tap.
        EXPECT_LE(std::llabs(sum - (int64_t(1) << 22)), c.count[x]) << in << "->" << out;
        EXPECT_GE(c.first[x], 0);
        EXPECT_LE(c.first[x] + c.count[x], in);
      }
    }
  }
}

// OpenCV INTER_LINEAR = bilinear with half-pixel centres and clamped borders; the fixed-point
// version may differ from exact arithmetic by the rounding of two 11-bit weights: at most 1.
TEST(CvResize, WithinOneOfExactBilinear) {
  const int shapes[][4] = {{30, 40, 512, 683}, {97, 131, 45, 300}, {8, 8, 8, 8}, {5, 300, 17, 2}};
  for (const auto& s : shapes) {
    const ImageU8 image = test::formula_image(s[0], s[1], 3, 5);
    const ImageU8 out = cv_resize_linear(image, s[2], s[3]);
    int worst = 0;
    for (int y = 0; y < s[2]; ++y) {
      double fy = (y + 0.5) * double(s[0]) / s[2] - 0.5;
      fy = std::clamp(fy, 0.0, double(s[0] - 1));
      const int y0 = int(fy), y1 = std::min(y0 + 1, s[0] - 1);
      const double wy = fy - y0;
      for (int x = 0; x < s[3]; ++x) {
        double fx = (x + 0.5) * double(s[1]) / s[3] - 0.5;
        fx = std::clamp(fx, 0.0, double(s[1] - 1));
        const int x0 = int(fx), x1 = std::min(x0 + 1, s[1] - 1);
        const double wx = fx - x0;
        for (int c = 0; c < 3; ++c) {
          auto at = [&](int yy, int xx) { return double(image.row(yy)[xx * 3 + c]); };
          const double v = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) +
                           wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
          worst = std::max(worst, std::abs(int(out.row(y)[x * 3 + c]) - int(std::lround(v))));
        }
      }
    }
    EXPECT_LE(worst, 1) << s[0] << "x" << s[1] << " -> " << s[2] << "x" << s[3];
  }
}

}  // namespace
}  // namespace segq
