// Fused bilinear upsample + argmax against a plain resize-then-argmax reference (and PyTorch's
// F.interpolate + argmax values from tools/make_metric_fixtures.py), scalar and AVX2.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/cpu.h"
#include "core/error.h"
#include "eval/fixture_rng.h"
#include "io/file_util.h"
#include "kernels/upsample_argmax.h"

namespace segq {
namespace {

using nlohmann::json;
using SizeChain = std::vector<std::pair<int, int>>;

// The plain reference: materialize every resized [H, W, L] level with PyTorch's float32 formula
// (written independently of the kernel: per pixel, per channel, straight from the definition in
// kernels/upsample_argmax.h, FMAs included).
struct Axis1 {
  int i0, i1;
  float l0, l1;
};
Axis1 torch_axis(int in, int out, int dst) {
  if (in == out) return {dst, dst, 1.0f, 0.0f};
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  float src = std::fma(scale, static_cast<float>(dst) + 0.5f, -0.5f);
  if (src < 0) src = 0;
  const int i0 = std::min(static_cast<int>(std::floor(src)), in - 1);
  const float l1 = std::min(std::max(src - static_cast<float>(i0), 0.0f), 1.0f);
  return {i0, i0 + (i0 < in - 1 ? 1 : 0), 1.0f - l1, l1};
}

std::vector<float> resize_plain(const std::vector<float>& x, int h, int w, int L, int oh, int ow) {
  std::vector<float> out(static_cast<size_t>(oh) * ow * L);
  for (int y = 0; y < oh; ++y) {
    const Axis1 ay = torch_axis(h, oh, y);
    for (int xx = 0; xx < ow; ++xx) {
      const Axis1 ax = torch_axis(w, ow, xx);
      for (int c = 0; c < L; ++c) {
        auto at = [&](int r, int col) { return x[(static_cast<size_t>(r) * w + col) * L + c]; };
        // Width first, then height; fma(x0, l0, x1 * l1) as PyTorch's AVX2 build computes it.
        const float t0 = std::fma(at(ay.i0, ax.i0), ax.l0, at(ay.i0, ax.i1) * ax.l1);
        const float t1 = std::fma(at(ay.i1, ax.i0), ax.l0, at(ay.i1, ax.i1) * ax.l1);
        out[(static_cast<size_t>(y) * ow + xx) * L + c] = std::fma(t0, ay.l0, t1 * ay.l1);
      }
    }
  }
  return out;
}

std::vector<uint8_t> argmax_plain(const std::vector<float>& x, size_t pixels, int L) {
  std::vector<uint8_t> out(pixels);
  for (size_t p = 0; p < pixels; ++p) {
    int best = 0;
    for (int c = 1; c < L; ++c) {
      const float v = x[p * L + c], b = x[p * L + best];
      if (v > b || (std::isnan(v) && !std::isnan(b))) best = c;
    }
    out[p] = static_cast<uint8_t>(best);
  }
  return out;
}

std::vector<float> chain_plain(std::vector<float> x, int h, int w, int L, const SizeChain& chain) {
  for (const auto& [oh, ow] : chain) {
    x = resize_plain(x, h, w, L, oh, ow);
    h = oh;
    w = ow;
  }
  return x;
}

// The kernel run in row chunks of `chunk` rows (as the evaluation threads do).
std::vector<uint8_t> fused(const std::vector<float>& logits, int h, int w, int L,
                           const SizeChain& chain, const UpsampleArgmaxRowKernels& k, int chunk) {
  const UpsampleArgmaxPlan plan(h, w, L, chain);
  std::vector<uint8_t> out(static_cast<size_t>(plan.out_h()) * plan.out_w(), 0xEE);
  std::vector<float> scratch(plan.scratch_floats(), std::nanf(""));
  for (int y = 0; y < plan.out_h(); y += chunk) {
    const int end = std::min(plan.out_h(), y + chunk);
    plan.run(logits.data(), y, end, out.data() + static_cast<size_t>(y) * plan.out_w(),
             scratch.data(), k);
  }
  return out;
}

std::vector<const UpsampleArgmaxRowKernels*> kernel_variants() {
  std::vector<const UpsampleArgmaxRowKernels*> v = {&upsample_argmax_kernels_ref()};
  if (use_avx2()) v.push_back(&upsample_argmax_kernels_avx2());
  return v;
}

std::vector<float> fixture_logits(uint64_t seed, int h, int w, int L, int levels) {
  fixture::SplitMix64 rng(seed);
  std::vector<float> v(static_cast<size_t>(h) * w * L);
  for (float& x : v) {
    x = static_cast<float>((static_cast<double>(rng.below(levels)) - levels / 2) / 64.0);
  }
  return v;
}

TEST(UpsampleArgmax, MatchesTorchInterpolateFixture) {
  const json f = json::parse(
      read_file(std::string(SEGQ_SOURCE_DIR) + "/tests/fixtures/metrics/upsample_argmax.json"));
  for (const json& c : f.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const int h = c.at("in_h"), w = c.at("in_w"), L = c.at("num_labels");
    SizeChain chain;
    for (const json& s : c.at("chain")) chain.emplace_back(s[0].get<int>(), s[1].get<int>());
    const std::vector<float> logits = fixture_logits(c.at("seed"), h, w, L, c.at("levels"));
    if (c.contains("argmax_sha256")) {  // large: only the kernel, against a hash of torch's argmax
      for (const auto* k : kernel_variants()) {
        const std::vector<uint8_t> got = fused(logits, h, w, L, chain, *k, 64);
        EXPECT_EQ(sha256_hex(got.data(), got.size()), c.at("argmax_sha256").get<std::string>());
      }
      continue;
    }
    const std::vector<float> resized = chain_plain(logits, h, w, L, chain);
    // The plain reference reproduces F.interpolate's float32 values bit for bit (strided subset).
    const auto bits = c.at("values_f32_bits").get<std::vector<uint32_t>>();
    const size_t stride = c.at("value_stride");
    ASSERT_EQ(bits.size(), (resized.size() + stride - 1) / stride);
    size_t differing = 0;
    for (size_t i = 0; i < bits.size(); ++i) {
      uint32_t got;
      std::memcpy(&got, &resized[i * stride], 4);
      differing += got != bits[i];
    }
    EXPECT_EQ(differing, 0u);
    const std::string hex = c.at("argmax_hex");
    std::vector<int> want(hex.size() / 2);
    for (size_t i = 0; i < want.size(); ++i) want[i] = std::stoi(hex.substr(2 * i, 2), nullptr, 16);
    const std::vector<uint8_t> plain = argmax_plain(resized, want.size(), L);
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(plain[i], want[i]) << "pixel " << i;
    for (const auto* k : kernel_variants()) {
      for (int chunk : {1, 3, 1000}) {
        EXPECT_EQ(fused(logits, h, w, L, chain, *k, chunk), plain)
            << (k == &upsample_argmax_kernels_ref() ? "ref" : "avx2") << " chunk " << chunk;
      }
    }
  }
}

TEST(UpsampleArgmax, FusedEqualsPlainOnOddShapesAndChains) {
  struct Case {
    int h, w, L;
    SizeChain chain;
    int levels;  // few levels -> many exact ties
  };
  const std::vector<Case> cases = {
      {32, 32, 150, {{128, 171}}, 2001},          // hf-like: 4x upscaling to an odd width
      {17, 23, 150, {{67, 91}}, 3},               // odd sizes, ties everywhere
      {16, 16, 150, {{64, 64}, {47, 93}}, 2001},  // mmseg: input size, then original size
      {13, 9, 7, {{5, 4}}, 5},                    // downscaling, L < 8
      {9, 13, 8, {{9, 13}}, 2001},                // identity resize, L == 8
      {1, 7, 17, {{4, 1}}, 2001},                 // 1-pixel axes
      {6, 6, 256, {{11, 11}}, 2},                 // the largest label count
      {5, 4, 33, {}, 3},                          // no resize: plain argmax
  };
  uint64_t seed = 1000;
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.h << "x" << c.w << "x" << c.L);
    const std::vector<float> logits = fixture_logits(seed++, c.h, c.w, c.L, c.levels);
    const std::vector<float> resized = chain_plain(logits, c.h, c.w, c.L, c.chain);
    const size_t pixels = resized.size() / c.L;
    const std::vector<uint8_t> plain = argmax_plain(resized, pixels, c.L);
    for (const auto* k : kernel_variants()) {
      EXPECT_EQ(fused(logits, c.h, c.w, c.L, c.chain, *k, 7), plain);
    }
    EXPECT_EQ(upsample_argmax(logits.data(), c.h, c.w, c.L, c.chain), plain);
  }
}

TEST(UpsampleArgmax, TiesPickTheFirstMaximumAndNaNWins) {
  // 1x1 logits grid, so every output pixel sees the same values.
  for (int L : {3, 8, 9, 20, 150}) {
    std::vector<float> v(L, 1.0f);
    v[L - 1] = 2.0f;
    v[L / 2] = 2.0f;  // first of two maxima
    for (const auto* k : kernel_variants()) {
      EXPECT_EQ(fused(v, 1, 1, L, {{3, 2}}, *k, 1), std::vector<uint8_t>(6, L / 2)) << L;
    }
    std::vector<float> n = v;
    n[L - 1] = std::nanf("");
    n[L - 2 > L / 2 ? L - 2 : L - 1] = std::nanf("");
    const uint8_t first_nan = static_cast<uint8_t>(L - 2 > L / 2 ? L - 2 : L - 1);
    for (const auto* k : kernel_variants()) {
      EXPECT_EQ(fused(n, 1, 1, L, {}, *k, 1), std::vector<uint8_t>(1, first_nan)) << L;
    }
  }
}

TEST(UpsampleArgmax, RejectsBadShapes) {
  EXPECT_THROW(UpsampleArgmaxPlan(4, 4, 257, {{8, 8}}), Error);
  EXPECT_THROW(UpsampleArgmaxPlan(0, 4, 10, {{8, 8}}), Error);
  EXPECT_THROW(UpsampleArgmaxPlan(4, 4, 10, {{0, 8}}), Error);
}

}  // namespace
}  // namespace segq
