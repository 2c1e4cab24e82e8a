#include "model/segformer_report.h"

#include <cstdio>
#include <sstream>

#include "model/segformer_stats.h"

namespace segq {

namespace {

std::string with_commas(int64_t v) {
  const std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out = v < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string list_str(const nlohmann::json& a) {
  std::string s = "[";
  for (size_t i = 0; i < a.size(); ++i) s += (i ? ", " : "") + a[i].dump();
  return s + "]";
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

nlohmann::json segformer_inspect_json(const SegformerConfig& c, int64_t height, int64_t width,
                                      const std::vector<std::pair<std::string, Tensor>>* checkpoint,
                                      const WeightSet* weights) {
  using json = nlohmann::json;
  const SegformerStats s = segformer_stats(c, height, width);
  const auto geo = segformer_geometry(c, height, width);
  json j;
  j["architecture"] = "SegformerForSemanticSegmentation";
  j["config"] = {{"num_encoder_blocks", c.num_stages},
                 {"hidden_sizes", c.hidden_sizes},
                 {"depths", c.depths},
                 {"num_attention_heads", c.num_heads},
                 {"sr_ratios", c.sr_ratios},
                 {"patch_sizes", c.patch_sizes},
                 {"strides", c.strides},
                 {"mlp_ratios", c.mlp_ratios},
                 {"decoder_hidden_size", c.decoder_hidden_size},
                 {"num_labels", c.num_labels},
                 {"hidden_act", c.hidden_act}};
  j["input"] = {{"height", height}, {"width", width}};
  j["logits"] = {{"height", geo[0].h}, {"width", geo[0].w}, {"labels", c.num_labels}};
  json modules = json::array();
  for (const ModuleStats& m : s.modules) {
    modules.push_back({{"module", m.module},
                       {"params", m.params},
                       {"macs", m.macs},
                       {"attention_macs", m.attention_macs}});
  }
  j["modules"] = modules;
  j["parameters"] = s.params;
  j["buffer_values"] = s.buffer_values;
  j["macs"] = s.macs;
  j["macs_without_attention"] = s.macs_without_attention();
  j["gmac"] = s.macs / 1e9;
  j["gmac_without_attention"] = s.macs_without_attention() / 1e9;
  if (checkpoint) {
    json b = json::object();
    for (const auto& [dtype, bytes] : bytes_by_dtype(*checkpoint)) b[dtype] = bytes;
    j["checkpoint_bytes_by_dtype"] = b;
  }
  if (weights) {
    json b = json::object();
    for (const auto& [format, bytes] : bytes_by_format(*weights)) b[format] = bytes;
    j["weight_bytes_by_format"] = b;
  }
  return j;
}

std::string segformer_inspect_text(const nlohmann::json& r) {
  std::ostringstream os;
  const auto& c = r["config"];
  os << "architecture: " << r["architecture"].get<std::string>() << "\n";
  os << "  stages " << c["num_encoder_blocks"] << ", hidden_sizes " << list_str(c["hidden_sizes"])
     << ", depths " << list_str(c["depths"]) << ", heads " << list_str(c["num_attention_heads"])
     << "\n";
  os << "  sr_ratios " << list_str(c["sr_ratios"]) << ", patch_sizes " << list_str(c["patch_sizes"])
     << ", strides " << list_str(c["strides"]) << ", mlp_ratios " << list_str(c["mlp_ratios"])
     << "\n";
  os << "  decoder_hidden_size " << c["decoder_hidden_size"] << ", num_labels " << c["num_labels"]
     << ", hidden_act " << c["hidden_act"].get<std::string>() << "\n";
  const int64_t h = r["input"]["height"], w = r["input"]["width"];
  os << "input: " << h << "x" << w << " -> logits " << r["logits"]["height"] << "x"
     << r["logits"]["width"] << "x" << r["logits"]["labels"] << "\n\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-42s %12s %10s %10s\n", "module", "params", "GMAC",
                "attn GMAC");
  os << line;
  for (const auto& m : r["modules"]) {
    std::snprintf(line, sizeof line, "%-42s %12s %10s %10s\n",
                  m["module"].get<std::string>().c_str(),
                  with_commas(m["params"].get<int64_t>()).c_str(),
                  fixed(m["macs"].get<int64_t>() / 1e9, 4).c_str(),
                  m["attention_macs"].get<int64_t>()
                      ? fixed(m["attention_macs"].get<int64_t>() / 1e9, 4).c_str()
                      : "");
    os << line;
  }
  os << "\nparameters: " << with_commas(r["parameters"].get<int64_t>()) << "\n";
  os << "GMAC at " << h << "x" << w << ": " << fixed(r["gmac"].get<double>(), 2) << " ("
     << fixed(r["gmac_without_attention"].get<double>(), 2) << " without attention matmuls)\n";
  if (r.contains("checkpoint_bytes_by_dtype")) {
    os << "checkpoint bytes by dtype:";
    for (const auto& [k, v] : r["checkpoint_bytes_by_dtype"].items()) {
      os << " " << k << " " << with_commas(v.get<int64_t>());
    }
    os << "\n";
  }
  if (r.contains("weight_bytes_by_format")) {
    os << "weight bytes in memory by format:";
    for (const auto& [k, v] : r["weight_bytes_by_format"].items()) {
      os << " " << k << " " << with_commas(v.get<int64_t>());
    }
    os << "\n";
  }
  return os.str();
}

}  // namespace segq
