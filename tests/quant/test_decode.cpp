// Decoders (kernels/decode_weights*): the run-time (AVX2) decoders equal the scalar references bit
// for bit, on real b0/b2 row lengths and odd shapes, for panels at arbitrary (n0, nr, k0, kc, ld)
// including partial groups and nr < ld; and the reference equals the layout + formula of
// kernels/decode_layout.h computed independently here from the packed bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/cpu.h"
#include "core/half.h"
#include "kernels/decode_fp8.h"
#include "kernels/decode_layout.h"
#include "kernels/isa.h"
#include "quant/quantize_tensor.h"
#include "quant_test_util.h"

namespace segq {
namespace {

// b0/b2 row lengths (Linear in-features, Conv I*kh*kw, depthwise 9) and odd edge lengths.
const int64_t kCols[] = {32, 64, 147, 160, 256, 288, 576, 640, 1024, 1440,
                         9,  1,  3,   7,   8,   15,  17,  33,  100,  250};

struct FormatCase {
  WeightFormat format;
  bool symmetric;
  int64_t group;  // 0: per channel; -1: quanto rule
  DType scale_dtype;
};

std::string case_name(const FormatCase& c) {
  std::string s = weight_format_name(c.format);
  for (char& ch : s) {
    if (ch == '-') ch = '_';
  }
  const std::string group = c.group == 0  ? std::string("gc")
                            : c.group < 0 ? std::string("gq")
                                          : str_cat("g", c.group);
  return str_cat(s, c.symmetric ? "_sym_" : "_asym_", group, "_", dtype_name(c.scale_dtype));
}

std::vector<FormatCase> format_cases() {
  std::vector<FormatCase> out;
  for (WeightFormat f : {WeightFormat::F32, WeightFormat::F16, WeightFormat::BF16}) {
    out.push_back({f, true, 0, DType::F32});
  }
  for (WeightFormat f : {WeightFormat::FP8_E4M3, WeightFormat::FP8_E5M2}) {
    out.push_back({f, true, 0, DType::F32});
    out.push_back({f, true, 0, DType::F16});
  }
  for (WeightFormat f : {WeightFormat::INT8, WeightFormat::INT4, WeightFormat::INT2}) {
    for (bool sym : {true, false}) {
      out.push_back({f, sym, 0, DType::F32});
      out.push_back({f, sym, -1, DType::F32});
      out.push_back({f, sym, 16, DType::F16});
      out.push_back({f, sym, 32, DType::BF16});
      out.push_back({f, sym, 96, DType::F32});
    }
  }
  return out;
}

// A tensor of the format with random codes (every code value occurs, NaN fp8 codes excluded)
// and random scales / shifts; or, for dense formats, random values.
QTensor random_qtensor(const FormatCase& c, int64_t rows, int64_t cols, uint32_t seed) {
  QTensor q;
  q.format = c.format;
  q.shape = {rows, cols};
  q.rows = rows;
  q.cols = cols;
  q.symmetric = c.symmetric;
  const std::vector<float> vals = test::random_weights(rows * cols + 2 * rows * cols, seed);
  if (weight_format_is_dense(c.format)) {
    const Tensor t = Tensor::from_vector(
        std::vector<float>(vals.begin(), vals.begin() + rows * cols), {rows, cols});
    TensorQuantSpec spec;
    spec.format = c.format == WeightFormat::F32 ? WeightFormat::F16 : c.format;
    if (c.format == WeightFormat::F32) {
      q.codes = t;
      q.group_size = cols;
      return q;
    }
    return quantize_tensor(t, spec);
  }
  q.group_size = c.group == 0  ? cols
                 : c.group < 0 ? quanto_group_size(cols)
                               : std::min<int64_t>(c.group, cols);
  const int64_t row_bytes = weight_format_row_bytes(c.format, cols);
  q.codes = Tensor::empty(DType::U8, {rows, row_bytes});
  uint32_t s = seed | 1u;
  for (int64_t i = 0; i < rows * row_bytes; ++i) {
    s = s * 1664525u + 1013904223u;
    uint8_t b = static_cast<uint8_t>(s >> 24);
    if (c.format == WeightFormat::FP8_E4M3 && (b & 0x7F) == 0x7F) b ^= 0x01;
    if (c.format == WeightFormat::FP8_E5M2 && (b & 0x7C) == 0x7C) b ^= 0x04;
    q.codes.data<uint8_t>()[i] = b;
  }
  const int64_t gpr = q.groups_per_row();
  auto params = [&](int64_t offset) {
    Tensor t = Tensor::empty(c.scale_dtype, {rows, gpr});
    for (int64_t i = 0; i < rows * gpr; ++i) {
      const float v = vals[offset + i] * 0.1f;
      if (c.scale_dtype == DType::F16) {
        static_cast<uint16_t*>(t.raw())[i] = f32_to_f16(v);
      } else if (c.scale_dtype == DType::BF16) {
        static_cast<uint16_t*>(t.raw())[i] = f32_to_bf16(v);
      } else {
        t.data<float>()[i] = v;
      }
    }
    return t;
  };
  q.scales = params(rows * cols);
  if (!c.symmetric) q.shifts = params(2 * rows * cols);
  return q;
}

float param_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::F16:
      return f16_to_f32(static_cast<const uint16_t*>(t.raw())[i]);
    case DType::BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(t.raw())[i]);
    default:
      return t.data<float>()[i];
  }
}

// W[n][k] from the layout description, written independently of the decoders.
float expected_weight(const QTensor& q, int64_t n, int64_t k) {
  if (q.format == WeightFormat::F32) return q.codes.data<float>()[n * q.cols + k];
  if (q.format == WeightFormat::F16 || q.format == WeightFormat::BF16) {
    const uint16_t h = static_cast<const uint16_t*>(q.codes.raw())[n * q.cols + k];
    return q.format == WeightFormat::F16 ? f16_to_f32(h) : bf16_to_f32(h);
  }
  const uint8_t* row = q.codes.data<uint8_t>() + n * weight_format_row_bytes(q.format, q.cols);
  float raw;
  if (q.format == WeightFormat::FP8_E4M3) {
    raw = fp8_e4m3_to_f32(row[k]);
  } else if (q.format == WeightFormat::FP8_E5M2) {
    raw = fp8_e5m2_to_f32(row[k]);
  } else if (q.format == WeightFormat::INT8) {
    raw = static_cast<float>(static_cast<int>(row[k]) - (q.symmetric ? 128 : 0));
  } else if (q.format == WeightFormat::INT4) {
    const int c = (k % 2 == 0) ? (row[k / 2] & 0x0F) : (row[k / 2] >> 4);
    raw = static_cast<float>(c - (q.symmetric ? 8 : 0));
  } else {
    const int c = (row[k / 4] >> (2 * (k % 4))) & 0x3;
    raw = static_cast<float>(c - (q.symmetric ? 2 : 0));
  }
  const int64_t g = n * q.groups_per_row() + k / q.group_size;
  const float scaled = raw * param_at(q.scales, g);
  return q.symmetric ? scaled : scaled - param_at(q.shifts, g);
}

bool bit_equal(const float* a, const float* b, size_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

class Decode : public ::testing::TestWithParam<FormatCase> {};

TEST_P(Decode, RowsMatchLayoutAndReference) {
  const FormatCase c = GetParam();
  const WeightFormatKernels& ref = weight_format_kernels_ref(c.format);
  const WeightFormatKernels& fast = weight_format_kernels(c.format);
  for (int64_t cols : kCols) {
    for (int64_t rows : {1, 5, 19}) {
      const QTensor q = random_qtensor(c, rows, cols, static_cast<uint32_t>(cols * 31 + rows));
      const WeightView v = q.view();
      std::vector<float> a(rows * cols, NAN), b(rows * cols, NAN), e(rows * cols);
      for (int64_t n = 0; n < rows; ++n) {
        for (int64_t k = 0; k < cols; ++k) e[n * cols + k] = expected_weight(q, n, k);
      }
      ref.decode_rows(v, 0, rows, a.data());
      ASSERT_TRUE(bit_equal(a.data(), e.data(), a.size())) << "reference vs layout, cols " << cols;
      fast.decode_rows(v, 0, rows, b.data());
      ASSERT_TRUE(bit_equal(b.data(), e.data(), b.size())) << "fast vs layout, cols " << cols;
      // A sub-range of rows.
      if (rows > 2) {
        std::vector<float> sub((rows - 2) * cols);
        fast.decode_rows(v, 1, rows - 2, sub.data());
        ASSERT_TRUE(bit_equal(sub.data(), e.data() + cols, sub.size()))
            << "rows 1.., cols " << cols;
      }
    }
  }
}

TEST_P(Decode, PanelsAtArbitraryOffsets) {
  const FormatCase c = GetParam();
  const WeightFormatKernels& ref = weight_format_kernels_ref(c.format);
  const WeightFormatKernels& fast = weight_format_kernels(c.format);
  int checked = 0;
  for (int64_t cols : kCols) {
    const int64_t rows = 37;
    const QTensor q = random_qtensor(c, rows, cols, static_cast<uint32_t>(cols * 7 + 3));
    const WeightView v = q.view();
    std::vector<float> all(rows * cols);
    ref.decode_rows(v, 0, rows, all.data());
    // (n0, nr, ld) and (k0, kc) combinations: full tiles, partial tiles, odd offsets, group edges.
    const int64_t g = q.group_size;
    const std::vector<std::pair<int64_t, int64_t>> ks = {
        {0, cols},
        {0, std::min<int64_t>(cols, 8)},
        {1, cols - 1},
        {cols / 3, cols - cols / 3},
        {std::max<int64_t>(0, g - 3), std::min<int64_t>(cols - std::max<int64_t>(0, g - 3), 21)},
        {cols - 1, 1},
        {std::min<int64_t>(cols - 1, 5),
         std::min<int64_t>(cols - std::min<int64_t>(cols - 1, 5), 256)}};
    const int nrld[][3] = {{0, 16, 16}, {3, 5, 16},  {21, 16, 16}, {30, 7, 8},
                           {0, 13, 13}, {36, 1, 24}, {8, 9, 12},   {12, 25, 32}};
    for (const auto& [k0, kc] : ks) {
      if (kc <= 0) continue;
      for (const auto& t : nrld) {
        const int64_t n0 = t[0];
        const int nr = t[1], ld = t[2];
        if (n0 + nr > rows) continue;
        std::vector<float> a(kc * ld, NAN), b(kc * ld, NAN), e(kc * ld, 0.0f);
        for (int64_t k = 0; k < kc; ++k) {
          for (int j = 0; j < nr; ++j) e[k * ld + j] = all[(n0 + j) * cols + k0 + k];
        }
        ref.decode_panel(v, n0, nr, k0, static_cast<int>(kc), a.data(), ld);
        fast.decode_panel(v, n0, nr, k0, static_cast<int>(kc), b.data(), ld);
        ASSERT_TRUE(bit_equal(a.data(), e.data(), a.size()))
            << "reference panel cols " << cols << " n0 " << n0 << " nr " << nr << " ld " << ld
            << " k0 " << k0 << " kc " << kc;
        ASSERT_TRUE(bit_equal(b.data(), e.data(), b.size()))
            << "fast panel cols " << cols << " n0 " << n0 << " nr " << nr << " ld " << ld << " k0 "
            << k0 << " kc " << kc;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 500);
}

INSTANTIATE_TEST_SUITE_P(Formats, Decode, ::testing::ValuesIn(format_cases()),
                         [](const auto& info) { return case_name(info.param); });

TEST(Decode, FastPathIsActiveWhereTheCpuHasAvx2) {
  // The bit-equality tests above compare two different implementations only when AVX2 runs.
  if (kernel_isa() != KernelIsa::kAvx2) {
    GTEST_SKIP() << "no AVX2 on this CPU (or SEGQ_FORCE_SCALAR set)";
  }
  for (WeightFormat f : {WeightFormat::FP8_E4M3, WeightFormat::FP8_E5M2, WeightFormat::INT8,
                         WeightFormat::INT4, WeightFormat::INT2, WeightFormat::F16}) {
    EXPECT_NE(weight_format_kernels(f).decode_panel, weight_format_kernels_ref(f).decode_panel)
        << weight_format_name(f);
  }
}

// weight_format_kernels() follows the kernel ISA, so ScopedKernelIsa switches the decoders that
// the GEMM driver, the depthwise decode and the size report use.
TEST(Decode, DecodersFollowTheKernelIsa) {
  if (!kernel_isa_available(KernelIsa::kAvx2)) GTEST_SKIP() << "CPU lacks AVX2";
  const WeightFormat formats[] = {
      WeightFormat::F16,  WeightFormat::BF16, WeightFormat::FP8_E4M3, WeightFormat::FP8_E5M2,
      WeightFormat::INT8, WeightFormat::INT4, WeightFormat::INT2};
  {
    ScopedKernelIsa scalar(KernelIsa::kRef);
    for (WeightFormat f : formats) {
      EXPECT_EQ(weight_format_kernels(f).decode_panel, weight_format_kernels_ref(f).decode_panel)
          << weight_format_name(f);
      EXPECT_EQ(weight_format_kernels(f).decode_rows, weight_format_kernels_ref(f).decode_rows)
          << weight_format_name(f);
    }
  }
  ScopedKernelIsa avx2(KernelIsa::kAvx2);
  for (WeightFormat f : formats) {
    EXPECT_NE(weight_format_kernels(f).decode_panel, weight_format_kernels_ref(f).decode_panel)
        << weight_format_name(f);
  }
}

}  // namespace
}  // namespace segq
