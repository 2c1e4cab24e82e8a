#include "quant/checkpoint.h"

#include <nlohmann/json.hpp>
#include <set>

#include "kernels/decode_layout.h"
#include "quant/method.h"
#include "quant/plan.h"

namespace segq {

using nlohmann::json;

namespace {

bool weight_format_from_name(const std::string& s, WeightFormat* out) {
  static constexpr WeightFormat all[] = {
      WeightFormat::F16,  WeightFormat::BF16, WeightFormat::FP8_E4M3, WeightFormat::FP8_E5M2,
      WeightFormat::INT8, WeightFormat::INT4, WeightFormat::INT2};
  for (WeightFormat f : all) {
    if (s == weight_format_name(f)) {
      *out = f;
      return true;
    }
  }
  return false;
}

bool is_float_dtype(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

// Float tensors as dense fp32 Weights; integer buffers (num_batches_tracked) are dropped.
WeightSet dense_float_weights(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  WeightSet out;
  for (const auto& [name, t] : tensors) {
    if (is_float_dtype(t.dtype())) out.emplace(name, Weight::dense(t));
  }
  return out;
}

}  // namespace

CheckpointTensors quantized_checkpoint_tensors(const WeightSet& weights,
                                               const std::string& method) {
  CheckpointTensors out;
  json tensors = json::object();
  for (const auto& [name, w] : weights) {
    if (!w.is_quantized()) {
      out.tensors.emplace_back(name, w.dense_tensor());
      continue;
    }
    const QTensor& q = w.qtensor();
    json e = {{"format", weight_format_name(q.format)}, {"shape", q.shape}};
    if (!q.method.empty()) e["method"] = q.method;
    if (weight_format_is_dense(q.format)) {
      e["codes"] = name;
      out.tensors.emplace_back(name, q.codes.reshape(q.shape));
    } else {
      e["group_size"] = q.group_size;
      e["symmetric"] = q.symmetric;
      e["scale_dtype"] = std::string(dtype_name(q.scales.dtype()));
      if (!q.method.empty()) e["quantizer"] = quantizer_name(parse_method(q.method).quantizer);
      e["codes"] = name + ".codes";
      e["scales"] = name + ".scales";
      out.tensors.emplace_back(name + ".codes", q.codes);
      out.tensors.emplace_back(name + ".scales", q.scales);
      if (!q.symmetric) {
        e["shifts"] = name + ".shifts";
        out.tensors.emplace_back(name + ".shifts", q.shifts);
      }
    }
    tensors[name] = e;
  }
  const json map = {{"version", kQuantizationMapVersion}, {"method", method}, {"tensors", tensors}};
  out.metadata["format"] = "pt";
  out.metadata[kQuantizationMapKey] = map.dump();
  return out;
}

bool has_quantization_map(const std::map<std::string, std::string>& metadata) {
  return metadata.count(kQuantizationMapKey) > 0;
}

CheckpointWeights weights_from_checkpoint(
    const std::vector<std::pair<std::string, Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata, const std::string& source) {
  CheckpointWeights out;
  const auto meta = metadata.find(kQuantizationMapKey);
  if (meta == metadata.end()) {
    out.weights = dense_float_weights(tensors);
    return out;
  }
  out.quantized = true;
  const std::string where =
      str_cat(source, ": quantization map (__metadata__[\"", kQuantizationMapKey, "\"])");
  json map;
  try {
    map = json::parse(meta->second);
  } catch (const json::exception& e) {
    throw Error(str_cat(where, " is not valid JSON (truncated?): ", e.what()));
  }
  if (!map.is_object()) throw Error(where + " is not a JSON object");
  if (!map.contains("version") || !map["version"].is_number_integer()) {
    throw Error(where + ": missing integer 'version'");
  }
  if (map["version"].get<int64_t>() != kQuantizationMapVersion) {
    throw Error(str_cat(where, ": version ", map["version"].dump(),
                        " is not supported (this segq reads ", kQuantizationMapVersion, ")"));
  }
  if (!map.contains("method") || !map["method"].is_string()) {
    throw Error(where + ": missing string 'method'");
  }
  out.method = map["method"].get<std::string>();
  if (!map.contains("tensors") || !map["tensors"].is_object()) {
    throw Error(where + ": missing object 'tensors'");
  }

  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, t] : tensors) by_name[name] = &t;
  std::set<std::string> used;
  auto take = [&](const std::string& tensor, const std::string& entry,
                  const char* field) -> const Tensor& {
    const auto it = by_name.find(tensor);
    if (it == by_name.end()) {
      throw Error(str_cat(where, ": '", entry, "'.", field, " names tensor '", tensor,
                          "' which the checkpoint does not hold"));
    }
    if (!used.insert(tensor).second) {
      throw Error(str_cat(where, ": tensor '", tensor, "' is referenced twice"));
    }
    return *it->second;
  };
  auto expect = [&](const Tensor& t, const std::string& tensor, DType dtype, const Shape& shape) {
    if (t.dtype() != dtype || t.shape() != shape) {
      throw Error(str_cat(where, ": tensor '", tensor, "' is ", dtype_name(t.dtype()), " ",
                          shape_str(t.shape()), ", the map implies ", dtype_name(dtype), " ",
                          shape_str(shape)));
    }
  };

  for (auto it = map["tensors"].begin(); it != map["tensors"].end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    const std::string at = str_cat(where, ": entry '", name, "'");
    if (!e.is_object()) throw Error(at + " is not an object");
    auto field = [&](const char* key) -> const json& {
      if (!e.contains(key)) throw Error(str_cat(at, ": missing '", key, "'"));
      return e[key];
    };
    auto string_field = [&](const char* key) {
      const json& v = field(key);
      if (!v.is_string()) throw Error(str_cat(at, ": '", key, "' must be a string"));
      return v.get<std::string>();
    };
    if (by_name.count(name) && string_field("codes") != name) {
      throw Error(str_cat(at, ": the checkpoint also holds a plain tensor of that name"));
    }
    auto q = std::make_shared<QTensor>();
    const std::string format = string_field("format");
    if (!weight_format_from_name(format, &q->format)) {
      throw Error(str_cat(at, ": unknown format '", format, "'"));
    }
    const json& shape = field("shape");
    if (!shape.is_array() || shape.empty()) throw Error(at + ": 'shape' must be a non-empty array");
    for (const json& d : shape) {
      if (!d.is_number_unsigned() || d.get<int64_t>() <= 0) {
        throw Error(str_cat(at, ": 'shape' ", shape.dump(), " must hold positive integers"));
      }
      q->shape.push_back(d.get<int64_t>());
    }
    q->rows = q->shape[0];
    q->cols = shape_numel(q->shape) / q->rows;
    if (e.contains("method")) {
      if (!e["method"].is_string()) throw Error(at + ": 'method' must be a string");
      q->method = e["method"].get<std::string>();
    }
    const std::string codes_name = string_field("codes");
    const Tensor& codes = take(codes_name, name, "codes");
    if (weight_format_is_dense(q->format)) {
      expect(codes, codes_name, q->format == WeightFormat::F16 ? DType::F16 : DType::BF16,
             q->shape);
      q->codes = codes.reshape({q->rows, q->cols});
      q->group_size = q->cols;
      q->symmetric = true;
      out.weights.emplace(name, Weight::quantized(std::move(q)));
      continue;
    }
    const json& group = field("group_size");
    if (!group.is_number_unsigned() || group.get<int64_t>() <= 0 ||
        group.get<int64_t>() > q->cols) {
      throw Error(str_cat(at, ": 'group_size' ", group.dump(), " must be in [1, ", q->cols, "]"));
    }
    q->group_size = group.get<int64_t>();
    if (!weight_format_is_int(q->format) && q->group_size != q->cols) {
      throw Error(str_cat(at, ": fp8 has one scale per row, group_size must be ", q->cols));
    }
    const json& sym = field("symmetric");
    if (!sym.is_boolean()) throw Error(at + ": 'symmetric' must be true or false");
    q->symmetric = sym.get<bool>();
    if (!weight_format_is_int(q->format) && !q->symmetric) {
      throw Error(at + ": fp8 formats carry no shift (symmetric must be true)");
    }
    DType scale_dtype;
    const std::string sd = string_field("scale_dtype");
    if (!dtype_from_name(sd, &scale_dtype) ||
        !(scale_dtype == DType::F32 || scale_dtype == DType::F16 || scale_dtype == DType::BF16)) {
      throw Error(str_cat(at, ": 'scale_dtype' '", sd, "' is not F32, F16 or BF16"));
    }
    expect(codes, codes_name, DType::U8, {q->rows, weight_format_row_bytes(q->format, q->cols)});
    q->codes = codes;
    const Shape param_shape = {q->rows, q->groups_per_row()};
    const std::string scales_name = string_field("scales");
    q->scales = take(scales_name, name, "scales");
    expect(q->scales, scales_name, scale_dtype, param_shape);
    if (!q->symmetric) {
      const std::string shifts_name = string_field("shifts");
      q->shifts = take(shifts_name, name, "shifts");
      expect(q->shifts, shifts_name, scale_dtype, param_shape);
    } else if (e.contains("shifts")) {
      throw Error(at + ": symmetric but names 'shifts'");
    }
    out.weights.emplace(name, Weight::quantized(std::move(q)));
  }
  for (const auto& [name, t] : tensors) {
    if (used.count(name)) continue;
    if (out.weights.count(name)) continue;  // a dense baseline stored under its own name
    const bool looks_packed =
        name.size() > 7 &&
        (name.ends_with(".codes") || name.ends_with(".scales") || name.ends_with(".shifts"));
    if (looks_packed || t.dtype() == DType::U8) {
      throw Error(str_cat(where, ": tensor '", name, "' (", dtype_name(t.dtype()),
                          ") is not referenced by the map (truncated map?)"));
    }
    if (!is_float_dtype(t.dtype())) continue;  // integer buffers, e.g. num_batches_tracked
    out.weights.emplace(name, Weight::dense(t));
  }
  return out;
}

}  // namespace segq
