// segq: command-line entry point. Exit codes: 0 success, 1 failure during a run (partial results
// kept), 2 usage error.
#include <algorithm>
#include <cstdio>

#include "cli/command.h"
#include "core/error.h"
#include "core/log.h"

namespace segq::cli {

std::vector<CommandSpec>& command_registry() {
  static std::vector<CommandSpec> registry;
  return registry;
}

}  // namespace segq::cli

int main(int argc, char** argv) {
  using namespace segq;
  CLI::App app{
      "segq: what quantization does to SegFormer segmentation models — accuracy on Scene Parse 150 "
      "/ ADE20K, stored size and speed, for fp8, int8, int4, int2 and better methods than "
      "rounding."};
  app.set_version_flag("--version", std::string("segq ") + SEGQ_VERSION);
  app.require_subcommand(0, 1);
  app.fallthrough(false);

  int exit_code = 0;
  auto& registry = cli::command_registry();
  std::stable_sort(registry.begin(), registry.end(),
                   [](const auto& a, const auto& b) { return a.order < b.order; });
  for (auto& spec : registry) spec.setup(app, &exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const UsageError& e) {
    log_error(e.what());
    return 2;
  } catch (const Interrupted& e) {
    log_error(e.what());
    return 130;
  } catch (const Error& e) {
    log_error(e.what());
    return 1;
  } catch (const std::exception& e) {
    log_error(e.what());
    return 1;
  }
  if (app.get_subcommands().empty()) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  return exit_code;
}
