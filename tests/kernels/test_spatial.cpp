// Depthwise 3x3 (+GELU), im2col (conv = im2col + GEMM against a direct convolution) and the
// bilinear resize (PyTorch's align_corners=False arithmetic).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/dwconv.h"
#include "kernels/gemm.h"
#include "kernels/im2col.h"
#include "kernels/kernel_test_util.h"
#include "kernels/resize.h"

namespace segq {
namespace {

using testing::kU;
using testing::random_floats;

// Bound: each path sums bias + 9 products with at most 10 roundings: |Δ| <= 2·10 u S, S = |b| +
// Σ |w x|; GELU scales by 1.129 and adds <= 12 ulp.
void check_dwconv(int64_t batch, int64_t h, int64_t w, int64_t c, Activation act) {
  const std::vector<float> x = random_floats(static_cast<size_t>(batch * h * w * c), 51, -2, 2);
  const std::vector<float> taps = random_floats(static_cast<size_t>(9 * c), 52);
  const std::vector<float> bias = random_floats(static_cast<size_t>(c), 53);
  std::vector<float> ref(x.size()), got(x.size());
  dwconv3x3_ref(batch, h, w, c, x.data(), taps.data(), bias.data(), act, ref.data());
  dwconv3x3_avx2(batch, h, w, c, x.data(), taps.data(), bias.data(), act, got.data());
  int64_t bad = 0;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < h; ++r) {
      for (int64_t col = 0; col < w; ++col) {
        for (int64_t ch = 0; ch < c; ++ch) {
          double s = std::fabs(bias[ch]);
          for (int ky = 0; ky < 3; ++ky) {
            for (int kx = 0; kx < 3; ++kx) {
              const int64_t yy = r + ky - 1, xx = col + kx - 1;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
              s += std::fabs(taps[(ky * 3 + kx) * c + ch] * x[((b * h + yy) * w + xx) * c + ch]);
            }
          }
          const size_t idx = static_cast<size_t>(((b * h + r) * w + col) * c + ch);
          double tol = 20 * kU * s;
          if (act == Activation::kGelu) tol = 1.129 * tol + 24 * kU * std::fabs(ref[idx]);
          if (!(std::fabs(got[idx] - ref[idx]) <= tol + 1e-30)) ++bad;
        }
      }
    }
  }
  EXPECT_EQ(bad, 0) << batch << "x" << h << "x" << w << "x" << c << " " << activation_name(act);
}

TEST(Dwconv, Avx2MatchesRef) {
  SEGQ_REQUIRE_AVX2();
  // Mix-FFN hidden widths of b0 (128, 256, 640, 1024) and b2 (256, 512, 1280, 2048) on small
  // odd grids, plus edge widths and grids.
  for (int64_t c : {128, 256, 640, 1024, 1280, 2048}) check_dwconv(1, 5, 7, c, Activation::kGelu);
  check_dwconv(2, 17, 24, 128, Activation::kGelu);
  for (int64_t c : {1, 3, 8, 9, 13}) {
    for (auto [h, w] : {std::pair<int64_t, int64_t>{1, 1}, {1, 5}, {4, 1}, {3, 3}, {6, 9}}) {
      for (Activation act : {Activation::kNone, Activation::kGelu, Activation::kRelu}) {
        check_dwconv(2, h, w, c, act);
      }
    }
  }
}

TEST(Dwconv, RefMatchesDefinition) {
  // 2x2 map, one channel, all taps 1, bias 0.5: each output sums the whole 2x2 neighbourhood.
  const float x[4] = {1, 2, 3, 4};
  float taps[9];
  for (float& t : taps) t = 1;
  const float bias[1] = {0.5f};
  float y[4];
  dwconv3x3_ref(1, 2, 2, 1, x, taps, bias, Activation::kNone, y);
  for (float v : y) EXPECT_EQ(v, 10.5f);
  // Taps layout: [C,1,3,3] -> [9, C].
  const float oihw[18] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18};
  float t2[18];
  dwconv3x3_taps_from_oihw(2, oihw, t2);
  EXPECT_EQ(t2[0], 0);
  EXPECT_EQ(t2[1], 10);
  EXPECT_EQ(t2[2 * 4], 4);
  EXPECT_EQ(t2[2 * 4 + 1], 14);
}

// Conv via im2col + gemm_ref against a direct convolution in double: checks the column order
// (ci, ky, kx), padding and output sizes, on NCHW and token-major inputs.
void check_conv(int64_t cin, int64_t h, int64_t w, int k, int s, int p, int64_t cout) {
  ConvGeometry g;
  g.cin = cin;
  g.h = h;
  g.w = w;
  g.kh = g.kw = k;
  g.sh = g.sw = s;
  g.ph = g.pw = p;
  const int64_t oh = g.out_h(), ow = g.out_w(), kk = g.patch_size();
  EXPECT_EQ(oh, (h + 2 * p - k) / s + 1);
  const std::vector<float> nchw = random_floats(static_cast<size_t>(cin * h * w), 61);
  std::vector<float> nhwc(nchw.size());
  for (int64_t ci = 0; ci < cin; ++ci) {
    for (int64_t i = 0; i < h * w; ++i) nhwc[i * cin + ci] = nchw[ci * h * w + i];
  }
  const std::vector<float> wt = random_floats(static_cast<size_t>(cout * kk), 62);
  std::vector<float> col_a(static_cast<size_t>(oh * ow * kk)), col_b(col_a.size());
  im2col(g, nchw.data(), h * w, w, 1, 0, oh, col_a.data(), kk);
  im2col(g, nhwc.data(), 1, w * cin, cin, 0, oh, col_b.data(), kk);
  EXPECT_EQ(col_a, col_b);
  // Row range: rows [1, oh) written at offset 0.
  if (oh > 1) {
    std::vector<float> part(static_cast<size_t>((oh - 1) * ow * kk));
    im2col(g, nchw.data(), h * w, w, 1, 1, oh, part.data(), kk);
    EXPECT_TRUE(std::equal(part.begin(), part.end(), col_a.begin() + ow * kk));
  }
  GemmWeights gw;
  gw.view.rows = cout;
  gw.view.cols = kk;
  gw.view.codes = wt.data();
  gw.view.group_size = kk;
  gw.view.row_stride_bytes = kk * 4;
  std::vector<float> out(static_cast<size_t>(oh * ow * cout));
  gemm_ref(oh * ow, col_a.data(), kk, gw, out.data(), cout);
  for (int64_t oy = 0; oy < oh; ++oy) {
    for (int64_t ox = 0; ox < ow; ++ox) {
      for (int64_t co = 0; co < cout; ++co) {
        double acc = 0, mag = 0;
        for (int64_t ci = 0; ci < cin; ++ci) {
          for (int ky = 0; ky < k; ++ky) {
            for (int kx = 0; kx < k; ++kx) {
              const int64_t y = oy * s - p + ky, x = ox * s - p + kx;
              if (y < 0 || y >= h || x < 0 || x >= w) continue;
              const double t = static_cast<double>(wt[((co * cin + ci) * k + ky) * k + kx]) *
                               nchw[(ci * h + y) * w + x];
              acc += t;
              mag += std::fabs(t);
            }
          }
        }
        EXPECT_NEAR(out[(oy * ow + ox) * cout + co], acc, (kk + 1) * kU * mag + 1e-30);
      }
    }
  }
}

TEST(Im2col, ConvolutionsOfSegformer) {
  check_conv(3, 67, 93, 7, 4, 3, 8);  // stage-1 patch embedding on an odd input
  check_conv(5, 17, 24, 3, 2, 1, 6);  // later patch embeddings
  check_conv(4, 17, 23, 8, 8, 0, 4);  // sr conv, r = 8, grid not a multiple of r
  check_conv(3, 9, 12, 4, 4, 0, 3);   // sr conv, r = 4
  check_conv(2, 5, 6, 2, 2, 0, 2);    // sr conv, r = 2, odd
  check_conv(1, 1, 1, 3, 2, 1, 1);    // 1x1 input
  check_conv(2, 2, 3, 7, 4, 3, 2);    // input smaller than the kernel
}

TEST(Resize, TapsFollowPytorch) {
  // in 2 -> out 4: scale 0.5, src = 0.5 (dst + 0.5) - 0.5 = -0.25 (-> 0), 0.25, 0.75, 1.25.
  LinearTap t = bilinear_tap(0, 2, 4);
  EXPECT_EQ(t.i0, 0);
  EXPECT_EQ(t.i1, 1);
  EXPECT_EQ(t.l1, 0.0f);
  t = bilinear_tap(2, 2, 4);
  EXPECT_EQ(t.i0, 0);
  EXPECT_EQ(t.l1, 0.75f);
  t = bilinear_tap(3, 2, 4);  // src 1.25: i0 = 1 = last, i1 = i0, lambda 0.25
  EXPECT_EQ(t.i0, 1);
  EXPECT_EQ(t.i1, 1);
  EXPECT_EQ(t.l1, 0.25f);
  t = bilinear_tap(5, 7, 7);  // equal sizes: exact copy
  EXPECT_EQ(t.i0, 5);
  EXPECT_EQ(t.l0, 1.0f);
  EXPECT_EQ(t.l1, 0.0f);
  // Downsampling 5 -> 3: scale 5/3, src(1) = 5/3 * 1.5 - 0.5 = 2.0.
  t = bilinear_tap(1, 5, 3);
  EXPECT_EQ(t.i0, 2);
  EXPECT_NEAR(t.l1, 0.0f, 1e-6);
}

TEST(Resize, KnownValues) {
  // F.interpolate([[1, 2], [3, 4]], size=(4, 4), mode="bilinear", align_corners=False).
  const float in[4] = {1, 2, 3, 4};
  float out[16];
  resize_bilinear_ref({2, 2, 1, 4, 4}, in, 1, 0, 4, out, 1);
  const float want[16] = {1.0f, 1.25f, 1.75f, 2.0f, 1.5f, 1.75f, 2.25f, 2.5f,
                          2.5f, 2.75f, 3.25f, 3.5f, 3.0f, 3.25f, 3.75f, 4.0f};
  for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(out[i], want[i]) << i;
}

// AVX2 (FMA) vs reference: 3 roundings per path on |l a| sums: |Δ| <= 6 u Σ l|a| (both paths).
TEST(Resize, Avx2MatchesRef) {
  SEGQ_REQUIRE_AVX2();
  struct Case {
    int64_t hi, wi, c, ho, wo, ldi_pad, ldo_pad;
  };
  for (const Case& k :
       {Case{16, 16, 256, 64, 64, 0, 768}, Case{3, 3, 32, 17, 24, 0, 96},
        Case{5, 6, 13, 17, 24, 3, 1}, Case{9, 12, 8, 17, 24, 0, 0}, Case{1, 1, 5, 7, 3, 0, 0},
        Case{7, 7, 9, 7, 7, 1, 2}, Case{20, 9, 4, 6, 5, 0, 0}}) {
    const int64_t ldi = k.c + k.ldi_pad, ldo = k.c + k.ldo_pad;
    const std::vector<float> in = random_floats(static_cast<size_t>(k.hi * k.wi * ldi), 71, -3, 3);
    const ResizeShape s{k.hi, k.wi, k.c, k.ho, k.wo};
    for (auto [y0, y1] : {std::pair<int64_t, int64_t>{0, k.ho}, {k.ho / 3, k.ho}}) {
      std::vector<float> ref(static_cast<size_t>((y1 - y0) * k.wo * ldo), 9.0f), got = ref;
      resize_bilinear_ref(s, in.data(), ldi, y0, y1, ref.data(), ldo);
      resize_bilinear_avx2(s, in.data(), ldi, y0, y1, got.data(), ldo);
      for (int64_t y = y0; y < y1; ++y) {
        const LinearTap ty = bilinear_tap(y, k.hi, k.ho);
        for (int64_t x = 0; x < k.wo; ++x) {
          const LinearTap tx = bilinear_tap(x, k.wi, k.wo);
          for (int64_t ch = 0; ch < ldo; ++ch) {
            const size_t idx = static_cast<size_t>(((y - y0) * k.wo + x) * ldo + ch);
            if (ch >= k.c) {
              EXPECT_EQ(got[idx], 9.0f);
              continue;
            }
            auto at = [&](int64_t yy, int64_t xx) {
              return std::fabs(in[(yy * k.wi + xx) * ldi + ch]);
            };
            const double mag = ty.l0 * (tx.l0 * at(ty.i0, tx.i0) + tx.l1 * at(ty.i0, tx.i1)) +
                               ty.l1 * (tx.l0 * at(ty.i1, tx.i0) + tx.l1 * at(ty.i1, tx.i1));
            ASSERT_NEAR(got[idx], ref[idx], 6 * kU * mag + 1e-30);
          }
        }
      }
    }
  }
}

// accumulate: out += resize(in), on both paths (the folded decode head sums its stages this way).
TEST(Resize, Accumulate) {
  const ResizeShape s{5, 6, 13, 17, 24};
  const std::vector<float> in = random_floats(5 * 6 * 13, 73);
  const std::vector<float> base = random_floats(17 * 24 * 13, 74);
  for (KernelIsa isa : {KernelIsa::kRef, KernelIsa::kAvx2}) {
    if (!kernel_isa_available(isa)) continue;
    ScopedKernelIsa scoped(isa);
    std::vector<float> plain(base.size()), acc = base;
    resize_bilinear(s, in.data(), 13, 0, 17, plain.data(), 13);
    resize_bilinear(s, in.data(), 13, 0, 17, acc.data(), 13, true);
    for (size_t i = 0; i < acc.size(); ++i) EXPECT_EQ(acc[i], base[i] + plain[i]) << i;
  }
}

TEST(Resize, EqualSizeIsAnExactCopy) {
  SEGQ_REQUIRE_AVX2();
  const std::vector<float> in = random_floats(17 * 24 * 40, 72);
  std::vector<float> out(in.size());
  resize_bilinear_avx2({17, 24, 40, 17, 24}, in.data(), 40, 0, 17, out.data(), 40);
  EXPECT_EQ(out, in);
  resize_bilinear_ref({17, 24, 40, 17, 24}, in.data(), 40, 0, 17, out.data(), 40);
  EXPECT_EQ(out, in);
}

}  // namespace
}  // namespace segq
