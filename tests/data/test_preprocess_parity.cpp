// Parity with Pillow 11.3 and transformers 4.57.1's SegformerImageProcessor (PIL backend), from
// the digests in tests/fixtures/data/expected.json (tools/make_data_fixtures.py). Every array must
// match bit for bit; on a mismatch the sampled values show how far off it is.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/pil_resize.h"
#include "data/preprocess.h"
#include "fixture_sources.h"
#include "io/file_util.h"
#include "io/image.h"

namespace segq {
namespace {

using nlohmann::json;

const json& fixtures() {
  static const json doc = json::parse(read_file(test::data_fixture_dir() + "/expected.json"));
  return doc;
}

// Returns false when the source lives in ../shared/data and that folder is absent.
bool source_bytes(const json& source, std::string* bytes) {
  if (source.contains("file")) {
    *bytes = read_file(test::data_fixture_dir() + "/" + source["file"].get<std::string>());
    return true;
  }
  if (source.contains("shared")) {
    if (!test::have_ade_sample()) return false;
    *bytes = read_file(test::shared_data_dir() + "/" + source["shared"].get<std::string>());
    return true;
  }
  return false;
}

// The source as PIL's convert("RGB") (or the formula image with its own channel count).
bool source_image(const json& source, ImageU8* image) {
  if (source.contains("formula")) {
    const json& f = source["formula"];
    *image = test::formula_image(f["h"], f["w"], f["channels"], f["seed"]);
    return true;
  }
  std::string bytes;
  if (!source_bytes(source, &bytes)) return false;
  *image = decode_image_rgb(bytes, source.dump());
  return true;
}

std::vector<int64_t> shape_of(const json& c) { return c["shape"].get<std::vector<int64_t>>(); }

// Compares `values` (row-major, shape `shape`) with the case's samples and digest.
template <class T>
void expect_matches(const json& c, const T* values, const std::vector<int64_t>& shape) {
  ASSERT_EQ(shape, shape_of(c)) << c["name"];
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  double max_diff = 0;
  for (const json& s : c["samples"]) {
    int64_t flat = 0;
    for (size_t k = 0; k < shape.size(); ++k) flat = flat * shape[k] + s[k].get<int64_t>();
    ASSERT_LT(flat, numel);
    const double expected = s[shape.size()].get<double>();
    max_diff = std::max(max_diff, std::fabs(double(values[flat]) - expected));
  }
  EXPECT_EQ(max_diff, 0.0) << c["name"] << ": max |difference| at the sampled positions";
  EXPECT_EQ(sha256_hex(values, size_t(numel) * sizeof(T)), c["sha256"].get<std::string>())
      << c["name"] << ": digest differs (sampled max |diff| " << max_diff << ")";
}

class Parity : public ::testing::TestWithParam<std::string> {};

const json& case_named(const std::string& name) {
  for (const json& c : fixtures()["cases"]) {
    if (c["name"] == name) return c;
  }
  throw Error("no fixture case " + name);
}

TEST_P(Parity, MatchesPillowAndTransformers) {
  const json& c = case_named(GetParam());
  const std::string kind = c["kind"];
  if (kind == "decode" || kind == "decode_label") {
    std::string bytes;
    if (!source_bytes(c["source"], &bytes)) GTEST_SKIP() << "needs ../shared/data";
    const ImageU8 image =
        kind == "decode" ? decode_image_rgb(bytes, c["name"]) : decode_label_map(bytes, c["name"]);
    expect_matches(c, image.pixels.data(), {image.height, image.width, image.channels});
  } else if (kind == "pixels") {
    ImageU8 rgb;
    if (!source_image(c["source"], &rgb)) GTEST_SKIP() << "needs ../shared/data";
    const PreprocessConfig config = preprocess_config_from_json(c["config"]);
    const Tensor pixels = preprocess_pixels(rgb, Protocol::Hf, config);
    expect_matches(c, pixels.data<float>(), pixels.shape());
  } else if (kind == "seed_labels") {
    std::string bytes;
    if (!source_bytes(c["label_source"], &bytes)) GTEST_SKIP() << "needs ../shared/data";
    const PreprocessConfig config = preprocess_config_from_json(c["config"]);
    ImageU8 labels = decode_label_map(bytes, c["name"]);
    if (config.reduce_labels) reduce_labels_in_place(&labels);
    const auto [h, w] = model_input_size(labels.height, labels.width, Protocol::Seed, config);
    const ImageU8 resized = pil_resize(labels, h, w, PilFilter::Nearest);
    expect_matches(c, resized.pixels.data(), {resized.height, resized.width});
  } else if (kind == "pil_resize") {
    ImageU8 image;
    if (!source_image(c["source"], &image)) GTEST_SKIP() << "needs ../shared/data";
    const std::vector<int64_t> shape = shape_of(c);
    const PilFilter filter = pil_filter_from_int(c["resample"]);
    const ImageU8 fast = pil_resize(image, int(shape[0]), int(shape[1]), filter);
    expect_matches(c, fast.pixels.data(), {fast.height, fast.width, fast.channels});
    const ImageU8 ref = pil_resize_ref(image, int(shape[0]), int(shape[1]), filter);
    EXPECT_EQ(ref.pixels, fast.pixels) << "pil_resize_ref disagrees with pil_resize";
  } else {
    FAIL() << "unknown fixture kind " << kind;
  }
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const json& c : fixtures()["cases"]) names.push_back(c["name"]);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Parity, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// The whole pipeline (dataset -> decode -> preprocess) on the real ADE sample equals the
// processor's pixel_values and the seed protocol's labels.
TEST(ParityPipeline, AdeSampleThroughPrepareSample) {
  if (!test::have_ade_sample()) GTEST_SKIP() << "needs ../shared/data";
  DatasetOptions options;
  options.data = test::ade_sample_dir();
  const auto dataset = open_dataset(options);
  ASSERT_EQ(dataset->samples().size(), 3u);
  const PreprocessConfig config = preprocess_config_from_json(case_named("ade1_512")["config"]);
  for (size_t i = 0; i < 3; ++i) {
    const std::string prefix = "ade" + std::to_string(i + 1);
    const PreparedSample hf = prepare_sample(*dataset, i, Protocol::Hf, config, 150);
    expect_matches(case_named(prefix + "_512"), hf.pixels.data<float>(), hf.pixels.shape());
    const PreparedSample seed = prepare_sample(*dataset, i, Protocol::Seed, config, 150);
    expect_matches(case_named(prefix + "_seed_labels_512"), seed.labels.data(),
                   {seed.label_h, seed.label_w});
    EXPECT_EQ(sha256_hex(seed.pixels.raw(), seed.pixels.nbytes()),
              sha256_hex(hf.pixels.raw(), hf.pixels.nbytes()));
  }
}

}  // namespace
}  // namespace segq
