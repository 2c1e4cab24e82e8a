// Metric parity: counts against torchmetrics' confusion matrix, metrics against evaluate's
// mean_iou semantics (numpy, float64) and the spec's docstring oracle, bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "eval/counts.h"
#include "eval/fixture_rng.h"
#include "eval/metrics.h"
#include "io/file_util.h"

namespace segq {
namespace {

using nlohmann::json;

struct CaseImage {
  int h = 0, w = 0;
  std::vector<uint8_t> pred, label;
};

// Mirrors generate_case() in tools/make_metric_fixtures.py draw for draw.
std::vector<CaseImage> generate_case(const json& p) {
  fixture::SplitMix64 rng(p.at("seed").get<uint64_t>());
  const int n = p.at("num_labels");
  const auto label_classes = p.at("label_classes").get<std::vector<int>>();
  const auto pred_classes = p.at("pred_classes").get<std::vector<int>>();
  const uint64_t ignore = p.at("ignore_per_mille"), oor = p.at("out_of_range_per_mille"),
                 correct = p.at("correct_per_mille"), max_side = p.at("max_side");
  std::vector<CaseImage> images;
  for (int k = 0; k < p.at("num_images").get<int>(); ++k) {
    CaseImage im;
    im.h = static_cast<int>(1 + rng.below(max_side));
    im.w = static_cast<int>(1 + rng.below(max_side));
    const size_t px = static_cast<size_t>(im.h) * im.w;
    im.pred.resize(px);
    im.label.resize(px);
    for (size_t i = 0; i < px; ++i) {
      if (rng.below(1000) < ignore) {
        im.label[i] = kIgnoreLabel;
      } else {
        im.label[i] = static_cast<uint8_t>(label_classes[rng.below(label_classes.size())]);
      }
      const uint64_t r = rng.below(1000);
      if (r < oor) {
        im.pred[i] = static_cast<uint8_t>(n + rng.below(256 - n));
      } else if (r < oor + correct && im.label[i] != kIgnoreLabel) {
        im.pred[i] = im.label[i];
      } else {
        im.pred[i] = static_cast<uint8_t>(pred_classes[rng.below(pred_classes.size())]);
      }
    }
    images.push_back(std::move(im));
  }
  return images;
}

double json_double(const json& v) {
  return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
}

// Exact equality with NaN == NaN; the 1e-12 bound of the acceptance criterion is implied.
void expect_same(double got, const json& want, const std::string& what) {
  const double w = json_double(want);
  if (std::isnan(w)) {
    EXPECT_TRUE(std::isnan(got)) << what << ": got " << got << ", want NaN";
    return;
  }
  EXPECT_NEAR(got, w, 1e-12) << what;
  EXPECT_EQ(got, w) << what << " differs in the last bits: " << got - w;
}

json load_fixture(const std::string& name) {
  return json::parse(read_file(std::string(SEGQ_SOURCE_DIR) + "/tests/fixtures/metrics/" + name));
}

SegmentationCounts count_images(const std::vector<CaseImage>& images, int num_labels,
                                std::vector<ImageCounts>* per_image = nullptr) {
  SegmentationCounts counts(num_labels);
  for (size_t k = 0; k < images.size(); ++k) {
    ImageCounts ic = counts.add_image("img" + std::to_string(k), images[k].pred.data(),
                                      images[k].label.data(), images[k].pred.size());
    if (per_image) per_image->push_back(std::move(ic));
  }
  return counts;
}

void check_evaluate_metrics(const SegmentationMetrics& m, const json& ev, const std::string& name) {
  expect_same(m.mean_iou, ev.at("mean_iou"), name + " mean_iou");
  expect_same(m.mean_accuracy, ev.at("mean_accuracy"), name + " mean_accuracy");
  expect_same(m.overall_accuracy, ev.at("overall_accuracy"), name + " overall_accuracy");
  expect_same(m.devkit_mean_iou, ev.at("devkit_mean_iou"), name + " devkit_mean_iou");
  expect_same(m.devkit_mean_accuracy, ev.at("devkit_mean_accuracy"),
              name + " devkit_mean_accuracy");
  ASSERT_EQ(m.per_class_iou.size(), ev.at("per_class_iou").size());
  for (size_t c = 0; c < m.per_class_iou.size(); ++c) {
    expect_same(m.per_class_iou[c], ev.at("per_class_iou")[c],
                name + " iou[" + std::to_string(c) + "]");
    expect_same(m.per_class_accuracy[c], ev.at("per_class_accuracy")[c],
                name + " acc[" + std::to_string(c) + "]");
  }
}

TEST(Metrics, SpecDocstringOracle) {
  // evaluate's mean_iou docstring example, as quoted in spec/segformer.md.
  const std::vector<std::vector<uint8_t>> preds = {
      {1, 2, 3, 4, 5, 255}, {2, 7, 9, 2, 3, 6}, {2, 2, 3, 8, 2, 4, 3, 255, 2}};
  const std::vector<std::vector<uint8_t>> labels = {
      {0, 3, 5, 4, 6, 255}, {1, 7, 9, 2, 3, 6}, {1, 2, 2, 8, 2, 1, 3, 255, 1}};
  SegmentationCounts counts(10);
  for (size_t k = 0; k < preds.size(); ++k) {
    counts.add_image(std::to_string(k), preds[k].data(), labels[k].data(), preds[k].size());
  }
  const SegmentationMetrics m = compute_metrics(counts);
  EXPECT_EQ(m.mean_iou, 0.47750000000000004);
  EXPECT_EQ(m.mean_accuracy, 0.5916666666666666);
  EXPECT_EQ(m.overall_accuracy, 0.5263157894736842);
  const double iou[10] = {0, 0, 0.375, 0.4, 0.5, 0, 0.5, 1, 1, 1};
  for (int c = 0; c < 10; ++c) EXPECT_EQ(m.per_class_iou[c], iou[c]) << c;
  EXPECT_EQ(counts.num_pixels(), 19u);
  EXPECT_EQ(counts.num_images(), 3u);
}

TEST(Metrics, FixtureDocstringCaseMatchesAllOracles) {
  const json f = load_fixture("metric_cases.json");
  const json& doc = f.at("docstring_case");
  std::vector<CaseImage> images;
  for (const json& im : doc.at("images")) {
    CaseImage ci;
    for (const json& row : im.at("pred")) {
      for (int v : row) ci.pred.push_back(static_cast<uint8_t>(v));
    }
    for (const json& row : im.at("label")) {
      for (int v : row) ci.label.push_back(static_cast<uint8_t>(v));
    }
    images.push_back(ci);
  }
  const SegmentationMetrics m = compute_metrics(count_images(images, 10));
  check_evaluate_metrics(m, doc.at("evaluate"), "docstring");
}

// Float32 reductions in torchmetrics: counts convert exactly (< 2^24), each ratio rounds once,
// the weighted sum over n classes adds at most n roundings: |err| <= (n + 3) * 2^-24 (values <= 1).
double float32_tolerance(int n) { return (n + 3) * std::ldexp(1.0, -24); }

TEST(Metrics, FixtureCasesMatchTorchmetricsAndEvaluateSemantics) {
  const json f = load_fixture("metric_cases.json");
  ASSERT_GE(f.at("cases").size(), 5u);
  for (const json& c : f.at("cases")) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    const int n = c.at("num_labels");
    const std::vector<CaseImage> images = generate_case(c);
    ASSERT_EQ(images.size(), c.at("image_sizes").size());
    for (size_t k = 0; k < images.size(); ++k) {
      ASSERT_EQ(images[k].h, c.at("image_sizes")[k][0].get<int>()) << "generator out of sync";
      ASSERT_EQ(images[k].w, c.at("image_sizes")[k][1].get<int>()) << "generator out of sync";
    }
    std::vector<ImageCounts> per_image;
    const SegmentationCounts counts = count_images(images, n, &per_image);

    // Counting oracle: torchmetrics' confusion matrix (in-range predictions), exact.
    std::vector<uint64_t> want(static_cast<size_t>(n) * n, 0);
    for (const json& e : c.at("confusion_nonzero")) {
      want[e[0].get<size_t>() * n + e[1].get<size_t>()] = e[2].get<uint64_t>();
    }
    EXPECT_EQ(counts.confusion(), want);
    EXPECT_EQ(counts.pred_out_of_range(), c.at("pred_out_of_range").get<std::vector<uint64_t>>());
    EXPECT_EQ(counts.num_pixels(), c.at("num_pixels").get<uint64_t>());

    // evaluate semantics, bit for bit.
    const SegmentationMetrics m = compute_metrics(counts);
    check_evaluate_metrics(m, c.at("evaluate"), name);

    // Per-image counts add up to the totals.
    std::vector<uint64_t> inter(n, 0), pred(n, 0), label(n, 0);
    uint64_t pixels = 0;
    for (const ImageCounts& ic : per_image) {
      ASSERT_TRUE(std::is_sorted(ic.classes.begin(), ic.classes.end()));
      for (size_t j = 0; j < ic.classes.size(); ++j) {
        EXPECT_GT(ic.predicted[j] + ic.label[j], 0u);
        inter[ic.classes[j]] += ic.intersection[j];
        pred[ic.classes[j]] += ic.predicted[j];
        label[ic.classes[j]] += ic.label[j];
      }
      pixels += ic.num_pixels;
    }
    EXPECT_EQ(inter, counts.area_intersection());
    EXPECT_EQ(pred, counts.area_predicted());
    EXPECT_EQ(label, counts.area_label());
    EXPECT_EQ(pixels, counts.num_pixels());

    // Without the out-of-range pixels, evaluate semantics and torchmetrics' macro Jaccard agree
    // (both leave out classes with neither prediction nor label); torchmetrics works in float32.
    std::vector<uint64_t> label_in_range = counts.area_label();
    for (int k = 0; k < n; ++k) label_in_range[k] -= counts.pred_out_of_range()[k];
    const SegmentationMetrics in_range =
        compute_metrics(counts.area_intersection(), counts.area_predicted(), label_in_range);
    expect_same(in_range.mean_iou, c.at("evaluate_mean_iou_in_range"), "in-range mean_iou");
    expect_same(in_range.mean_accuracy, c.at("evaluate_mean_accuracy_in_range"),
                "in-range mean_accuracy");
    const json& tm_iou = c.at("torchmetrics_jaccard_macro_in_range");
    if (tm_iou.is_null()) {
      EXPECT_TRUE(std::isnan(in_range.mean_iou));
    } else {
      EXPECT_NEAR(in_range.mean_iou, tm_iou.get<double>(), float32_tolerance(n));
    }
    // torchmetrics' macro accuracy: a class predicted but never labelled scores 0 with weight 1
    // (evaluate: NaN, excluded), so it is sum(accuracy of labelled classes) / classes present.
    double acc_sum = 0;
    for (int k = 0; k < n; ++k) {
      if (label_in_range[k] > 0) acc_sum += in_range.per_class_accuracy[k];
    }
    const double tm_acc_formula =
        in_range.num_classes_present == 0 ? 0.0 : acc_sum / in_range.num_classes_present;
    EXPECT_NEAR(tm_acc_formula, c.at("torchmetrics_accuracy_macro_in_range").get<double>(),
                float32_tolerance(n));
  }
}

TEST(Metrics, CountsAreOrderAndGroupingIndependent) {
  const json f = load_fixture("metric_cases.json");
  const json& c = f.at("cases").at(2);
  std::vector<CaseImage> images = generate_case(c);
  const int n = c.at("num_labels");
  const SegmentationCounts all = count_images(images, n);
  std::mt19937 gen(7);
  std::shuffle(images.begin(), images.end(), gen);
  SegmentationCounts merged;
  for (size_t k = 0; k < images.size(); ++k) {
    SegmentationCounts part(n);
    part.add_image("x", images[k].pred.data(), images[k].label.data(), images[k].pred.size());
    merged.merge(part);
  }
  EXPECT_TRUE(merged == all);
  const SegmentationCounts restored = SegmentationCounts::from_totals(
      n, all.confusion(), all.pred_out_of_range(), all.num_pixels(), all.num_images());
  EXPECT_TRUE(restored == all);
  EXPECT_THROW(SegmentationCounts::from_totals(n, all.confusion(), all.pred_out_of_range(),
                                               all.num_pixels() + 1, all.num_images()),
               Error);
}

TEST(Metrics, LabelOutsideRangeNamesTheImage) {
  SegmentationCounts counts(5);
  const uint8_t pred[3] = {0, 1, 2};
  const uint8_t label[3] = {0, 255, 7};
  try {
    counts.add_image("ADE_val_00000042", pred, label, 3);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ADE_val_00000042"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("label value 7"), std::string::npos) << e.what();
  }
}

TEST(Metrics, OutOfRangePredictionStillCountsInLabelArea) {
  SegmentationCounts counts(3);
  const uint8_t pred[4] = {0, 200, 3, 1};
  const uint8_t label[4] = {0, 0, 1, 255};
  counts.add_image("a", pred, label, 4);
  EXPECT_EQ(counts.area_label(), (std::vector<uint64_t>{2, 1, 0}));
  EXPECT_EQ(counts.area_predicted(), (std::vector<uint64_t>{1, 0, 0}));
  const SegmentationMetrics m = compute_metrics(counts);
  EXPECT_EQ(m.per_class_accuracy[0], 0.5);
  EXPECT_EQ(m.per_class_iou[0], 0.5);
  EXPECT_EQ(m.per_class_accuracy[1], 0.0);
  EXPECT_TRUE(std::isnan(m.per_class_iou[2]));
  EXPECT_EQ(m.devkit_mean_iou, 0.5 / 3);
  EXPECT_EQ(m.num_classes_present, 2);
}

TEST(Metrics, NumpyPairwiseSumOrder) {
  // Values whose float64 sum depends on the order: the pairwise order must be numpy's, which
  // for 9 values is ((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7)) then + a8.
  std::vector<double> v = {1e16, 1.0, -1e16, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
  const double expect = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])) + v[8];
  EXPECT_EQ(numpy_pairwise_sum(v.data(), v.size()), expect);
  double seq = 0;
  for (double x : v) seq += x;
  EXPECT_NE(seq, expect);  // the test would not notice a sequential sum otherwise
  EXPECT_EQ(expect, 5.0);  // np.sum of these values (numpy 2.2.6)
  // Above 128 values numpy splits the array; np.sum([1.0]*7 + [1e16, -1e16] + [1.0]*140) is
  // 129.0 with numpy 2.2.6 (a sequential sum gives 148.0).
  std::vector<double> w(7, 1.0);
  w.push_back(1e16);
  w.push_back(-1e16);
  w.resize(149, 1.0);
  EXPECT_EQ(numpy_pairwise_sum(w.data(), w.size()), 129.0);
}

}  // namespace
}  // namespace segq
