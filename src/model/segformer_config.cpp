#include "model/segformer_config.h"

#include <algorithm>
#include <map>

#include "core/error.h"

namespace segq {

namespace {

using json = nlohmann::json;

std::string type_of(const json& v) { return v.type_name(); }

int get_int(const json& j, const char* field, int def, const std::string& src) {
  if (!j.contains(field) || j[field].is_null()) return def;
  const json& v = j[field];
  if (!v.is_number_integer()) {
    throw Error(
        str_cat(src, ": field '", field, "' must be an integer, got ", type_of(v), " ", v.dump()));
  }
  return v.get<int>();
}

std::vector<int> get_int_list(const json& j, const char* field, std::vector<int> def,
                              const std::string& src) {
  if (!j.contains(field) || j[field].is_null()) return def;
  const json& v = j[field];
  std::vector<int> out;
  if (v.is_array()) {
    for (const json& e : v) {
      if (!e.is_number_integer()) {
        throw Error(
            str_cat(src, ": field '", field, "' must be a list of integers, got ", v.dump()));
      }
      out.push_back(e.get<int>());
    }
    return out;
  }
  throw Error(str_cat(src, ": field '", field, "' must be a list of integers, got ", type_of(v),
                      " ", v.dump()));
}

std::vector<double> get_num_list(const json& j, const char* field, std::vector<double> def,
                                 const std::string& src) {
  if (!j.contains(field) || j[field].is_null()) return def;
  const json& v = j[field];
  std::vector<double> out;
  if (v.is_array()) {
    for (const json& e : v) {
      if (!e.is_number()) {
        throw Error(
            str_cat(src, ": field '", field, "' must be a list of numbers, got ", v.dump()));
      }
      out.push_back(e.get<double>());
    }
    return out;
  }
  throw Error(str_cat(src, ": field '", field, "' must be a list of numbers, got ", type_of(v), " ",
                      v.dump()));
}

void check_len(size_t n, int stages, const char* field, const std::string& src) {
  if (static_cast<int>(n) != stages) {
    throw Error(str_cat(src, ": field '", field, "' has ", n,
                        " entries, expected num_encoder_blocks = ", stages));
  }
}

void check_positive(const std::vector<int>& v, const char* field, const std::string& src) {
  for (int x : v) {
    if (x <= 0) {
      throw Error(str_cat(src, ": field '", field, "' must hold positive integers, got ", x));
    }
  }
}

}  // namespace

SegformerConfig SegformerConfig::from_json(const json& j, const std::string& src) {
  if (!j.is_object()) throw Error(str_cat(src, ": expected a JSON object"));
  SegformerConfig c;
  if (j.contains("model_type") && j["model_type"].is_string() &&
      j["model_type"].get<std::string>() != "segformer") {
    throw Error(str_cat(src, ": field 'model_type' is '", j["model_type"].get<std::string>(),
                        "', expected 'segformer'"));
  }
  c.num_channels = get_int(j, "num_channels", 3, src);
  c.num_stages = get_int(j, "num_encoder_blocks", 4, src);
  c.hidden_sizes = get_int_list(j, "hidden_sizes", c.hidden_sizes, src);
  c.depths = get_int_list(j, "depths", c.depths, src);
  c.num_heads = get_int_list(j, "num_attention_heads", c.num_heads, src);
  c.sr_ratios = get_int_list(j, "sr_ratios", c.sr_ratios, src);
  c.patch_sizes = get_int_list(j, "patch_sizes", c.patch_sizes, src);
  c.strides = get_int_list(j, "strides", c.strides, src);
  c.mlp_ratios = get_num_list(j, "mlp_ratios", c.mlp_ratios, src);
  c.decoder_hidden_size = get_int(j, "decoder_hidden_size", 256, src);
  if (j.contains("hidden_act") && !j["hidden_act"].is_null()) {
    if (!j["hidden_act"].is_string()) {
      throw Error(
          str_cat(src, ": field 'hidden_act' must be a string, got ", j["hidden_act"].dump()));
    }
    c.hidden_act = j["hidden_act"].get<std::string>();
  }
  if (j.contains("reshape_last_stage") && !j["reshape_last_stage"].is_null()) {
    if (!j["reshape_last_stage"].is_boolean()) {
      throw Error(str_cat(src, ": field 'reshape_last_stage' must be true or false, got ",
                          j["reshape_last_stage"].dump()));
    }
    c.reshape_last_stage = j["reshape_last_stage"].get<bool>();
  }
  // Labels: transformers sets num_labels = len(id2label) when id2label is given.
  if (j.contains("id2label") && !j["id2label"].is_null()) {
    const json& m = j["id2label"];
    if (!m.is_object()) {
      throw Error(str_cat(src, ": field 'id2label' must be an object {\"0\": name, ...}"));
    }
    std::map<int, std::string> by_id;
    for (auto it = m.begin(); it != m.end(); ++it) {
      int id = -1;
      try {
        size_t pos = 0;
        id = std::stoi(it.key(), &pos);
        if (pos != it.key().size()) id = -1;
      } catch (const std::exception&) {
        id = -1;
      }
      if (id < 0) {
        throw Error(str_cat(src, ": field 'id2label' has key '", it.key(),
                            "', expected a non-negative integer"));
      }
      by_id[id] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    }
    int expect = 0;
    for (const auto& [id, name] : by_id) {
      if (id != expect) {
        throw Error(str_cat(src, ": field 'id2label' must have ids 0..", by_id.size() - 1,
                            " without gaps; id ", expect, " is missing"));
      }
      c.labels.push_back(name);
      ++expect;
    }
    c.num_labels = static_cast<int>(c.labels.size());
    if (j.contains("num_labels") && j["num_labels"].is_number_integer() &&
        j["num_labels"].get<int>() != c.num_labels) {
      throw Error(str_cat(src, ": field 'num_labels' is ", j["num_labels"].get<int>(),
                          " but 'id2label' has ", c.num_labels, " entries"));
    }
  } else {
    c.num_labels = get_int(j, "num_labels", 2, src);
  }
  c.validate(src);
  return c;
}

void SegformerConfig::validate(const std::string& src) const {
  if (num_stages <= 0) {
    throw Error(str_cat(src, ": field 'num_encoder_blocks' must be positive, got ", num_stages));
  }
  if (num_channels <= 0) {
    throw Error(str_cat(src, ": field 'num_channels' must be positive, got ", num_channels));
  }
  check_len(hidden_sizes.size(), num_stages, "hidden_sizes", src);
  check_len(depths.size(), num_stages, "depths", src);
  check_len(num_heads.size(), num_stages, "num_attention_heads", src);
  check_len(sr_ratios.size(), num_stages, "sr_ratios", src);
  check_len(patch_sizes.size(), num_stages, "patch_sizes", src);
  check_len(strides.size(), num_stages, "strides", src);
  check_len(mlp_ratios.size(), num_stages, "mlp_ratios", src);
  check_positive(hidden_sizes, "hidden_sizes", src);
  check_positive(num_heads, "num_attention_heads", src);
  check_positive(sr_ratios, "sr_ratios", src);
  check_positive(patch_sizes, "patch_sizes", src);
  check_positive(strides, "strides", src);
  for (int d : depths) {
    if (d < 0) throw Error(str_cat(src, ": field 'depths' must hold integers >= 0, got ", d));
  }
  for (int i = 0; i < num_stages; ++i) {
    if (hidden_sizes[i] % num_heads[i] != 0) {
      throw Error(str_cat(src, ": hidden_sizes[", i, "] = ", hidden_sizes[i],
                          " is not a multiple of num_attention_heads[", i, "] = ", num_heads[i]));
    }
    if (!(mlp_ratios[i] > 0) || mlp_hidden(i) <= 0) {
      throw Error(str_cat(src, ": field 'mlp_ratios' must be positive, got ", mlp_ratios[i]));
    }
  }
  if (decoder_hidden_size <= 0) {
    throw Error(
        str_cat(src, ": field 'decoder_hidden_size' must be positive, got ", decoder_hidden_size));
  }
  if (num_labels <= 0) {
    throw Error(str_cat(src, ": field 'num_labels' must be positive, got ", num_labels));
  }
  // transformers maps "gelu" (and its alias "gelu_python") to the exact erf form.
  if (hidden_act != "gelu" && hidden_act != "gelu_python") {
    throw Error(str_cat(src, ": field 'hidden_act' is '", hidden_act,
                        "'; segq implements the exact-erf 'gelu' only"));
  }
}

int SegformerConfig::mlp_hidden(int stage) const {
  return static_cast<int>(hidden_sizes[stage] * mlp_ratios[stage]);
}

std::vector<StageGeometry> segformer_geometry(const SegformerConfig& c, int64_t h, int64_t w) {
  std::vector<StageGeometry> g(c.num_stages);
  int64_t hi = h, wi = w;
  for (int i = 0; i < c.num_stages; ++i) {
    const int k = c.patch_sizes[i], s = c.strides[i], p = c.padding(i);
    StageGeometry& sg = g[i];
    sg.h_in = hi;
    sg.w_in = wi;
    if (hi + 2 * p < k || wi + 2 * p < k) {
      throw Error(str_cat("input ", h, "x", w, " is too small: stage ", i, " patch embedding (k=",
                          k, ", padding ", p, ") gets a ", hi, "x", wi, " map"));
    }
    sg.h = (hi + 2 * p - k) / s + 1;
    sg.w = (wi + 2 * p - k) / s + 1;
    const int r = c.sr_ratios[i];
    sg.h_kv = r > 1 ? sg.h / r : sg.h;
    sg.w_kv = r > 1 ? sg.w / r : sg.w;
    if (sg.h_kv == 0 || sg.w_kv == 0) {
      throw Error(str_cat("input ", h, "x", w, " is too small: stage ", i, " has a ", sg.h, "x",
                          sg.w, " token grid, smaller than its sequence-reduction ratio ", r));
    }
    hi = sg.h;
    wi = sg.w;
  }
  return g;
}

std::vector<ParamSpec> segformer_parameter_specs(const SegformerConfig& c) {
  std::vector<ParamSpec> out;
  auto add = [&](std::string name, Shape shape, const std::string& module, bool buffer = false) {
    out.push_back({std::move(name), std::move(shape), module, buffer});
  };
  const std::string enc = "segformer.encoder.";
  for (int i = 0; i < c.num_stages; ++i) {
    const int64_t C = c.hidden_sizes[i];
    const int64_t cin = i == 0 ? c.num_channels : c.hidden_sizes[i - 1];
    const int64_t k = c.patch_sizes[i];
    const std::string pe = enc + "patch_embeddings." + std::to_string(i);
    add(pe + ".proj.weight", {C, cin, k, k}, pe);
    add(pe + ".proj.bias", {C}, pe);
    add(pe + ".layer_norm.weight", {C}, pe);
    add(pe + ".layer_norm.bias", {C}, pe);
  }
  for (int i = 0; i < c.num_stages; ++i) {
    const int64_t C = c.hidden_sizes[i];
    const int64_t r = c.sr_ratios[i];
    const int64_t hid = c.mlp_hidden(i);
    const std::string mod = enc + "block." + std::to_string(i);
    for (int j = 0; j < c.depths[i]; ++j) {
      const std::string b = mod + "." + std::to_string(j) + ".";
      add(b + "layer_norm_1.weight", {C}, mod);
      add(b + "layer_norm_1.bias", {C}, mod);
      for (const char* p : {"query", "key", "value"}) {
        add(b + "attention.self." + p + ".weight", {C, C}, mod);
        add(b + "attention.self." + p + ".bias", {C}, mod);
      }
      if (r > 1) {
        add(b + "attention.self.sr.weight", {C, C, r, r}, mod);
        add(b + "attention.self.sr.bias", {C}, mod);
        add(b + "attention.self.layer_norm.weight", {C}, mod);
        add(b + "attention.self.layer_norm.bias", {C}, mod);
      }
      add(b + "attention.output.dense.weight", {C, C}, mod);
      add(b + "attention.output.dense.bias", {C}, mod);
      add(b + "layer_norm_2.weight", {C}, mod);
      add(b + "layer_norm_2.bias", {C}, mod);
      add(b + "mlp.dense1.weight", {hid, C}, mod);
      add(b + "mlp.dense1.bias", {hid}, mod);
      add(b + "mlp.dwconv.dwconv.weight", {hid, 1, 3, 3}, mod);
      add(b + "mlp.dwconv.dwconv.bias", {hid}, mod);
      add(b + "mlp.dense2.weight", {C, hid}, mod);
      add(b + "mlp.dense2.bias", {C}, mod);
    }
  }
  for (int i = 0; i < c.num_stages; ++i) {
    const std::string ln = enc + "layer_norm." + std::to_string(i);
    add(ln + ".weight", {c.hidden_sizes[i]}, ln);
    add(ln + ".bias", {c.hidden_sizes[i]}, ln);
  }
  const int64_t E = c.decoder_hidden_size;
  for (int i = 0; i < c.num_stages; ++i) {
    const std::string lc = "decode_head.linear_c." + std::to_string(i);
    add(lc + ".proj.weight", {E, c.hidden_sizes[i]}, lc);
    add(lc + ".proj.bias", {E}, lc);
  }
  add("decode_head.linear_fuse.weight", {E, E * c.num_stages, 1, 1}, "decode_head.linear_fuse");
  const std::string bn = "decode_head.batch_norm";
  add(bn + ".weight", {E}, bn);
  add(bn + ".bias", {E}, bn);
  add(bn + ".running_mean", {E}, bn, true);
  add(bn + ".running_var", {E}, bn, true);
  add(bn + ".num_batches_tracked", {}, bn, true);
  add("decode_head.classifier.weight", {c.num_labels, E, 1, 1}, "decode_head.classifier");
  add("decode_head.classifier.bias", {c.num_labels}, "decode_head.classifier");
  return out;
}

}  // namespace segq
