// Acceptance 1: float8 decoding of all 256 codes of both formats equals PyTorch (and ml_dtypes,
// checked when the fixture was made); encoding equals PyTorch's cast on a dense float32 sweep, both
// raw (PyTorch's overflow to NaN / inf) and clamped to +-max first (as quanto and segq quantize).
// Fixture: tools/make_quant_fixtures.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/half.h"
#include "io/safetensors.h"
#include "kernels/decode_fp8.h"
#include "quant/fp8.h"
#include "quant/quantizers.h"
#include "quant_test_util.h"

namespace segq {
namespace {

const std::map<std::string, Tensor>& fp8_fixture() {
  static const std::map<std::string, Tensor> m = [] {
    std::map<std::string, Tensor> out;
    SafetensorsFile f = read_safetensors(test::fixture_path("quant/fp8.safetensors"));
    for (auto& [name, t] : f.tensors) out.emplace(name, t.clone());
    return out;
  }();
  return m;
}

struct Fp8Case {
  WeightFormat format;
  const char* key;
};

class Fp8 : public ::testing::TestWithParam<Fp8Case> {};

// Same float, or both NaN (PyTorch does not pin NaN payloads).
bool same_value(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || f32_bits(a) == f32_bits(b);
}

TEST_P(Fp8, DecodesEveryCodeLikePyTorch) {
  const Fp8Case c = GetParam();
  const Tensor& want = fp8_fixture().at(std::string(c.key) + "_decode");
  ASSERT_EQ(want.numel(), 256);
  int nan_codes = 0;
  for (int code = 0; code < 256; ++code) {
    const float expected = want.data<float>()[code];
    EXPECT_TRUE(same_value(fp8_to_f32(c.format, static_cast<uint8_t>(code)), expected))
        << c.key << " code 0x" << std::hex << code;
    nan_codes += std::isnan(expected);
  }
  EXPECT_EQ(nan_codes, c.format == WeightFormat::FP8_E4M3 ? 2 : 6);

  // The run-time decoder (AVX2 where available) on a 1-row tensor of all codes with scale 1,
  // and at every start offset of an 8-wide load.
  uint8_t codes[256];
  for (int i = 0; i < 256; ++i) codes[i] = static_cast<uint8_t>(i);
  const float one = 1.0f;
  WeightView v;
  v.format = c.format;
  v.rows = 1;
  v.cols = 256;
  v.codes = codes;
  v.scales = &one;
  v.group_size = 256;
  v.groups_per_row = 1;
  v.row_stride_bytes = 256;
  for (const WeightFormatKernels* k :
       {&weight_format_kernels(c.format), &weight_format_kernels_ref(c.format)}) {
    float out[256];
    k->decode_rows(v, 0, 1, out);
    for (int i = 0; i < 256; ++i) {
      EXPECT_TRUE(same_value(out[i] * 1.0f, want.data<float>()[i])) << "decode_rows code " << i;
    }
    for (int k0 = 0; k0 < 8; ++k0) {
      float panel[248];
      k->decode_panel(v, 0, 1, k0, 248, panel, 1);
      for (int i = 0; i < 248; ++i) {
        EXPECT_TRUE(same_value(panel[i], want.data<float>()[k0 + i])) << "panel code " << k0 + i;
      }
    }
  }
}

TEST_P(Fp8, EncodesTheSweepLikePyTorch) {
  const Fp8Case c = GetParam();
  const Tensor& sweep = fp8_fixture().at("sweep");
  const Tensor& raw = fp8_fixture().at(std::string(c.key) + "_encode");
  const Tensor& clamped = fp8_fixture().at(std::string(c.key) + "_encode_clamped");
  ASSERT_GT(sweep.numel(), 10000);
  const float max = fp8_max(c.format);
  int mismatches = 0, ties = 0;
  for (int64_t i = 0; i < sweep.numel(); ++i) {
    const float x = sweep.data<float>()[i];
    const uint8_t got_raw = fp8_from_f32(c.format, x);
    const uint8_t got_clamped = fp8_from_f32(c.format, std::clamp(x, -max, max));
    if (got_raw != raw.data<uint8_t>()[i] || got_clamped != clamped.data<uint8_t>()[i]) {
      if (++mismatches < 20) {
        ADD_FAILURE() << c.key << " x=" << x << " (bits 0x" << std::hex << f32_bits(x)
                      << "): raw 0x" << int(got_raw) << " vs torch 0x"
                      << int(raw.data<uint8_t>()[i]) << ", clamped 0x" << int(got_clamped)
                      << " vs torch 0x" << int(clamped.data<uint8_t>()[i]);
      }
    }
    // The quantization path (scale 1) is the clamped cast; never NaN or inf.
    const uint8_t q = fp8_encode_scaled(x, 1.0f, c.format);
    EXPECT_EQ(q, clamped.data<uint8_t>()[i]);
    EXPECT_TRUE(std::isfinite(fp8_to_f32(c.format, q))) << x;
    // Count exact ties (x halfway between two neighbours) to be sure the sweep has them. Codes
    // grow with the magnitude within each sign, so the other neighbour is one code away.
    const float v = fp8_to_f32(c.format, got_clamped);
    if (v != x && std::fabs(x) <= max) {
      const int step = std::fabs(x) > std::fabs(v) ? 1 : -1;
      const float w = fp8_to_f32(c.format, static_cast<uint8_t>(got_clamped + step));
      ties += std::isfinite(w) && (static_cast<double>(x) - v) == (static_cast<double>(w) - x);
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(ties, 200) << "the sweep should contain many exact ties";
}

INSTANTIATE_TEST_SUITE_P(Formats, Fp8,
                         ::testing::Values(Fp8Case{WeightFormat::FP8_E4M3, "e4m3"},
                                           Fp8Case{WeightFormat::FP8_E5M2, "e5m2"}),
                         [](const auto& info) { return std::string(info.param.key); });

TEST(Fp8Encode, SpotValues) {
  EXPECT_EQ(fp8_e4m3_from_f32(448.0f), 0x7E);
  EXPECT_EQ(fp8_e4m3_from_f32(464.0f), 0x7E);     // tie between 448 and 480 -> even (448)
  EXPECT_EQ(fp8_e4m3_from_f32(465.0f), 0x7F);     // PyTorch: NaN
  EXPECT_EQ(fp8_e4m3_from_f32(0x1p-10f), 0x00);   // half the smallest subnormal: tie -> 0
  EXPECT_EQ(fp8_e4m3_from_f32(0x1.8p-9f), 0x02);  // 1.5 subnormal units: tie -> even 2
  EXPECT_EQ(fp8_e4m3_from_f32(-1.0f), 0xB8);
  EXPECT_EQ(fp8_e5m2_from_f32(57344.0f), 0x7B);
  EXPECT_EQ(fp8_e5m2_from_f32(61440.0f), 0x7C);  // tie beyond max -> inf in PyTorch
  EXPECT_EQ(fp8_e5m2_from_f32(-0x1p-16f), 0x81);
  EXPECT_EQ(fp8_e4m3_to_f32(0x7E), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), 0x1p-9f);
  EXPECT_TRUE(std::isinf(fp8_e5m2_to_f32(0xFC)));
}

}  // namespace
}  // namespace segq
