// The per-layer quantization plan: which Hugging Face weight gets which method, and turning a dense
// WeightSet into a quantized one.
//
// Candidates are the Linear and Conv weights: tensors named "*.weight" with 2 dimensions (Linear
// [out, in]) or 4 (Conv2d [O, I/groups, kh, kw]; depthwise when I/groups == 1 and kh*kw > 1).
// Everything else (biases, LayerNorm, BatchNorm, integer buffers) stays float.
//
// A candidate's method, first rule that applies:
//   1. the first override pattern (in file order) that matches its name; "fp32" keeps it float;
//   2. float if an --exclude pattern matches;
//   3. float if --include patterns are given and none matches;
//   4. the default method if the candidate is in the method's scope: `all` = every candidate;
//      `quanto` = Linear weights only, minus transformers' modules_to_not_convert default
//      (get_keys_to_not_convert: the module of the model's last parameter when there are no tied
//      weights and no output embeddings: "decode_head.classifier" for
//      SegformerForSemanticSegmentation, a Conv2d anyway), matched as a substring as transformers
//      does;
//   5. float otherwise.
// Patterns are shell globs (fnmatch without FNM_PATHNAME: '*' also matches '.') on full parameter
// names, e.g. "segformer.encoder.block.3.*.weight" or "*.classifier.weight".
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "quant/method.h"
#include "quant/weight.h"

namespace segq {

enum class TensorRole : uint8_t { Linear, Conv, DepthwiseConv, Float };
const char* tensor_role_name(TensorRole r);  // "linear", "conv", "dwconv", "float"
TensorRole tensor_role(const std::string& name, const Shape& shape);

struct PlanOptions {
  MethodSpec method;                                          // for candidates in scope
  std::vector<std::string> include;                           // globs; empty = every candidate
  std::vector<std::string> exclude;                           // globs
  std::vector<std::pair<std::string, MethodSpec>> overrides;  // glob -> method, first match wins
  std::string label;  // the plan's name; default: method name (+ "+custom")
};

struct PlanEntry {
  std::string name;
  Shape shape;
  TensorRole role = TensorRole::Float;
  bool quantized = false;
  MethodSpec method;  // the tensor's method (format F32 when it stays float)
  std::string rule;   // why: "scope all", "override 'pattern'", "excluded by 'pattern'", ...
};

struct QuantPlan {
  std::string name;                // method label for results (e.g. "int4", "int4-g64+custom")
  std::vector<PlanEntry> entries;  // every tensor, in name order
  int64_t num_quantized() const;
  const PlanEntry* find(const std::string& name) const;
};

// The decode head's per-stage MLP weights (decode_head.linear_c.*.weight) and linear_fuse.weight:
// the layers the decode-head fold rewrites (model/segformer.h). int8-w8a8 runs them weight-only.
bool is_decode_head_mlp(const std::string& name);

// Override file: a JSON object {"glob": "method", ...} in priority order (first match wins).
// Methods are written without scope; "fp32" means keep float. Throws UsageError naming the file
// and the bad entry.
std::vector<std::pair<std::string, MethodSpec>> parse_override_json(const std::string& text,
                                                                    const std::string& source);

QuantPlan make_quant_plan(const std::vector<std::pair<std::string, Shape>>& tensors,
                          const PlanOptions& options);
QuantPlan make_quant_plan(const WeightSet& weights, const PlanOptions& options);

// The Linear and Conv weights (candidates) of a weight set, in name order: the layers
// `segq sensitivity` visits.
std::vector<std::string> candidate_weights(const WeightSet& weights);
// Plans for `segq sensitivity`: quantize only `name` (a candidate) with `method`.
QuantPlan single_layer_plan(const WeightSet& weights, const std::string& name,
                            const MethodSpec& method);

// Applies a plan: quantized entries become QTensors, the rest share the dense tensors. Throws
// segq::Error when a planned tensor is missing or already quantized (segq quantizes fp32 weights
// once; a quantized checkpoint is evaluated as stored).
WeightSet quantize_weights(const WeightSet& dense, const QuantPlan& plan);

// make_quant_plan + quantize_weights: what `segq inspect --method`, `segq quantize` and the
// evaluation loop do with a method. The plan's name is the method label for results.
struct QuantizedModel {
  QuantPlan plan;
  WeightSet weights;
};
QuantizedModel quantize_model(const WeightSet& dense, const PlanOptions& options);

}  // namespace segq
