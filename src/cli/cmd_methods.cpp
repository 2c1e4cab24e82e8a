// segq methods [--json]: the quantization method grammar and a catalog of representative methods.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "quant/method.h"

namespace segq::cli {
namespace {

void run_methods(bool json) {
  const std::vector<MethodInfo> catalog = method_catalog();
  if (json) {
    nlohmann::json j = nlohmann::json::array();
    for (const MethodInfo& m : catalog) {
      std::string why;
      const bool available = method_available(parse_method(m.name), &why);
      j.push_back({{"name", m.name}, {"description", m.description}, {"available", available}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("Quantization methods (--method / --methods, comma-separated):\n\n%s\nExamples:\n",
              method_grammar_text().c_str());
  size_t width = 0;
  for (const MethodInfo& m : catalog) width = std::max(width, m.name.size());
  for (const MethodInfo& m : catalog) {
    std::printf("  %-*s  %s\n", static_cast<int>(width), m.name.c_str(), m.description.c_str());
  }
  std::printf(
      "\nMixed precision: --include/--exclude globs on parameter names and --plan FILE "
      "(JSON {\"glob\": \"method\"}, first match wins). Details: docs/methods.md\n");
}

void setup(CLI::App& app, int* /*exit_code*/) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("methods", "List quantization methods and their grammar");
  cmd->add_flag("--json", *json, "Print the catalog as JSON");
  cmd->callback([json] { run_methods(*json); });
}

}  // namespace

SEGQ_REGISTER_COMMAND("methods", 60, setup);

}  // namespace segq::cli
