// Convolutions on every weight format, through the ops the model binds (model/ops.h): the
// overlapping patch embeddings (k7 s4 p3 on NCHW pixels, k3 s2 p1 on token-major maps) and the
// sequence-reduction convs (k = s = r, p 0) as im2col + GEMM, and the depthwise 3x3 (+GELU),
// against a direct convolution computed in double on the dequantized weights W~.
//
// Bounds, per output with S = |b| + Σ|w x| over its K = Cin kh kw (depthwise: <= 9) terms:
//   - conv: im2col is pure data movement and the GEMM sums K products and the bias in a tree of
//     depth <= K + 1 (see test_qgemm.cpp): |y - exact| <= gamma_{K+2} S on either ISA.
//   - depthwise: bias + 9 taps: gamma_{10} S; with GELU, x -> gelu is 1.129-Lipschitz and adds its
//     own error (reference: correctly rounded from double, <= 1 ulp; AVX2 <= 12 ulp,
//     tests/kernels/test_elementwise.cpp), an ulp being <= 2 u |value| (+ the float minimum).
// And under the scalar ISA the packed format gives bit-for-bit the output of the dense W~ op
// (the decoders are exact; the reference kernels' arithmetic does not depend on the format).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "model/ops.h"
#include "qkernels/qkernel_test_util.h"

namespace segq {
namespace {

using qtest::gamma;
using qtest::kU;

struct ConvCase {
  const char* name;
  int64_t cin, h, w, cout;
  int k, s, p;
  bool nchw;  // stem: NCHW pixels; else token-major [h, w, cin]
};

std::vector<ConvCase> conv_cases() {
  return {
      // patch embeddings (k7 s4 p3 stem, k3 s2 p1 later stages)
      {"b0.patch0", 3, 37, 45, 32, 7, 4, 3, true},
      {"b2.patch0", 3, 21, 18, 64, 7, 4, 3, true},
      {"b0.patch1", 32, 19, 23, 64, 3, 2, 1, false},
      {"b0.patch2", 64, 9, 12, 160, 3, 2, 1, false},
      {"b0.patch3", 160, 9, 11, 256, 3, 2, 1, false},
      {"b2.patch2", 128, 7, 9, 320, 3, 2, 1, false},
      {"b2.patch3", 320, 5, 6, 512, 3, 2, 1, false},
      // sequence reduction (k = s = r)
      {"b0.sr1", 32, 16, 24, 32, 8, 8, 0, false},
      {"b0.sr2", 64, 17, 19, 64, 4, 4, 0, false},  // not a multiple of r: the rest is dropped
      {"b0.sr3", 160, 6, 10, 160, 2, 2, 0, false},
      {"b2.sr1", 64, 16, 8, 64, 8, 8, 0, false},
      {"b2.sr3", 320, 4, 6, 320, 2, 2, 0, false},
      // edges: one output pixel, one channel, kernels larger than the map
      {"edge.1x1", 5, 1, 1, 3, 3, 2, 1, false},
      {"edge.cin1", 1, 9, 7, 17, 3, 2, 1, false},
      {"edge.k7small", 3, 3, 2, 5, 7, 4, 3, true},
  };
}

int64_t check_conv(const std::string& method, const ConvCase& c, std::string* detail) {
  const uint32_t seed = static_cast<uint32_t>(c.cin * 31 + c.cout * 7 + c.k);
  const qtest::TestWeight w = qtest::make_test_weight(method, {c.cout, c.cin, c.k, c.k}, seed);
  const std::vector<float> bias = qtest::random_values(c.cout, seed + 1);
  const Weight bias_w = Weight::dense(Tensor::from_vector(bias, {c.cout}));
  const std::vector<float> in = qtest::random_values(c.cin * c.h * c.w, seed + 2, -2.0f, 2.0f);
  ConvOp op_q, op_dq;
  op_q.gemm = LinearOp::bind("conv.weight", w.stored, &bias_w);
  op_dq.gemm = LinearOp::bind("conv.weight", w.dequantized, &bias_w);
  op_q.stride = op_dq.stride = c.s;
  op_q.padding = op_dq.padding = c.p;
  const ConvGeometry g = op_q.geometry(c.h, c.w);
  const int64_t oh = g.out_h(), ow = g.out_w(), kk = g.patch_size();
  const int64_t cs = c.nchw ? c.h * c.w : 1, ys = c.nchw ? c.w : c.w * c.cin,
                xs = c.nchw ? 1 : c.cin;

  const float* wv = w.values();
  std::vector<double> exact(static_cast<size_t>(oh * ow * c.cout)), tol(exact.size());
  for (int64_t oy = 0; oy < oh; ++oy) {
    for (int64_t ox = 0; ox < ow; ++ox) {
      for (int64_t o = 0; o < c.cout; ++o) {
        double y = bias[o], s = std::fabs(bias[o]);
        for (int64_t ci = 0; ci < c.cin; ++ci) {
          for (int ky = 0; ky < c.k; ++ky) {
            const int64_t iy = oy * c.s - c.p + ky;
            if (iy < 0 || iy >= c.h) continue;
            for (int kx = 0; kx < c.k; ++kx) {
              const int64_t ix = ox * c.s - c.p + kx;
              if (ix < 0 || ix >= c.w) continue;
              const double t = static_cast<double>(wv[((o * c.cin + ci) * c.k + ky) * c.k + kx]) *
                               in[ci * cs + iy * ys + ix * xs];
              y += t;
              s += std::fabs(t);
            }
          }
        }
        const size_t idx = static_cast<size_t>((oy * ow + ox) * c.cout + o);
        exact[idx] = y;
        tol[idx] = gamma(static_cast<double>(kk + 2)) * s + 1e-30;
      }
    }
  }

  std::vector<float> col(static_cast<size_t>(ops::conv_col_floats(op_q, g)));
  int64_t bad = 0;
  std::vector<float> ref_dq(exact.size());
  {
    ScopedKernelIsa scalar(KernelIsa::kRef);
    ops::conv2d(op_dq, g, in.data(), cs, ys, xs, col.data(), ref_dq.data(), c.cout);
  }
  for (KernelIsa isa : qtest::available_isas()) {
    ScopedKernelIsa scoped(isa);
    std::vector<float> got(exact.size(), NAN);
    ops::conv2d(op_q, g, in.data(), cs, ys, xs, col.data(), got.data(), c.cout);
    int64_t n_bad = 0;
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const double d = std::fabs(static_cast<double>(got[i]) - exact[i]);
      worst = std::max(worst, d / tol[i]);
      if (!(d <= tol[i])) ++n_bad;
    }
    if (n_bad) {
      *detail += str_cat(" ", kernel_isa_name(isa), ": ", n_bad, " outside bound, worst diff/tol ",
                         worst, ";");
    }
    bad += n_bad;
    if (isa == KernelIsa::kRef &&
        std::memcmp(got.data(), ref_dq.data(), got.size() * sizeof(float)) != 0) {
      ++bad;
      *detail += " scalar packed != scalar dequantized;";
    }
  }
  return bad;
}

struct DwCase {
  int64_t batch, h, w, c;
};

std::vector<DwCase> dw_cases() {
  // Mix-FFN hidden widths of b0 (128, 256, 640, 1024) and b2 (256, 512, 1280, 2048) on small odd
  // maps; edge widths (1, 3, 9, 13 channels) and maps (1x1, 1xN, Nx1).
  std::vector<DwCase> v;
  for (int64_t c : {128, 256, 640, 1024, 512, 1280, 2048}) v.push_back({1, 3, 5, c});
  v.push_back({2, 9, 7, 128});
  for (int64_t c : {1, 3, 9, 13}) {
    for (auto [h, w] : {std::pair<int64_t, int64_t>{1, 1}, {1, 6}, {5, 1}, {4, 3}}) {
      v.push_back({2, h, w, c});
    }
  }
  return v;
}

int64_t check_depthwise(const std::string& method, const DwCase& c, Activation act,
                        std::string* detail) {
  const uint32_t seed = static_cast<uint32_t>(c.c * 13 + c.h * 5 + c.w);
  const qtest::TestWeight w = qtest::make_test_weight(method, {c.c, 1, 3, 3}, seed);
  const std::vector<float> bias = qtest::random_values(c.c, seed + 1);
  const Weight bias_w = Weight::dense(Tensor::from_vector(bias, {c.c}));
  const std::vector<float> x =
      qtest::random_values(c.batch * c.h * c.w * c.c, seed + 2, -2.0f, 2.0f);
  const DepthwiseOp op_q = DepthwiseOp::bind("dw.weight", w.stored, bias_w);
  const DepthwiseOp op_dq = DepthwiseOp::bind("dw.weight", w.dequantized, bias_w);
  const float* wv = w.values();  // [C, 1, 3, 3]
  std::vector<double> exact(x.size()), tol(x.size());
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t r = 0; r < c.h; ++r) {
      for (int64_t col = 0; col < c.w; ++col) {
        for (int64_t ch = 0; ch < c.c; ++ch) {
          double y = bias[ch], s = std::fabs(bias[ch]);
          for (int ky = 0; ky < 3; ++ky) {
            for (int kx = 0; kx < 3; ++kx) {
              const int64_t yy = r + ky - 1, xx = col + kx - 1;
              if (yy < 0 || yy >= c.h || xx < 0 || xx >= c.w) continue;
              const double t = static_cast<double>(wv[ch * 9 + ky * 3 + kx]) *
                               x[((b * c.h + yy) * c.w + xx) * c.c + ch];
              y += t;
              s += std::fabs(t);
            }
          }
          const size_t idx = static_cast<size_t>(((b * c.h + r) * c.w + col) * c.c + ch);
          double t = gamma(10) * s;
          if (act == Activation::kGelu) {
            y = 0.5 * y * std::erfc(-y / std::sqrt(2.0));
            t = 1.129 * t + 12.0 * 2.0 * kU * (std::fabs(y) + 1.129 * t) + 1e-37;
          }
          exact[idx] = y;
          tol[idx] = t + 1e-30;
        }
      }
    }
  }
  std::vector<float> ref_dq(x.size());
  {
    ScopedKernelIsa scalar(KernelIsa::kRef);
    ops::depthwise3x3(op_dq, c.batch, c.h, c.w, x.data(), act, ref_dq.data());
  }
  int64_t bad = 0;
  for (KernelIsa isa : qtest::available_isas()) {
    ScopedKernelIsa scoped(isa);
    std::vector<float> got(x.size(), NAN);
    ops::depthwise3x3(op_q, c.batch, c.h, c.w, x.data(), act, got.data());
    int64_t n_bad = 0;
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const double d = std::fabs(static_cast<double>(got[i]) - exact[i]);
      worst = std::max(worst, d / tol[i]);
      if (!(d <= tol[i])) ++n_bad;
    }
    if (n_bad) {
      *detail += str_cat(" ", kernel_isa_name(isa), ": ", n_bad, " outside bound, worst diff/tol ",
                         worst, ";");
    }
    bad += n_bad;
    if (isa == KernelIsa::kRef &&
        std::memcmp(got.data(), ref_dq.data(), got.size() * sizeof(float)) != 0) {
      ++bad;
      *detail += " scalar packed != scalar dequantized;";
    }
  }
  return bad;
}

class QConv : public ::testing::TestWithParam<std::string> {};

TEST_P(QConv, PatchEmbeddingAndSrConvsMatchTheDequantizedReference) {
  for (const ConvCase& c : conv_cases()) {
    std::string detail;
    EXPECT_EQ(check_conv(GetParam(), c, &detail), 0)
        << GetParam() << " " << c.name << ":" << detail;
  }
}

TEST_P(QConv, DepthwiseMatchesTheDequantizedReference) {
  for (const DwCase& c : dw_cases()) {
    for (Activation act : {Activation::kNone, Activation::kGelu}) {
      std::string detail;
      EXPECT_EQ(check_depthwise(GetParam(), c, act, &detail), 0)
          << GetParam() << " " << c.batch << "x" << c.h << "x" << c.w << "x" << c.c << " "
          << activation_name(act) << ":" << detail;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, QConv, ::testing::ValuesIn(qtest::all_formats()),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) {
                             if (ch == '-') ch = '_';
                           }
                           return s;
                         });

// The binding path keeps a quantized weight packed: no fp32 panels, no fp32 taps (the depthwise
// weight is decoded per call into a transient buffer of C x 9 floats); fp32 weights are packed.
TEST(QOps, QuantizedBindingHoldsNoFp32Copy) {
  const Weight bias = Weight::dense(Tensor::from_vector(qtest::random_values(256, 1), {256}));
  const qtest::TestWeight lin = qtest::make_test_weight("int4", {256, 1024}, 2);
  const LinearOp q = LinearOp::bind("w", lin.stored, &bias);
  EXPECT_TRUE(q.weight.is_quantized());
  EXPECT_EQ(q.packed.panels, nullptr);
  EXPECT_EQ(q.packed.storage, nullptr);
  EXPECT_EQ(q.weight.stored_bytes(), 256u * (512 + 8 * 4 * 2));
  const LinearOp d = LinearOp::bind("w", lin.dequantized, &bias);
  EXPECT_NE(d.packed.panels, nullptr);  // fp32: packed once for the GEMM
  EXPECT_EQ(d.packed.bytes(), 256u * 1024 * 4);
  const qtest::TestWeight dw = qtest::make_test_weight("int8", {256, 1, 3, 3}, 3);
  EXPECT_FALSE(DepthwiseOp::bind("dw", dw.stored, bias).taps.defined());
  EXPECT_TRUE(DepthwiseOp::bind("dw", dw.dequantized, bias).taps.defined());
}

}  // namespace
}  // namespace segq
