// Quantizers and packing: exactness where the grid can represent the data, the guarantees each
// search gives (mse never worse than rtn in its |err|^2.4 objective, hqq never worse in mean
// |err|), no NaN/Inf from in-range weights, storage-dtype rounding, the packed byte layout.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/decode_layout.h"
#include "quant/fp8.h"
#include "quant/pack.h"
#include "quant/quantize_tensor.h"
#include "quant/quantizers.h"
#include "quant_test_util.h"

namespace segq {
namespace {

TEST(Pack, ByteLayout) {
  const uint8_t c4[5] = {0x1, 0x2, 0x3, 0xF, 0x7};
  uint8_t b4[3] = {0xAA, 0xAA, 0xAA};
  pack_codes_row(WeightFormat::INT4, c4, 5, b4);
  EXPECT_EQ(b4[0], 0x21);  // low nibble first
  EXPECT_EQ(b4[1], 0xF3);
  EXPECT_EQ(b4[2], 0x07);  // pad nibble zero
  const uint8_t c2[6] = {0, 1, 2, 3, 3, 1};
  uint8_t b2[2] = {0xFF, 0xFF};
  pack_codes_row(WeightFormat::INT2, c2, 6, b2);
  EXPECT_EQ(b2[0], 0xE4);  // 0b11'10'01'00: lowest bits first
  EXPECT_EQ(b2[1], 0x07);  // 3, 1, then zero padding
  for (int k = 0; k < 6; ++k) EXPECT_EQ(unpack_code(WeightFormat::INT2, b2, k), c2[k]);
  for (int k = 0; k < 5; ++k) EXPECT_EQ(unpack_code(WeightFormat::INT4, b4, k), c4[k]);
}

IntGrid grid(int bits, bool sym, DType dt = DType::F32) { return IntGrid{bits, sym, dt}; }

TEST(Quantizers, RtnIsExactOnItsOwnGrid) {
  // Values on an affine grid with a power-of-two step are reproduced exactly.
  for (int bits : {2, 4, 8}) {
    const int levels = (1 << bits) - 1;
    std::vector<float> x;
    for (int i = 0; i < 64; ++i)
      x.push_back(-1.5f + 0.125f * static_cast<float>((i * 7) % (levels + 1)));
    x[3] = -1.5f;
    x[5] = -1.5f + 0.125f * levels;  // min and max present
    const GroupParams p = choose_int_params(x.data(), 64, grid(bits, false), Quantizer::Rtn);
    EXPECT_EQ(p.scale, 0.125f);
    EXPECT_EQ(p.shift, 1.5f);
    for (float v : x)
      EXPECT_EQ(int_decode(int_encode(v, p, grid(bits, false)), p, grid(bits, false)), v);
  }
}

TEST(Quantizers, RoundsHalfToEven) {
  const GroupParams p{1.0f, 0.0f};
  EXPECT_EQ(int_encode(2.5f, p, grid(4, false)), 2u);
  EXPECT_EQ(int_encode(3.5f, p, grid(4, false)), 4u);
  EXPECT_EQ(int_encode(-0.5f, p, grid(4, true)), 8u);    // level 0 (biased by 8)
  EXPECT_EQ(int_encode(-1.5f, p, grid(4, true)), 6u);    // level -2
  EXPECT_EQ(int_encode(100.0f, p, grid(4, true)), 15u);  // clamped to level 7
  EXPECT_EQ(int_encode(-100.0f, p, grid(4, true)), 0u);  // level -8
  EXPECT_EQ(int_encode(-3.0f, p, grid(4, false)), 0u);
}

TEST(Quantizers, ConstantAndZeroGroupsStayFinite) {
  const std::vector<float> zeros(32, 0.0f), fives(32, 5.0f);
  for (Quantizer q : {Quantizer::Rtn, Quantizer::Mse, Quantizer::Hqq}) {
    for (bool sym : {false, true}) {
      if (sym && q == Quantizer::Hqq) continue;
      const IntGrid g = grid(4, sym);
      for (const auto* v : {&zeros, &fives}) {
        const GroupParams p = choose_int_params(v->data(), 32, g, q);
        for (float x : *v) {
          const float r = int_decode(int_encode(x, p, g), p, g);
          EXPECT_TRUE(std::isfinite(r));
          if (!sym || x == 0.0f) {
            EXPECT_EQ(r, x) << quantizer_name(q);
          }
        }
      }
    }
  }
  // fp8: a zero row gives code 0, never NaN.
  const float s = fp8_scale(zeros.data(), 32, WeightFormat::FP8_E4M3, DType::F32);
  EXPECT_EQ(s, 0.0f);
  EXPECT_EQ(fp8_encode_scaled(0.0f, s, WeightFormat::FP8_E4M3), 0);
}

double lp(const std::vector<float>& x, const GroupParams& p, const IntGrid& g, double norm) {
  double e = 0;
  for (float v : x) e += std::pow(std::fabs(v - int_decode(int_encode(v, p, g), p, g)), norm);
  return e;
}

TEST(Quantizers, MseAndHqqNeverWorseThanRtn) {
  int mse_better = 0, hqq_better = 0, groups = 0;
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    std::vector<float> x = test::random_weights(64, seed);
    if (seed % 3 == 0) x[seed % 64] = 9.0f;  // an outlier makes clipping pay off
    for (int bits : {2, 4}) {
      for (bool sym : {false, true}) {
        const IntGrid g = grid(bits, sym);
        const GroupParams rtn = choose_int_params(x.data(), 64, g, Quantizer::Rtn);
        const GroupParams mse = choose_int_params(x.data(), 64, g, Quantizer::Mse);
        const double e_rtn = lp(x, rtn, g, 2.4), e_mse = lp(x, mse, g, 2.4);
        EXPECT_LE(e_mse, e_rtn * (1 + 1e-12));
        mse_better += e_mse < e_rtn;
        if (!sym) {
          const GroupParams hqq = choose_int_params(x.data(), 64, g, Quantizer::Hqq);
          EXPECT_EQ(hqq.scale, rtn.scale);  // HQQ moves the shift only
          const double a_rtn = lp(x, rtn, g, 1.0), a_hqq = lp(x, hqq, g, 1.0);
          EXPECT_LE(a_hqq, a_rtn * (1 + 1e-12));
          hqq_better += a_hqq < a_rtn;
        }
        ++groups;
      }
    }
  }
  EXPECT_GT(mse_better, groups / 4);
  EXPECT_GT(hqq_better, groups / 8);
}

TEST(Quantizers, StorageDtypeRoundsParametersBeforeCoding) {
  const std::vector<float> x = test::random_weights(128, 7);
  const IntGrid g = grid(4, false, DType::F16);
  for (Quantizer q : {Quantizer::Rtn, Quantizer::Mse, Quantizer::Hqq}) {
    const GroupParams p = choose_int_params(x.data(), 128, g, q);
    EXPECT_EQ(f16_to_f32(f32_to_f16(p.scale)), p.scale);
    EXPECT_EQ(f16_to_f32(f32_to_f16(p.shift)), p.shift);
  }
  const IntGrid gb = grid(2, true, DType::BF16);
  const GroupParams pb = choose_int_params(x.data(), 128, gb, Quantizer::Rtn);
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(pb.scale)), pb.scale);
}

TEST(QuantizeTensor, LayoutAndValuesAgreeWithGroupMath) {
  // [5, 3, 7, 7]: rows of 147 weights, groups of 64 -> 64 + 64 + 19.
  const Tensor w = test::random_tensor({5, 3, 7, 7}, 3);
  const QTensor q = quantize_tensor(w, tensor_quant_spec(parse_method("int4-g64-s16"), w.shape()));
  EXPECT_EQ(q.rows, 5);
  EXPECT_EQ(q.cols, 147);
  EXPECT_EQ(q.group_size, 64);
  EXPECT_EQ(q.groups_per_row(), 3);
  EXPECT_EQ(q.codes.shape(), (Shape{5, 74}));
  EXPECT_EQ(q.scales.shape(), (Shape{5, 3}));
  EXPECT_EQ(q.scales.dtype(), DType::F16);
  EXPECT_EQ(q.shifts.shape(), (Shape{5, 3}));
  EXPECT_EQ(q.stored_bytes(), 5u * 74 + 2 * 5 * 3 * 2);
  const Tensor d = dequantize(q);
  EXPECT_EQ(d.shape(), w.shape());
  // Every dequantized weight is within half a step of the original (no clipping in rtn), group
  // by group, with the partial last group handled like the others.
  const IntGrid g = grid(4, false, DType::F16);
  for (int64_t r = 0; r < 5; ++r) {
    for (int64_t k = 0; k < 147; ++k) {
      const int64_t gi = r * 3 + k / 64;
      const float scale = f16_to_f32(static_cast<const uint16_t*>(q.scales.raw())[gi]);
      const float x = w.data<float>()[r * 147 + k];
      EXPECT_LE(std::fabs(d.data<float>()[r * 147 + k] - x),
                0.5f * scale + 1e-3f * std::fabs(x) + 1e-3f);
    }
  }
  (void)g;
}

TEST(QuantizeTensor, Fp8NeverNanAndClampsScaledValues) {
  Tensor w = test::random_tensor({4, 100}, 9);
  w.data<float>()[7] = 3.0e38f;  // extreme but finite
  w.data<float>()[150] = -1.0e30f;
  for (const char* m : {"fp8", "fp8-e5m2"}) {
    const QTensor q = quantize_tensor(w, tensor_quant_spec(parse_method(m), w.shape()));
    const Tensor d = dequantize(q);
    for (int64_t i = 0; i < d.numel(); ++i)
      ASSERT_TRUE(std::isfinite(d.data<float>()[i])) << m << " " << i;
    EXPECT_FLOAT_EQ(d.data<float>()[7], 3.0e38f) << "amax maps to +-max";
  }
  // Scales that overflow fp16 are an error, not silent infinities.
  EXPECT_THROW(quantize_tensor(w, tensor_quant_spec(parse_method("fp8-s16"), w.shape())), Error);
}

TEST(QuantizeTensor, DenseBaselines) {
  const Tensor w = test::random_tensor({3, 10}, 4);
  const QTensor b = quantize_tensor(w, tensor_quant_spec(parse_method("bf16"), w.shape()));
  EXPECT_EQ(b.codes.dtype(), DType::BF16);
  EXPECT_EQ(b.stored_bytes(), 60u);
  const Tensor d = dequantize(b);
  for (int i = 0; i < 30; ++i)
    EXPECT_EQ(d.data<float>()[i], bf16_to_f32(f32_to_bf16(w.data<float>()[i])));
  const QTensor h = quantize_tensor(w, tensor_quant_spec(parse_method("fp16"), w.shape()));
  EXPECT_EQ(h.codes.dtype(), DType::F16);
  EXPECT_EQ(dequantize(h).data<float>()[5], f16_to_f32(f32_to_f16(w.data<float>()[5])));
}

TEST(QuantizeTensor, Deterministic) {
  const Tensor w = test::random_tensor({64, 288}, 11);
  for (const char* m : {"int4-mse", "int2-g32-hqq", "int8", "fp8"}) {
    const TensorQuantSpec s = tensor_quant_spec(parse_method(m), w.shape());
    const QTensor a = quantize_tensor(w, s), b = quantize_tensor(w, s);
    EXPECT_EQ(0, std::memcmp(a.codes.raw(), b.codes.raw(), a.codes.nbytes())) << m;
    EXPECT_EQ(0, std::memcmp(a.scales.raw(), b.scales.raw(), a.scales.nbytes())) << m;
  }
}

}  // namespace
}  // namespace segq
