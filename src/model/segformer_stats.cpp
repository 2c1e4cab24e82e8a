#include "model/segformer_stats.h"

#include <algorithm>

namespace segq {

std::vector<LayerCost> segformer_layer_costs(const SegformerConfig& c, int64_t h, int64_t w) {
  const auto geo = segformer_geometry(c, h, w);
  std::vector<LayerCost> out;
  auto add = [&](std::string name, const std::string& module, int64_t macs, bool attn = false) {
    out.push_back({std::move(name), module, macs, attn});
  };
  const std::string enc = "segformer.encoder.";
  for (int i = 0; i < c.num_stages; ++i) {
    const StageGeometry& g = geo[i];
    const int64_t C = c.hidden_sizes[i];
    const int64_t cin = i == 0 ? c.num_channels : c.hidden_sizes[i - 1];
    const int64_t k = c.patch_sizes[i];
    const int64_t n = g.tokens(), nkv = g.kv_tokens();
    const int64_t r = c.sr_ratios[i];
    const int64_t hid = c.mlp_hidden(i);
    const std::string pe = enc + "patch_embeddings." + std::to_string(i);
    add(pe + ".proj.weight", pe, n * C * cin * k * k);
    const std::string mod = enc + "block." + std::to_string(i);
    for (int j = 0; j < c.depths[i]; ++j) {
      const std::string b = mod + "." + std::to_string(j) + ".";
      add(b + "attention.self.query.weight", mod, n * C * C);
      if (r > 1) add(b + "attention.self.sr.weight", mod, nkv * C * C * r * r);
      add(b + "attention.self.key.weight", mod, nkv * C * C);
      add(b + "attention.self.value.weight", mod, nkv * C * C);
      add(b + "attention.self.matmuls", mod, 2 * n * nkv * C, true);
      add(b + "attention.output.dense.weight", mod, n * C * C);
      add(b + "mlp.dense1.weight", mod, n * C * hid);
      add(b + "mlp.dwconv.dwconv.weight", mod, n * hid * 9);
      add(b + "mlp.dense2.weight", mod, n * hid * C);
    }
  }
  const int64_t E = c.decoder_hidden_size;
  const int64_t n1 = geo[0].tokens();
  for (int i = 0; i < c.num_stages; ++i) {
    const std::string lc = "decode_head.linear_c." + std::to_string(i);
    add(lc + ".proj.weight", lc, geo[i].tokens() * c.hidden_sizes[i] * E);
  }
  add("decode_head.linear_fuse.weight", "decode_head.linear_fuse", n1 * E * c.num_stages * E);
  add("decode_head.classifier.weight", "decode_head.classifier", n1 * E * c.num_labels);
  return out;
}

SegformerStats segformer_stats(const SegformerConfig& c, int64_t h, int64_t w) {
  SegformerStats s;
  s.height = h;
  s.width = w;
  auto module_slot = [&](const std::string& m) -> ModuleStats& {
    for (ModuleStats& ms : s.modules) {
      if (ms.module == m) return ms;
    }
    s.modules.push_back({m, 0, 0, 0});
    return s.modules.back();
  };
  // Forward order: patch embedding i, block i, norm i per stage, then the decode head.
  for (int i = 0; i < c.num_stages; ++i) {
    module_slot("segformer.encoder.patch_embeddings." + std::to_string(i));
    module_slot("segformer.encoder.block." + std::to_string(i));
    module_slot("segformer.encoder.layer_norm." + std::to_string(i));
  }
  for (const ParamSpec& p : segformer_parameter_specs(c)) {
    ModuleStats& ms = module_slot(p.module);
    if (p.buffer) {
      s.buffer_values += shape_numel(p.shape);
    } else {
      ms.params += shape_numel(p.shape);
      s.params += shape_numel(p.shape);
    }
  }
  for (const LayerCost& l : segformer_layer_costs(c, h, w)) {
    ModuleStats& ms = module_slot(l.module);
    ms.macs += l.macs;
    s.macs += l.macs;
    if (l.attention_matmul) {
      ms.attention_macs += l.macs;
      s.attention_macs += l.macs;
    }
  }
  return s;
}

int64_t segformer_parameter_count(const SegformerConfig& c) {
  int64_t n = 0;
  for (const ParamSpec& p : segformer_parameter_specs(c)) {
    if (!p.buffer) n += shape_numel(p.shape);
  }
  return n;
}

std::map<std::string, size_t> bytes_by_dtype(
    const std::vector<std::pair<std::string, Tensor>>& tensors) {
  std::map<std::string, size_t> out;
  for (const auto& [name, t] : tensors) out[std::string(dtype_name(t.dtype()))] += t.nbytes();
  return out;
}

std::map<std::string, size_t> bytes_by_format(const WeightSet& weights) {
  std::map<std::string, size_t> out;
  for (const auto& [name, w] : weights) {
    const char* f = w.is_quantized() ? weight_format_name(w.qtensor().format) : "f32";
    out[f] += w.stored_bytes();
  }
  return out;
}

}  // namespace segq
