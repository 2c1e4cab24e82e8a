#include "eval/logit_fidelity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "model/segformer.h"
#include "quant/size_report.h"

namespace segq {

void LogitComparison::add_values(const float* ref, const float* got, int64_t n) {
  double s = 0, e = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double y = ref[i], d = static_cast<double>(got[i]) - y;
    s += y * y;
    e += d * d;
  }
  signal += s;
  noise += e;
}

void LogitComparison::add(const Tensor& ref, const Tensor& got) {
  SEGQ_CHECK(ref.dtype() == DType::F32 && got.dtype() == DType::F32 && ref.ndim() == 4 &&
                 ref.shape() == got.shape(),
             "logit comparison: shapes ", shape_str(ref.shape()), " and ", shape_str(got.shape()),
             " must be the same [B, h, w, L] F32");
  const int64_t labels = ref.dim(3), n = ref.numel() / std::max<int64_t>(labels, 1);
  const float* r = ref.data<float>();
  const float* g = got.data<float>();
  add_values(r, g, ref.numel());
  for (int64_t p = 0; p < n; ++p) {
    int64_t ar = 0, ag = 0;
    for (int64_t l = 1; l < labels; ++l) {
      if (r[p * labels + l] > r[p * labels + ar]) ar = l;
      if (g[p * labels + l] > g[p * labels + ag]) ag = l;
    }
    agree += ar == ag;
  }
  pixels += n;
}

double LogitComparison::nmse() const {
  if (noise == 0) return 0;
  return signal == 0 ? std::numeric_limits<double>::infinity() : noise / signal;
}

double LogitComparison::sqnr_db() const {
  if (noise == 0) return std::numeric_limits<double>::infinity();
  return signal == 0 ? -std::numeric_limits<double>::infinity() : 10.0 * std::log10(signal / noise);
}

double LogitComparison::top1_agreement() const {
  return pixels ? static_cast<double>(agree) / static_cast<double>(pixels) : 1.0;
}

std::vector<Tensor> prepare_model_inputs(const Dataset& dataset, Protocol protocol,
                                         const PreprocessConfig& config, int num_labels,
                                         size_t limit) {
  const size_t n =
      limit == 0 ? dataset.samples().size() : std::min(limit, dataset.samples().size());
  std::vector<Tensor> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    PreparedSample s = prepare_sample(dataset, i, protocol, config, num_labels);
    out.push_back(s.pixels.reshape({1, s.pixels.dim(0), s.pixels.dim(1), s.pixels.dim(2)}));
  }
  return out;
}

std::vector<MethodFidelity> logit_fidelity(const nlohmann::json& config_json,
                                           const WeightSet& dense,
                                           const std::vector<PlanOptions>& methods,
                                           const std::vector<Tensor>& inputs,
                                           const std::function<void(size_t)>& progress) {
  // fp32 logits of every input, kept for all methods.
  std::vector<Tensor> ref;
  {
    auto model = make_segformer(config_json, dense);
    for (const Tensor& x : inputs) ref.push_back(model->forward(x));
  }
  std::vector<MethodFidelity> out;
  for (size_t m = 0; m < methods.size(); ++m) {
    if (progress) progress(m);
    const QuantizedModel q = quantize_model(dense, methods[m]);
    MethodFidelity f;
    f.method = q.plan.name;
    const SizeReport size = make_size_report(q.weights, q.plan.name);
    f.bytes = size.total_bytes;
    f.bits_per_weight = size.bits_per_weight();
    auto model = make_segformer(config_json, q.weights);
    for (size_t i = 0; i < inputs.size(); ++i) f.logits.add(ref[i], model->forward(inputs[i]));
    out.push_back(std::move(f));
  }
  return out;
}

namespace {

std::string fmt_db(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

nlohmann::json json_number(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
}

}  // namespace

std::string logit_fidelity_text(const std::vector<MethodFidelity>& rows) {
  size_t width = 6;
  for (const MethodFidelity& r : rows) width = std::max(width, r.method.size());
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-*s %12s %8s %12s %9s %8s\n", static_cast<int>(width),
                "method", "bytes", "bits/w", "logit NMSE", "SQNR dB", "top-1 %");
  out += line;
  for (const MethodFidelity& r : rows) {
    std::snprintf(line, sizeof line, "%-*s %12lld %8.3f %12.4e %9s %8.2f\n",
                  static_cast<int>(width), r.method.c_str(), static_cast<long long>(r.bytes),
                  r.bits_per_weight, r.logits.nmse(), fmt_db(r.logits.sqnr_db()).c_str(),
                  100.0 * r.logits.top1_agreement());
    out += line;
  }
  return out;
}

nlohmann::json logit_fidelity_json(const std::vector<MethodFidelity>& rows) {
  nlohmann::json a = nlohmann::json::array();
  for (const MethodFidelity& r : rows) {
    a.push_back({{"method", r.method},
                 {"bytes", r.bytes},
                 {"bits_per_weight", r.bits_per_weight},
                 {"logit_nmse", json_number(r.logits.nmse())},
                 {"logit_sqnr_db", json_number(r.logits.sqnr_db())},
                 {"top1_agreement", r.logits.top1_agreement()},
                 {"pixels", r.logits.pixels}});
  }
  return a;
}

}  // namespace segq
