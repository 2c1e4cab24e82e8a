// Comparisons with the fp32 baseline (eval/compare.h), their storage in shard files, and the
// preview palette: agreement and NMSE on hand-made inputs, the paired bootstrap's fixed points
// (identical inputs give exactly [0, 0], a uniform shift of every image is found with a zero-width
// interval), its determinism and seed dependence, a brute-force check of the resampling against
// an independent recomputation, and a shard round trip of the per-image comparison fields.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "eval/compare.h"
#include "eval/fixture_rng.h"
#include "eval/metrics.h"
#include "eval/palette.h"
#include "eval/results.h"

using nlohmann::json;

namespace segq {
namespace {

TEST(Compare, CountEqualAndNmse) {
  const std::vector<uint8_t> a = {1, 2, 3, 4, 255, 7}, b = {1, 0, 3, 4, 255, 6};
  EXPECT_EQ(count_equal(a.data(), b.data(), a.size()), 4u);
  EXPECT_EQ(count_equal(a.data(), a.data(), a.size()), a.size());
  const std::vector<float> ref = {1, -2, 3, 0}, x = {1, -2, 2, 1};
  // err = 1 + 1 = 2, energy = 1 + 4 + 9 = 14
  EXPECT_DOUBLE_EQ(logit_nmse(x.data(), ref.data(), 4), 2.0 / 14.0);
  EXPECT_EQ(logit_nmse(ref.data(), ref.data(), 4), 0.0);
  const std::vector<float> zeros(4, 0.f);
  EXPECT_EQ(logit_nmse(zeros.data(), zeros.data(), 4), 0.0);
  EXPECT_TRUE(std::isinf(logit_nmse(x.data(), zeros.data(), 4)));
}

TEST(Compare, MeansOverImagesSkipUncomparedOnes) {
  std::vector<ImageCounts> ims(3);
  ims[0].agree_pixels = 90, ims[0].compared_pixels = 100, ims[0].logit_nmse = 0.1;
  ims[1].agree_pixels = 10, ims[1].compared_pixels = 300, ims[1].logit_nmse = 0.3;
  // ims[2] not compared
  EXPECT_DOUBLE_EQ(mean_agreement(ims), 100.0 / 400.0);
  EXPECT_DOUBLE_EQ(mean_logit_nmse(ims), (0.1 + 0.3) / 2);
  EXPECT_TRUE(std::isnan(mean_agreement({})));
  EXPECT_TRUE(std::isnan(mean_logit_nmse({ims[2]})));
}

// Random images with a handful of classes each, scored against their labels.
std::vector<ImageCounts> random_images(int n, int num_labels, uint64_t seed, int flip_percent) {
  fixture::SplitMix64 rng(seed), noise(seed ^ 0xabcdef);  // labels depend on the seed only
  SegmentationCounts counts(num_labels);
  std::vector<ImageCounts> out;
  for (int i = 0; i < n; ++i) {
    const size_t pixels = 64;
    std::vector<uint8_t> label(pixels), pred(pixels);
    const int base = static_cast<int>(rng.below(num_labels));
    for (size_t p = 0; p < pixels; ++p) {
      label[p] = static_cast<uint8_t>((base + rng.below(3)) % num_labels);
      const uint64_t roll = noise.below(100), other = noise.below(num_labels);
      pred[p] = roll < static_cast<uint64_t>(flip_percent) ? static_cast<uint8_t>(other) : label[p];
    }
    char id[16];
    std::snprintf(id, sizeof id, "im%04d", i);
    out.push_back(counts.add_image(id, pred.data(), label.data(), pixels));
  }
  return out;
}

TEST(Bootstrap, IdenticalInputsGiveExactlyZero) {
  const std::vector<ImageCounts> a = random_images(40, 12, 1, 20);
  const DeltaInterval d = bootstrap_delta_miou(a, a, 12);
  EXPECT_EQ(d.value, 0.0);
  EXPECT_EQ(d.low, 0.0);
  EXPECT_EQ(d.high, 0.0);
  EXPECT_EQ(d.num_images, 40u);
  EXPECT_EQ(d.resamples, kBootstrapResamples);
}

TEST(Bootstrap, DeterministicSeededAndBracketsAWorseMethod) {
  const std::vector<ImageCounts> base = random_images(60, 12, 7, 10);
  const std::vector<ImageCounts> worse = random_images(60, 12, 7, 40);  // same labels, more noise
  const DeltaInterval d1 = bootstrap_delta_miou(worse, base, 12);
  const DeltaInterval d2 = bootstrap_delta_miou(worse, base, 12);
  EXPECT_EQ(d1.low, d2.low);
  EXPECT_EQ(d1.high, d2.high);
  EXPECT_LT(d1.value, -0.1);
  EXPECT_LT(d1.low, d1.high);
  EXPECT_LT(d1.high, 0.0);  // a clear loss: the whole interval is below zero
  const DeltaInterval d3 = bootstrap_delta_miou(worse, base, 12, kBootstrapResamples, 99);
  EXPECT_TRUE(d3.low != d1.low || d3.high != d1.high);
  // The value is the difference of the plain mIoUs over the paired images.
  std::vector<uint64_t> ib(12), pb(12), lb(12), iw(12), pw(12), lw(12);
  for (size_t i = 0; i < base.size(); ++i) {
    for (size_t k = 0; k < base[i].classes.size(); ++k) {
      ib[base[i].classes[k]] += base[i].intersection[k];
      pb[base[i].classes[k]] += base[i].predicted[k];
      lb[base[i].classes[k]] += base[i].label[k];
    }
    for (size_t k = 0; k < worse[i].classes.size(); ++k) {
      iw[worse[i].classes[k]] += worse[i].intersection[k];
      pw[worse[i].classes[k]] += worse[i].predicted[k];
      lw[worse[i].classes[k]] += worse[i].label[k];
    }
  }
  EXPECT_EQ(d1.value, compute_metrics(iw, pw, lw).mean_iou - compute_metrics(ib, pb, lb).mean_iou);
}

TEST(Bootstrap, PairsImagesByIdAndHandlesNoOverlap) {
  std::vector<ImageCounts> a = random_images(10, 8, 3, 30);
  std::vector<ImageCounts> b(a.begin() + 5, a.end());  // only the last 5 ids
  const DeltaInterval d = bootstrap_delta_miou(a, b, 8);
  EXPECT_EQ(d.num_images, 5u);
  EXPECT_EQ(d.low, 0.0);
  EXPECT_EQ(d.high, 0.0);
  const DeltaInterval none =
      bootstrap_delta_miou(std::vector<ImageCounts>(a.begin(), a.begin() + 5), b, 8);
  EXPECT_EQ(none.num_images, 0u);
  EXPECT_TRUE(std::isnan(none.low));
}

TEST(Palette, FixedDistinctColoursAndBlackIgnore) {
  const auto ignore = class_colour(kIgnoreLabel);
  EXPECT_EQ(ignore, (std::array<uint8_t, 3>{0, 0, 0}));
  EXPECT_EQ(class_colour(0), (std::array<uint8_t, 3>{128, 0, 0}));  // VOC entry 1
  EXPECT_EQ(class_colour(1), (std::array<uint8_t, 3>{0, 128, 0}));  // VOC entry 2
  std::set<std::array<uint8_t, 3>> seen;
  for (int c = 0; c < 150; ++c) seen.insert(class_colour(c));
  EXPECT_EQ(seen.size(), 150u);
  EXPECT_EQ(seen.count(ignore), 0u);
  const uint8_t values[4] = {0, 1, 255, 0};
  const ImageU8 img = colourize_index_map(values, 2, 2);
  ASSERT_EQ(img.channels, 3);
  EXPECT_EQ(img.pixels[0], 128);
  EXPECT_EQ(img.pixels[4], 128);
  EXPECT_EQ(img.pixels[6] + img.pixels[7] + img.pixels[8], 0);
}

TEST(Results, ShardFilesKeepComparisonsAndSizes) {
  ShardState s;
  s.shard = ShardSpec{0, 1, ""};
  s.fingerprint = {{"dataset", {{"num_samples", 4}}}, {"methods", json::array({1})}};
  MethodResult m;
  m.name = "int4";
  m.spec = "int4-x";
  m.complete = true;
  m.counts = SegmentationCounts(8);
  fixture::SplitMix64 rng(11);
  for (int i = 0; i < 4; ++i) {
    std::vector<uint8_t> label(16), pred(16);
    for (int p = 0; p < 16; ++p) {
      label[p] = static_cast<uint8_t>(rng.below(8));
      pred[p] = static_cast<uint8_t>(rng.below(8));
    }
    ImageCounts im = m.counts.add_image("id" + std::to_string(i), pred.data(), label.data(), 16);
    im.agree_pixels = 3 + i;
    im.compared_pixels = 16;
    im.logit_nmse = i == 2 ? std::numeric_limits<double>::quiet_NaN() : 0.125 * (i + 1);
    m.per_image.push_back(im);
  }
  m.size = {1234, 5678, 5000};
  m.timings.reference_s = 0.5;
  s.methods.push_back(m);
  const ShardState back = shard_from_json(shard_to_json(s), "mem");
  ASSERT_EQ(back.methods.size(), 1u);
  const MethodResult& r = back.methods[0];
  EXPECT_EQ(r.size.bytes, 1234);
  EXPECT_EQ(r.size.params, 5678);
  EXPECT_EQ(r.size.quantized_params, 5000);
  EXPECT_EQ(r.timings.reference_s, 0.5);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(r.per_image[i].agree_pixels, 3u + i);
    EXPECT_EQ(r.per_image[i].compared_pixels, 16u);
    if (i == 2) {
      EXPECT_TRUE(std::isnan(r.per_image[i].logit_nmse));
    } else {
      EXPECT_EQ(r.per_image[i].logit_nmse, 0.125 * (i + 1));
    }
  }
  EXPECT_DOUBLE_EQ(mean_agreement(r.per_image), (3 + 4 + 5 + 6) / 64.0);
}

}  // namespace
}  // namespace segq
