#include "eval/layer_sensitivity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>

#include "model/segformer.h"
#include "quant/plan.h"
#include "quant/size_report.h"

namespace segq {

namespace {

// The fp32 twin of one quantized op, and the running sums of its output distortion.
class OutputProbe {
 public:
  OutputProbe(const std::string& name, const Weight& dense, LayerSensitivity* row)
      : name_(name), dense_(dense), row_(row) {}

  void operator()(const WeightOpEvent& e) {
    if (e.name() != name_) return;
    if (e.linear) {
      const LinearOp& q = *e.linear;
      if (!fp32_linear_) {
        const Weight bias = q.bias.defined() ? Weight::dense(q.bias) : Weight();
        fp32_linear_ = std::make_unique<LinearOp>(
            LinearOp::bind(name_, dense_, q.bias.defined() ? &bias : nullptr));
      }
      const int64_t n = q.out_features();
      yq_.resize(static_cast<size_t>(e.rows * n));
      yf_.resize(yq_.size());
      ops::linear(e.rows, e.x, e.ldx, q, yq_.data(), n);
      ops::linear(e.rows, e.x, e.ldx, *fp32_linear_, yf_.data(), n);
    } else {
      const DepthwiseOp& q = *e.depthwise;
      if (!fp32_dw_) {
        fp32_dw_ =
            std::make_unique<DepthwiseOp>(DepthwiseOp::bind(name_, dense_, Weight::dense(q.bias)));
      }
      yq_.resize(static_cast<size_t>(e.batch * e.h * e.w * q.channels()));
      yf_.resize(yq_.size());
      ops::depthwise3x3(q, e.batch, e.h, e.w, e.x, Activation::kNone, yq_.data());
      ops::depthwise3x3(*fp32_dw_, e.batch, e.h, e.w, e.x, Activation::kNone, yf_.data());
    }
    row_->output.add_values(yf_.data(), yq_.data(), static_cast<int64_t>(yq_.size()));
  }

 private:
  std::string name_;
  const Weight& dense_;
  LayerSensitivity* row_;
  std::unique_ptr<LinearOp> fp32_linear_;
  std::unique_ptr<DepthwiseOp> fp32_dw_;
  std::vector<float> yq_, yf_;
};

std::string fmt_db(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

nlohmann::json json_db(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
}

}  // namespace

SensitivityReport layer_sensitivity(const nlohmann::json& config_json, const WeightSet& dense,
                                    const MethodSpec& method, const std::vector<Tensor>& inputs,
                                    const std::function<void(size_t)>& progress) {
  SensitivityReport r;
  r.method = method.name;
  r.inputs = static_cast<int64_t>(inputs.size());
  // The layers the method quantizes, each quantized once (alone, as single_layer_plan does).
  PlanOptions all;
  all.method = method;
  std::vector<Weight> quantized;
  for (const PlanEntry& e : make_quant_plan(dense, all).entries) {
    if (!e.quantized) continue;
    const WeightSet one = quantize_weights(dense, single_layer_plan(dense, e.name, method));
    const Weight& q = one.at(e.name);
    LayerSensitivity row;
    row.name = e.name;
    row.role = tensor_role_name(e.role);
    row.shape = e.shape;
    row.params = shape_numel(e.shape);
    row.bytes_fp32 = 4 * row.params;
    row.bytes_quantized = static_cast<int64_t>(q.stored_bytes());
    const SizeReport sr = make_size_report(WeightSet{{e.name, q}}, method.name, &dense);
    row.weight_sqnr_db = sr.tensors.at(0).sqnr_db.value_or(0.0);
    r.layers.push_back(std::move(row));
    quantized.push_back(q);
  }
  if (r.layers.empty()) {
    throw UsageError(str_cat("method ", method.name, " quantizes no layer of this model"));
  }
  // Inputs outer, layers inner: one fp32 forward per input, then one forward per layer with only
  // that layer quantized (binding a model is cheap next to a forward; nothing per layer is kept).
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (progress) progress(i);
    const Tensor ref = make_segformer(config_json, dense)->forward(inputs[i]);
    for (size_t l = 0; l < r.layers.size(); ++l) {
      LayerSensitivity& row = r.layers[l];
      WeightSet w = dense;
      w[row.name] = quantized[l];
      auto model = make_segformer(config_json, w);
      OutputProbe probe(row.name, dense.at(row.name), &row);
      model->set_weight_op_observer([&probe](const WeightOpEvent& e) { probe(e); });
      row.logits.add(ref, model->forward(inputs[i]));
    }
  }
  std::stable_sort(r.layers.begin(), r.layers.end(),
                   [](const LayerSensitivity& a, const LayerSensitivity& b) {
                     return a.logits.sqnr_db() < b.logits.sqnr_db();
                   });
  return r;
}

std::string sensitivity_text(const SensitivityReport& r) {
  size_t width = 5;
  for (const LayerSensitivity& l : r.layers) width = std::max(width, l.name.size());
  std::string out = str_cat("method ", r.method, ", ", r.inputs,
                            " input(s); one layer quantized at a time, most damaging first\n");
  char line[512];
  std::snprintf(line, sizeof line, "%4s  %-*s %-7s %10s %11s %10s %10s %10s %8s\n", "rank",
                static_cast<int>(width), "layer", "kind", "params", "saved B", "weight dB",
                "output dB", "logits dB", "top-1 %");
  out += line;
  int rank = 0;
  for (const LayerSensitivity& l : r.layers) {
    std::snprintf(line, sizeof line, "%4d  %-*s %-7s %10lld %11lld %10s %10s %10s %8.2f\n", ++rank,
                  static_cast<int>(width), l.name.c_str(), l.role.c_str(),
                  static_cast<long long>(l.params),
                  static_cast<long long>(l.bytes_fp32 - l.bytes_quantized),
                  fmt_db(l.weight_sqnr_db).c_str(), fmt_db(l.output.sqnr_db()).c_str(),
                  fmt_db(l.logits.sqnr_db()).c_str(), 100.0 * l.logits.top1_agreement());
    out += line;
  }
  return out;
}

nlohmann::json sensitivity_json(const SensitivityReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerSensitivity& l : r.layers) {
    layers.push_back({{"name", l.name},
                      {"kind", l.role},
                      {"shape", l.shape},
                      {"params", l.params},
                      {"bytes_fp32", l.bytes_fp32},
                      {"bytes_quantized", l.bytes_quantized},
                      {"weight_sqnr_db", json_db(l.weight_sqnr_db)},
                      {"output_sqnr_db", json_db(l.output.sqnr_db())},
                      {"logits_sqnr_db", json_db(l.logits.sqnr_db())},
                      {"logits_nmse", json_db(l.logits.nmse())},
                      {"top1_agreement", l.logits.top1_agreement()}});
  }
  return {{"method", r.method}, {"inputs", r.inputs}, {"layers", layers}};
}

}  // namespace segq
