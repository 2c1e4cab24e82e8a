#include "quant/plan.h"

#include <fnmatch.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "quant/quantize_tensor.h"

namespace segq {

namespace {

bool glob_match(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// transformers' default modules_to_not_convert for the QuantoConfig path (see plan.h).
std::vector<std::string> quanto_modules_to_not_convert(
    const std::vector<std::pair<std::string, Shape>>& tensors) {
  for (const auto& [name, shape] : tensors) {
    if (name == "decode_head.classifier.weight") return {"decode_head.classifier"};
  }
  return {};
}

}  // namespace

const char* tensor_role_name(TensorRole r) {
  switch (r) {
    case TensorRole::Linear:
      return "linear";
    case TensorRole::Conv:
      return "conv";
    case TensorRole::DepthwiseConv:
      return "dwconv";
    case TensorRole::Float:
      return "float";
  }
  return "?";
}

TensorRole tensor_role(const std::string& name, const Shape& shape) {
  if (!ends_with(name, ".weight")) return TensorRole::Float;
  if (shape.size() == 2) return TensorRole::Linear;
  if (shape.size() == 4) {
    return shape[1] == 1 && shape[2] * shape[3] > 1 ? TensorRole::DepthwiseConv : TensorRole::Conv;
  }
  return TensorRole::Float;
}

int64_t QuantPlan::num_quantized() const {
  int64_t n = 0;
  for (const PlanEntry& e : entries) n += e.quantized ? 1 : 0;
  return n;
}

const PlanEntry* QuantPlan::find(const std::string& name) const {
  for (const PlanEntry& e : entries) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

std::vector<std::pair<std::string, MethodSpec>> parse_override_json(const std::string& text,
                                                                    const std::string& source) {
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(str_cat(source, ": override file is not valid JSON: ", e.what()));
  }
  if (!j.is_object()) {
    throw UsageError(
        str_cat(source, ": override file must be a JSON object {\"glob\": \"method\"}"));
  }
  std::vector<std::pair<std::string, MethodSpec>> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string()) {
      throw UsageError(str_cat(source, ": override '", it.key(),
                               "' must map to a method string, got ", it.value().dump()));
    }
    const std::string method = it.value().get<std::string>();
    if (method.find(':') != std::string::npos) {
      throw UsageError(str_cat(source, ": override '", it.key(), "' -> '", method,
                               "': per-layer methods take no scope prefix"));
    }
    try {
      out.emplace_back(it.key(), parse_method(method));
    } catch (const UsageError& e) {
      throw UsageError(str_cat(source, ": override '", it.key(), "': ", e.what()));
    }
  }
  return out;
}

bool is_decode_head_mlp(const std::string& name) {
  return (name.rfind("decode_head.linear_c.", 0) == 0 && name.size() > 7 &&
          name.compare(name.size() - 7, 7, ".weight") == 0) ||
         name == "decode_head.linear_fuse.weight";
}

namespace {

// `m` without its int8 activations (int8-w8a8 -> int8).
MethodSpec weight_only(const MethodSpec& m) {
  const std::string suffix = "-w8a8";
  SEGQ_CHECK(m.name.size() > suffix.size() &&
                 m.name.compare(m.name.size() - suffix.size(), suffix.size(), suffix) == 0,
             "w8a8 method name '", m.name, "' does not end in ", suffix);
  return parse_method(m.name.substr(0, m.name.size() - suffix.size()));
}

}  // namespace

QuantPlan make_quant_plan(const std::vector<std::pair<std::string, Shape>>& tensors,
                          const PlanOptions& o) {
  QuantPlan plan;
  const bool custom = !o.include.empty() || !o.exclude.empty() || !o.overrides.empty();
  plan.name = !o.label.empty() ? o.label : (custom ? o.method.name + "+custom" : o.method.name);
  const std::vector<std::string> not_convert = quanto_modules_to_not_convert(tensors);
  std::vector<bool> override_used(o.overrides.size(), false);
  std::vector<bool> include_used(o.include.size(), false), exclude_used(o.exclude.size(), false);
  MethodSpec keep_float = parse_method("fp32");

  for (const auto& [name, shape] : tensors) {
    PlanEntry e;
    e.name = name;
    e.shape = shape;
    e.role = tensor_role(name, shape);
    e.method = keep_float;
    if (e.role == TensorRole::Float) {
      e.rule = "float tensor";
      plan.entries.push_back(std::move(e));
      continue;
    }
    bool decided = false;
    for (size_t i = 0; i < o.overrides.size() && !decided; ++i) {
      if (glob_match(o.overrides[i].first, name)) {
        override_used[i] = true;
        e.method = o.overrides[i].second;
        e.rule = str_cat("override '", o.overrides[i].first, "'");
        decided = true;
      }
    }
    for (size_t i = 0; i < o.exclude.size() && !decided; ++i) {
      if (glob_match(o.exclude[i], name)) {
        exclude_used[i] = true;
        e.rule = str_cat("excluded by '", o.exclude[i], "'");
        decided = true;
      }
    }
    if (!decided && !o.include.empty()) {
      bool any = false;
      for (size_t i = 0; i < o.include.size(); ++i) {
        if (glob_match(o.include[i], name)) {
          include_used[i] = true;
          any = true;
        }
      }
      if (!any) {
        e.rule = "not included";
        decided = true;
      }
    }
    if (!decided) {
      bool in_scope = true;
      if (o.method.scope == MethodScope::Quanto) {
        if (e.role != TensorRole::Linear) {
          in_scope = false;
          e.rule = "scope quanto: not nn.Linear";
        }
        for (const std::string& key : not_convert) {
          if (in_scope && name.find(key) != std::string::npos) {
            in_scope = false;
            e.rule = str_cat("scope quanto: modules_to_not_convert '", key, "'");
          }
        }
      }
      if (in_scope) {
        e.method = o.method;
        e.rule = o.method.scope == MethodScope::Quanto ? "scope quanto" : "scope all";
        if (o.method.w8a8 && is_decode_head_mlp(name)) {
          // int8-w8a8 keeps the decode-head MLPs' activations float: quantizing the concatenated
          // activations is not linear, so only then does the head fold (about half of b0's
          // arithmetic). Their weights are the same int8 codes, run weight-only.
          e.method = weight_only(o.method);
          e.rule += "; decode-head MLP: w8a8 runs it int8 weight-only so the head folds";
        }
      }
    }
    e.quantized = e.method.quantizes_weights();
    plan.entries.push_back(std::move(e));
  }
  for (size_t i = 0; i < o.overrides.size(); ++i) {
    if (!override_used[i])
      log_warn("override pattern '", o.overrides[i].first, "' matches no weight");
  }
  for (size_t i = 0; i < o.include.size(); ++i) {
    if (!include_used[i]) log_warn("--include pattern '", o.include[i], "' matches no weight");
  }
  for (size_t i = 0; i < o.exclude.size(); ++i) {
    if (!exclude_used[i]) log_warn("--exclude pattern '", o.exclude[i], "' matches no weight");
  }
  return plan;
}

QuantPlan make_quant_plan(const WeightSet& weights, const PlanOptions& options) {
  std::vector<std::pair<std::string, Shape>> shapes;
  shapes.reserve(weights.size());
  for (const auto& [name, w] : weights) shapes.emplace_back(name, w.shape());
  return make_quant_plan(shapes, options);
}

std::vector<std::string> candidate_weights(const WeightSet& weights) {
  std::vector<std::string> out;
  for (const auto& [name, w] : weights) {
    if (tensor_role(name, w.shape()) != TensorRole::Float) out.push_back(name);
  }
  return out;
}

QuantPlan single_layer_plan(const WeightSet& weights, const std::string& name,
                            const MethodSpec& method) {
  const auto it = weights.find(name);
  if (it == weights.end()) throw UsageError(str_cat("no tensor named '", name, "'"));
  if (tensor_role(name, it->second.shape()) == TensorRole::Float) {
    throw UsageError(str_cat("'", name, "' is not a Linear or Conv weight"));
  }
  PlanOptions o;
  o.method = parse_method("fp32");
  o.overrides.emplace_back(name, method);
  o.label = str_cat(method.name, "@", name);
  // The name is used as a glob; escape glob characters so it matches only itself.
  std::string escaped;
  for (char c : name) {
    if (c == '*' || c == '?' || c == '[' || c == '\\') escaped.push_back('\\');
    escaped.push_back(c);
  }
  o.overrides.back().first = escaped;
  return make_quant_plan(weights, o);
}

WeightSet quantize_weights(const WeightSet& dense, const QuantPlan& plan) {
  WeightSet out;
  for (const PlanEntry& e : plan.entries) {
    const auto it = dense.find(e.name);
    if (it == dense.end())
      throw Error(str_cat("plan names tensor '", e.name, "' which is missing"));
    if (!e.quantized) {
      out.emplace(e.name, it->second);
      continue;
    }
    if (it->second.is_quantized()) {
      throw Error(str_cat("'", e.name, "' is already quantized (",
                          it->second.qtensor().method.empty()
                              ? weight_format_name(it->second.qtensor().format)
                              : it->second.qtensor().method,
                          "); segq quantizes fp32 weights once"));
    }
    std::shared_ptr<QTensor> q;
    try {
      q = std::make_shared<QTensor>(
          quantize_tensor(it->second.dense_tensor(), tensor_quant_spec(e.method, e.shape)));
    } catch (const Error& err) {
      throw Error(str_cat("quantizing '", e.name, "' with ", e.method.name, ": ", err.what()));
    }
    out.emplace(e.name, Weight::quantized(std::move(q)));
  }
  for (const auto& [name, w] : dense) {
    if (!out.count(name)) out.emplace(name, w);
  }
  return out;
}

QuantizedModel quantize_model(const WeightSet& dense, const PlanOptions& options) {
  QuantizedModel m;
  m.plan = make_quant_plan(dense, options);
  m.weights = quantize_weights(dense, m.plan);
  return m;
}

}  // namespace segq
