// The folded decode head (SegformerOptions::fold_decode_head) against the plain one, on the same
// encoder outputs, for every fixture, both kernel paths and the weights of every format (fp32,
// bf16, fp16, fp8, int8, int4, int2): the fold is computed from the bound (quantized) weights, and
// the bound below uses their dequantized values.
//
// Bound. Let T_i = |W_c_i| |c_i| + |b_c_i| (per pixel of stage i), U_i its bilinear upsampling
// (non-negative weights), M_e = |bn_scale_e| Σ_i Σ_k |W_fuse[e, slot_i + k]| U_i[k]: every term of
// the pre-ReLU activation a_e, in magnitude, on either path. Rounding errors, in units u = 2^-24:
//   plain:  linear_c (C_i + 1), resize 3, linear_fuse (S E), BatchNorm 2  -> (C + S E + 6) u M
//   folded: F_i rounded from double 1, stage GEMM (C_i + 1), resize-accumulate (3 + S), bias 1
//                                                                        -> (C + S + 6) u M
// so |Δa_e| <= (2 C + S E + S + 12) u (M_e + |bn_shift_e|), C = max C_i. ReLU is 1-Lipschitz and
// the classifier adds Σ_e |W_cls[l, e]| |Δa_e| plus both paths' own rounding on inputs of size
// <= M_e + |bn_shift_e|: 2 (E + 1) u Σ_e |W_cls[l, e]| (M_e + |bn_shift_e|) + 2 u |b_l|.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "io/model_files.h"
#include "kernels/isa.h"
#include "kernels/resize.h"
#include "model/fixture_input.h"
#include "model/segformer.h"
#include "model/weight_set.h"
#include "quant/plan.h"
#include "quant/qtensor.h"
#include "quant/quantize_tensor.h"

namespace segq {
namespace {

constexpr double kU = 0x1p-24;
const std::string kFixtures = std::string(SEGQ_SOURCE_DIR) + "/tests/fixtures/models/";

// The values the model computes with: dense fp32 as is, quantized ones dequantized (kept in
// `held`, which must outlive the returned pointers).
const float* values(const WeightSet& w, const std::string& name,
                    std::map<std::string, Tensor>* held) {
  const Weight& x = w.at(name);
  if (!x.is_quantized()) return x.dense_tensor().data<float>();
  Tensor& t = (*held)[name];
  if (!t.defined()) t = dequantize(x.qtensor());
  return t.data<float>();
}

// Per-logit tolerance [B, h1, w1, L] from the bound above.
std::vector<double> fold_tolerance(const SegformerConfig& cfg, const WeightSet& w,
                                   const std::vector<Tensor>& stages) {
  const int S = cfg.num_stages;
  const int64_t E = cfg.decoder_hidden_size, L = cfg.num_labels;
  const int64_t batch = stages[0].dim(0), h1 = stages[0].dim(1), w1 = stages[0].dim(2);
  const int64_t n1 = h1 * w1;
  int64_t cmax = 0;
  for (int c : cfg.hidden_sizes) cmax = std::max<int64_t>(cmax, c);
  std::map<std::string, Tensor> held;
  auto values = [&](const WeightSet& ws, const std::string& name) {
    return segq::values(ws, name, &held);
  };
  const float* wf = values(w, "decode_head.linear_fuse.weight");
  const float* gamma = values(w, "decode_head.batch_norm.weight");
  const float* beta = values(w, "decode_head.batch_norm.bias");
  const float* mean = values(w, "decode_head.batch_norm.running_mean");
  const float* var = values(w, "decode_head.batch_norm.running_var");
  const float* wcls = values(w, "decode_head.classifier.weight");
  const float* bcls = values(w, "decode_head.classifier.bias");
  std::vector<double> tol(static_cast<size_t>(batch * n1 * L));
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<double> m(static_cast<size_t>(n1 * E), 0.0);  // Σ_i Σ_k |Wf| U_i (before scale)
    for (int i = 0; i < S; ++i) {
      const std::string lc = "decode_head.linear_c." + std::to_string(i) + ".proj";
      const float* wc = values(w, lc + ".weight");
      const float* bc = values(w, lc + ".bias");
      const int64_t hi = stages[i].dim(1), wi = stages[i].dim(2), ci = stages[i].dim(3);
      const float* c = stages[i].data<float>() + b * hi * wi * ci;
      std::vector<double> t(static_cast<size_t>(hi * wi * E));
      for (int64_t p = 0; p < hi * wi; ++p) {
        for (int64_t k = 0; k < E; ++k) {
          double s = std::fabs(bc[k]);
          for (int64_t q = 0; q < ci; ++q) s += std::fabs(wc[k * ci + q] * c[p * ci + q]);
          t[p * E + k] = s;
        }
      }
      const int64_t slot = (S - 1 - i) * E;
      std::vector<double> up(static_cast<size_t>(E));
      for (int64_t y = 0; y < h1; ++y) {
        const LinearTap ty = bilinear_tap(y, hi, h1);
        for (int64_t x = 0; x < w1; ++x) {
          const LinearTap tx = bilinear_tap(x, wi, w1);
          for (int64_t k = 0; k < E; ++k) {
            up[k] = ty.l0 * (tx.l0 * t[(ty.i0 * wi + tx.i0) * E + k] +
                             tx.l1 * t[(ty.i0 * wi + tx.i1) * E + k]) +
                    ty.l1 * (tx.l0 * t[(ty.i1 * wi + tx.i0) * E + k] +
                             tx.l1 * t[(ty.i1 * wi + tx.i1) * E + k]);
          }
          double* mp = m.data() + (y * w1 + x) * E;
          for (int64_t e = 0; e < E; ++e) {
            double s = 0;
            for (int64_t k = 0; k < E; ++k) s += std::fabs(wf[e * S * E + slot + k]) * up[k];
            mp[e] += s;
          }
        }
      }
    }
    std::vector<double> da(static_cast<size_t>(E)), mag(static_cast<size_t>(E));
    for (int64_t p = 0; p < n1; ++p) {
      for (int64_t e = 0; e < E; ++e) {
        const double scale = gamma[e] / std::sqrt(static_cast<double>(var[e]) + 1e-5);
        const double shift = std::fabs(beta[e] - mean[e] * scale);
        mag[e] = std::fabs(scale) * m[p * E + e] + shift;
        da[e] = (2.0 * cmax + S * E + S + 12) * kU * mag[e];
      }
      for (int64_t l = 0; l < L; ++l) {
        double s = 2 * kU * std::fabs(bcls[l]) + 1e-30;
        for (int64_t e = 0; e < E; ++e) {
          s += std::fabs(wcls[l * E + e]) * (da[e] + 2.0 * (E + 1) * kU * mag[e]);
        }
        tol[(b * n1 + p) * L + l] = s;
      }
    }
  }
  return tol;
}

class DecodeFold : public ::testing::TestWithParam<std::string> {};

TEST_P(DecodeFold, FoldedEqualsPlainWithinBoundForEveryFormat) {
  const ModelFiles files = load_model_files(kFixtures + GetParam());
  const WeightSet dense = dense_weight_set(files.tensors);
  SegformerOptions fold;
  fold.fold_decode_head = true;
  SegformerOptions plain_opts;
  plain_opts.fold_decode_head = false;
  for (const char* method : {"fp32", "bf16", "fp16", "fp8", "int8", "int4", "int2"}) {
    PlanOptions po;
    po.method = parse_method(method);
    const WeightSet ws = quantize_model(dense, po).weights;
    for (KernelIsa isa : {KernelIsa::kAvx2, KernelIsa::kRef}) {
      if (!kernel_isa_available(isa)) continue;
      // The reference path on two formats (dense and a packed one) keeps the suite fast.
      const std::string m = method;
      if (isa == KernelIsa::kRef && m != "fp32" && m != "int4") continue;
      ScopedKernelIsa scoped(isa);
      auto plain = make_segformer(files.config, ws, "config.json", plain_opts);
      auto folded = make_segformer(files.config, ws, "config.json", fold);
      ASSERT_TRUE(folded->options().fold_decode_head);
      for (auto [b, h, w] : {std::tuple<int64_t, int64_t, int64_t>{1, 67, 93}, {2, 64, 64}}) {
        const Tensor x = testing::fixture_input(b, h, w, 9);
        const std::vector<Tensor> stages = plain->forward_stages(x);
        const Tensor a = plain->decode_head(stages);
        const Tensor f = folded->decode_head(stages);
        ASSERT_EQ(a.shape(), f.shape());
        // decode_head(forward_stages(x)) is forward(x), on both paths.
        const Tensor full = folded->forward(x);
        EXPECT_EQ(std::memcmp(full.raw(), f.raw(), f.nbytes()), 0);
        const std::vector<double> tol = fold_tolerance(plain->config(), ws, stages);
        int64_t bad = 0;
        double worst = 0, max_diff = 0;
        for (int64_t i = 0; i < a.numel(); ++i) {
          const double d = std::fabs(static_cast<double>(a.data<float>()[i]) - f.data<float>()[i]);
          max_diff = std::max(max_diff, d);
          worst = std::max(worst, d / tol[i]);
          if (!(d <= tol[i])) ++bad;
        }
        EXPECT_EQ(bad, 0) << GetParam() << " " << method << " " << kernel_isa_name(isa) << " " << h
                          << "x" << w << ": worst diff/bound " << worst;
        std::printf("[ fold ] %s %s %s %lldx%lld: max |diff| %.3g, worst %.3g of the bound\n",
                    GetParam().c_str(), kernel_isa_name(isa), method, static_cast<long long>(h),
                    static_cast<long long>(w), max_diff, worst);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DecodeFold, ::testing::Values("tiny", "b0", "b2narrow"));

}  // namespace
}  // namespace segq
