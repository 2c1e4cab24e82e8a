// Evaluation methods: a name the user types ("fp32", "int8", "int4-g64-hqq", ...) and the function
// that turns the fp32 weights into the weights the method evaluates. The quantization layer plugs
// its method grammar in through a MethodResolver; this file knows only the fp32 baseline.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "quant/weight.h"

namespace segq {

struct EvalMethod {
  std::string name;  // as the user wrote it, e.g. "int4-g64"
  // The fully resolved description (every parameter spelled out); part of the run fingerprint,
  // so shards and resumed runs must agree on it.
  std::string spec;
  // fp32 weights -> the method's weights (the same map for fp32). May be slow (quantizers).
  std::function<WeightSet(const WeightSet& fp32)> make_weights;
};

// Resolves one method name; throws UsageError for an unknown name or a bad parameter.
using MethodResolver = std::function<EvalMethod(const std::string& name)>;

EvalMethod fp32_method();
// Knows "fp32" only (the quantization layer supplies a resolver for the rest of the grammar).
EvalMethod resolve_builtin_method(const std::string& name);

// Splits "fp32,int8, int4" and resolves each name in order, dropping repeats (same name or same
// resolved spec); the fp32 baseline is always first (added when missing). Throws UsageError naming
// the method and listing what is known.
std::vector<EvalMethod> resolve_methods(const std::string& comma_list,
                                        const MethodResolver& resolver = resolve_builtin_method);

// Builds the model a method runs (the caller binds config.json etc. into it).
using ModelFactory = std::function<std::unique_ptr<Model>(const WeightSet& weights)>;

}  // namespace segq
