#include "eval/method.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace segq {

EvalMethod fp32_method() {
  EvalMethod m;
  m.name = "fp32";
  m.spec = "fp32";
  m.make_weights = [](const WeightSet& fp32) { return fp32; };
  return m;
}

EvalMethod resolve_builtin_method(const std::string& name) {
  if (name == "fp32") return fp32_method();
  throw UsageError(str_cat("unknown method '", name,
                           "' (this build knows: fp32; quantization methods come from the "
                           "quantization layer)"));
}

std::vector<EvalMethod> resolve_methods(const std::string& comma_list,
                                        const MethodResolver& resolver) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= comma_list.size()) {
    size_t end = comma_list.find(',', start);
    if (end == std::string::npos) end = comma_list.size();
    std::string n = comma_list.substr(start, end - start);
    n.erase(0, n.find_first_not_of(" \t"));
    n.erase(n.find_last_not_of(" \t") + 1);
    if (!n.empty()) names.push_back(n);
    start = end + 1;
  }
  std::vector<EvalMethod> out;
  out.push_back(resolver("fp32"));
  std::set<std::string> names_seen = {"fp32"}, specs_seen = {out.front().spec};
  for (const std::string& n : names) {
    if (!names_seen.insert(n).second) continue;
    EvalMethod m = resolver(n);
    SEGQ_CHECK(m.make_weights != nullptr, "method '", n, "' has no weight transform");
    if (!specs_seen.insert(m.spec).second) continue;  // another spelling of a listed method
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace segq
