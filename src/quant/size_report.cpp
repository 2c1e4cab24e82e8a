#include "quant/size_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "quant/plan.h"

namespace segq {

namespace {

int64_t held_bytes(const Tensor& t) {
  return t.defined() && t.raw() ? static_cast<int64_t>(t.nbytes()) : 0;
}

// Sums of w^2 and (w - w^)^2 for a quantized weight against its fp32 reference.
void distortion(const QTensor& q, const Tensor& ref, TensorSizeRow* row) {
  const Tensor ref32 = ref.dtype() == DType::F32 ? ref : ref.to_f32();
  if (ref32.numel() != q.rows * q.cols) return;
  const float* w = ref32.data<float>();
  std::vector<float> buf(static_cast<size_t>(q.cols));
  const WeightFormatKernels& k = weight_format_kernels(q.format);
  const WeightView v = q.view();
  double signal = 0.0, noise = 0.0;
  for (int64_t r = 0; r < q.rows; ++r) {
    k.decode_rows(v, r, 1, buf.data());
    for (int64_t c = 0; c < q.cols; ++c) {
      const double x = w[r * q.cols + c];
      const double d = x - static_cast<double>(buf[c]);
      signal += x * x;
      noise += d * d;
    }
  }
  row->sqnr_db = noise == 0.0 ? std::numeric_limits<double>::infinity()
                              : (signal == 0.0 ? -std::numeric_limits<double>::infinity()
                                               : 10.0 * std::log10(signal / noise));
  row->rel_error = signal == 0.0 ? (noise == 0.0 ? 0.0 : std::numeric_limits<double>::infinity())
                                 : std::sqrt(noise / signal);
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string with_commas(int64_t v) {
  const std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out = v < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string pad(const std::string& s, size_t w, bool right) {
  if (s.size() >= w) return s;
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

}  // namespace

double SizeReport::bits_per_weight() const {
  return total_params ? 8.0 * static_cast<double>(total_bytes) / static_cast<double>(total_params)
                      : 0.0;
}
double SizeReport::bits_per_quantized_weight() const {
  return quantized_params
             ? 8.0 * static_cast<double>(quantized_bytes) / static_cast<double>(quantized_params)
             : 0.0;
}
double SizeReport::compression_vs_fp32() const {
  return total_bytes ? 4.0 * static_cast<double>(total_params) / static_cast<double>(total_bytes)
                     : 0.0;
}
double SizeReport::quantized_param_share() const {
  return total_params ? static_cast<double>(quantized_params) / static_cast<double>(total_params)
                      : 0.0;
}

SizeReport make_size_report(const WeightSet& weights, const std::string& method,
                            const WeightSet* reference) {
  SizeReport r;
  r.method = method;
  for (const auto& [name, w] : weights) {
    TensorSizeRow row;
    row.name = name;
    row.shape = w.shape();
    row.role = tensor_role_name(tensor_role(name, w.shape()));
    row.params = w.numel();
    row.quantized = w.is_quantized();
    if (w.is_quantized()) {
      const QTensor& q = w.qtensor();
      row.format = weight_format_name(q.format);
      row.method = q.method;
      row.group_size = q.group_size;
      row.bytes_codes = held_bytes(q.codes);
      row.bytes_scales = held_bytes(q.scales);
      row.bytes_shifts = q.symmetric ? 0 : held_bytes(q.shifts);
      if (reference) {
        const auto it = reference->find(name);
        if (it != reference->end() && !it->second.is_quantized()) {
          distortion(q, it->second.dense_tensor(), &row);
        }
      }
      r.quantized_bytes += row.bytes();
      r.quantized_params += row.params;
      ++r.num_quantized;
    } else {
      row.format = weight_format_name(WeightFormat::F32);
      row.bytes_codes = held_bytes(w.dense_tensor());
    }
    r.total_bytes += row.bytes();
    r.total_params += row.params;
    r.tensors.push_back(std::move(row));
  }
  return r;
}

std::string size_report_text(const SizeReport& r) {
  const std::vector<std::string> head = {"tensor", "kind",   "shape",   "format",
                                         "group",  "params", "codes",   "scales",
                                         "shifts", "bytes",  "SQNR dB", "rel err"};
  std::vector<std::vector<std::string>> rows;
  int64_t float_n = 0, float_params = 0, float_bytes = 0;
  for (const TensorSizeRow& t : r.tensors) {
    if (t.role == std::string("float")) {
      ++float_n;
      float_params += t.params;
      float_bytes += t.bytes();
      continue;
    }
    std::string group = "-";
    if (t.quantized && t.format.rfind("int", 0) == 0) {
      const int64_t cols = t.shape.empty() || t.shape[0] == 0 ? 0 : t.params / t.shape[0];
      group = t.group_size >= cols ? "row" : std::to_string(t.group_size);
    }
    std::string sqnr = "-", rel = "-";
    if (t.sqnr_db) sqnr = std::isinf(*t.sqnr_db) ? "inf" : fmt("%.2f", *t.sqnr_db);
    if (t.rel_error) rel = fmt("%.2e", *t.rel_error);
    rows.push_back({t.name, t.role, shape_str(t.shape), t.format, group, with_commas(t.params),
                    with_commas(t.bytes_codes), with_commas(t.bytes_scales),
                    with_commas(t.bytes_shifts), with_commas(t.bytes()), sqnr, rel});
  }
  rows.push_back({str_cat("(", float_n, " float tensors: biases, norms, BatchNorm)"), "float", "-",
                  "f32", "-", with_commas(float_params), with_commas(float_bytes), "0", "0",
                  with_commas(float_bytes), "-", "-"});
  std::vector<size_t> width(head.size());
  for (size_t c = 0; c < head.size(); ++c) width[c] = head[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c) out += "  ";
      out += pad(cells[c], width[c], c >= 5);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "\n";
  };
  out += str_cat("method ", r.method, "\n");
  line(head);
  for (const auto& row : rows) line(row);
  out +=
      str_cat("total: ", with_commas(r.total_bytes), " bytes (", fmt("%.2f", r.total_mb()),
              " MB), ", with_commas(r.total_params), " params, ", fmt("%.3f", r.bits_per_weight()),
              " bits/weight, ", fmt("%.2f", r.compression_vs_fp32()), "x vs fp32\n");
  out += str_cat("quantized: ", r.num_quantized, " tensors, ", with_commas(r.quantized_params),
                 " params (", fmt("%.1f", 100.0 * r.quantized_param_share()), "%), ",
                 with_commas(r.quantized_bytes), " bytes, ",
                 fmt("%.3f", r.bits_per_quantized_weight()), " bits/weight\n");
  return out;
}

nlohmann::json size_report_json(const SizeReport& r) {
  using nlohmann::json;
  json tensors = json::array();
  for (const TensorSizeRow& t : r.tensors) {
    json j = {{"name", t.name},
              {"shape", t.shape},
              {"kind", t.role},
              {"format", t.format},
              {"quantized", t.quantized},
              {"params", t.params},
              {"bytes", t.bytes()},
              {"bytes_codes", t.bytes_codes},
              {"bytes_scales", t.bytes_scales},
              {"bytes_shifts", t.bytes_shifts}};
    if (t.quantized) {
      j["method"] = t.method;
      j["group_size"] = t.group_size;
    }
    if (t.sqnr_db) {
      j["sqnr_db"] =
          std::isfinite(*t.sqnr_db) ? json(*t.sqnr_db) : json(*t.sqnr_db > 0 ? "inf" : "-inf");
    }
    if (t.rel_error)
      j["rel_error"] = std::isfinite(*t.rel_error) ? json(*t.rel_error) : json("inf");
    tensors.push_back(std::move(j));
  }
  json totals = {{"bytes", r.total_bytes},
                 {"mb", r.total_mb()},
                 {"params", r.total_params},
                 {"bits_per_weight", r.bits_per_weight()},
                 {"compression_vs_fp32", r.compression_vs_fp32()},
                 {"quantized_tensors", r.num_quantized},
                 {"quantized_params", r.quantized_params},
                 {"quantized_bytes", r.quantized_bytes},
                 {"bits_per_quantized_weight", r.bits_per_quantized_weight()},
                 {"quantized_param_share", r.quantized_param_share()}};
  return {{"method", r.method}, {"totals", totals}, {"tensors", tensors}};
}

}  // namespace segq
