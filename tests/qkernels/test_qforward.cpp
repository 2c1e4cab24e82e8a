// "Quantized forward = fp32 forward of the dequantized weights, up to float reassociation", on the
// tiny fixture for every storage format:
//   - scalar ISA: the model on the packed WeightSet gives bit for bit the logits of the dense model
//     built from the dequantized weights. Derived bound 0: the decoders are exact and every
//     reference kernel's arithmetic is independent of the weight format (GEMM sums in k order,
//     depthwise decodes into the same fp32 taps).
//   - every ISA: each weight op of the real forward, on the input it actually received, computes
//     with the packed weight what the dense op computes with the dequantized one, both within the
//     kernel bound of tests/qkernels (gamma_{K+2} (S + |b|) of the exact value; depthwise
//     gamma_10 S). The rest of the forward (LayerNorm, attention, GELU, resize) never sees a
//     weight format, so the two models differ only by the reassociation inside these ops.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "model/fixture_input.h"
#include "model/segformer.h"
#include "qkernels/qkernel_test_util.h"
#include "quant/quant_test_util.h"

namespace segq {
namespace {

using qtest::gamma;

struct Tiny {
  ModelFiles files;
  WeightSet dense;
};

const Tiny& tiny() {
  static const Tiny t = [] {
    Tiny x;
    x.files = load_model_files(test::fixture_path("models/tiny"));
    x.dense = weights_from_checkpoint(x.files.tensors, x.files.metadata, x.files.directory).weights;
    return x;
  }();
  return t;
}

WeightSet quantized(const std::string& method) {
  PlanOptions o;
  o.method = parse_method(method);
  return quantize_model(tiny().dense, o).weights;
}

// Every packed weight replaced by its dequantized fp32 value.
WeightSet dequantized(const WeightSet& q) {
  WeightSet out;
  for (const auto& [name, w] : q) {
    out[name] = w.is_quantized() ? Weight::dense(dequantize(w.qtensor())) : w;
  }
  return out;
}

int count_quantized(const WeightSet& w) {
  int n = 0;
  for (const auto& [name, x] : w) n += x.is_quantized();
  return n;
}

class QForward : public ::testing::TestWithParam<std::string> {};

TEST_P(QForward, ScalarLogitsEqualTheDequantizedModelBitForBit) {
  const WeightSet q = quantized(GetParam());
  if (GetParam() != "fp32") {
    EXPECT_GE(count_quantized(q), GetParam().rfind("quanto:", 0) == 0 ? 52 : 72) << GetParam();
  }
  ScopedKernelIsa scalar(KernelIsa::kRef);
  auto mq = make_segformer(tiny().files.config, q);
  auto md = make_segformer(tiny().files.config, dequantized(q));
  const Tensor x = testing::fixture_input(2, 45, 61, 5);
  const Tensor a = mq->forward(x);
  const Tensor b = md->forward(x);
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0) << GetParam();
}

// Checks one observed op: packed and dense results on the same input, against the exact value.
class OpChecker {
 public:
  explicit OpChecker(const WeightSet& dq) : dq_(dq) {}

  void operator()(const WeightOpEvent& e) {
    ++events_;
    const std::string& name = e.name();
    const float* w = dq_.at(name).dense_tensor().data<float>();
    if (e.linear) {
      const LinearOp& q = *e.linear;
      auto it = dense_linear_.find(name);
      if (it == dense_linear_.end()) {
        const Weight bias = q.bias.defined() ? Weight::dense(q.bias) : Weight();
        it = dense_linear_
                 .emplace(name,
                          LinearOp::bind(name, dq_.at(name), q.bias.defined() ? &bias : nullptr))
                 .first;
      }
      const int64_t n = q.out_features(), k = q.in_features();
      std::vector<float> yq(static_cast<size_t>(e.rows * n)), yd(yq.size());
      ops::linear(e.rows, e.x, e.ldx, q, yq.data(), n);
      ops::linear(e.rows, e.x, e.ldx, it->second, yd.data(), n);
      const float* b = q.bias.defined() ? q.bias.data<float>() : nullptr;
      for (int64_t i = 0; i < e.rows; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          double y = b ? b[j] : 0.0, s = b ? std::fabs(b[j]) : 0.0;
          for (int64_t kk = 0; kk < k; ++kk) {
            const double t = static_cast<double>(e.x[i * e.ldx + kk]) * w[j * k + kk];
            y += t;
            s += std::fabs(t);
          }
          check(name, yq[i * n + j], yd[i * n + j], y, gamma(static_cast<double>(k + 2)) * s);
        }
      }
      return;
    }
    const DepthwiseOp& q = *e.depthwise;
    auto it = dense_dw_.find(name);
    if (it == dense_dw_.end()) {
      it = dense_dw_.emplace(name, DepthwiseOp::bind(name, dq_.at(name), Weight::dense(q.bias)))
               .first;
    }
    const int64_t c = q.channels();
    std::vector<float> yq(static_cast<size_t>(e.batch * e.h * e.w * c)), yd(yq.size());
    ops::depthwise3x3(q, e.batch, e.h, e.w, e.x, Activation::kNone, yq.data());
    ops::depthwise3x3(it->second, e.batch, e.h, e.w, e.x, Activation::kNone, yd.data());
    const float* b = q.bias.data<float>();
    for (int64_t bi = 0; bi < e.batch; ++bi) {
      for (int64_t r = 0; r < e.h; ++r) {
        for (int64_t col = 0; col < e.w; ++col) {
          for (int64_t ch = 0; ch < c; ++ch) {
            double y = b[ch], s = std::fabs(b[ch]);
            for (int ky = 0; ky < 3; ++ky) {
              for (int kx = 0; kx < 3; ++kx) {
                const int64_t yy = r + ky - 1, xx = col + kx - 1;
                if (yy < 0 || yy >= e.h || xx < 0 || xx >= e.w) continue;
                const double t = static_cast<double>(w[ch * 9 + ky * 3 + kx]) *
                                 e.x[((bi * e.h + yy) * e.w + xx) * c + ch];
                y += t;
                s += std::fabs(t);
              }
            }
            const size_t idx = static_cast<size_t>(((bi * e.h + r) * e.w + col) * c + ch);
            check(name, yq[idx], yd[idx], y, gamma(10) * s);
          }
        }
      }
    }
  }

  int events() const { return events_; }
  int64_t outputs() const { return outputs_; }
  int64_t bad() const { return bad_; }
  const std::string& first_bad() const { return first_bad_; }

 private:
  void check(const std::string& name, float q, float d, double exact, double tol) {
    ++outputs_;
    tol += 1e-30;
    const double eq = std::fabs(q - exact), ed = std::fabs(d - exact);
    if (eq <= tol && ed <= tol) return;
    if (bad_++ == 0) {
      first_bad_ = str_cat(name, ": packed ", q, ", dense ", d, ", exact ", exact, ", bound ", tol);
    }
  }

  const WeightSet& dq_;
  std::map<std::string, LinearOp> dense_linear_;
  std::map<std::string, DepthwiseOp> dense_dw_;
  int events_ = 0;
  int64_t outputs_ = 0, bad_ = 0;
  std::string first_bad_;
};

TEST_P(QForward, EveryWeightOpOnItsRealInputsWithinTheKernelBound) {
  const WeightSet q = quantized(GetParam());
  const WeightSet dq = dequantized(q);
  const Tensor x = testing::fixture_input(1, 45, 61, 7);
  for (KernelIsa isa : qtest::available_isas()) {
    ScopedKernelIsa scoped(isa);
    auto mq = make_segformer(tiny().files.config, q);
    OpChecker checker(dq);
    mq->set_weight_op_observer([&](const WeightOpEvent& e) { checker(e); });
    const Tensor logits = mq->forward(x);
    // tiny: 4 stages x 2 blocks x (q, k, v, out, dense1, dwconv, dense2) + sr in 3 stages + 4
    // patch embeddings + decode head (4 linear_c, linear_fuse, classifier; per 1024-pixel chunk).
    EXPECT_GE(checker.events(), 4 * 2 * 7 + 3 * 2 + 4 + 6);
    EXPECT_GT(checker.outputs(), 20000);
    EXPECT_EQ(checker.bad(), 0) << GetParam() << " " << kernel_isa_name(isa) << ": "
                                << checker.first_bad();
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, QForward,
                         ::testing::Values("fp32", "bf16", "fp16", "fp8", "fp8-e5m2", "int8",
                                           "int4", "int4-g32", "int4-g96", "int4-sym",
                                           "int4-g32-s16", "int2", "int2-g16-sym", "quanto:int4"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) {
                             if (ch == '-' || ch == ':') ch = '_';
                           }
                           return s;
                         });

// The observer is free when unused and never changes the results.
TEST(QForward, ObservingDoesNotChangeTheLogits) {
  const WeightSet q = quantized("int4");
  auto m = make_segformer(tiny().files.config, q);
  const Tensor x = testing::fixture_input(1, 64, 64, 3);
  const Tensor a = m->forward(x);
  int events = 0;
  m->set_weight_op_observer([&](const WeightOpEvent&) { ++events; });
  const Tensor b = m->forward(x);
  m->set_weight_op_observer(nullptr);
  const Tensor c = m->forward(x);
  EXPECT_GT(events, 60);
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
  EXPECT_EQ(std::memcmp(a.raw(), c.raw(), a.nbytes()), 0);
}

}  // namespace
}  // namespace segq
