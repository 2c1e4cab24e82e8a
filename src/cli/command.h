// Subcommand registry: each cli/cmd_*.cpp registers itself with SEGQ_REGISTER_COMMAND, so adding a
// command touches only its own file. Commands are listed in --help by `order`.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace segq::cli {

struct CommandSpec {
  std::string name;
  int order;
  // Adds the subcommand to `app` and sets its callback. The callback runs the command; it throws
  // segq::UsageError (exit 2) or segq::Error (exit 1) on failure, and may set the exit code.
  std::function<void(CLI::App& app, int* exit_code)> setup;
};

std::vector<CommandSpec>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, int order,
                   std::function<void(CLI::App&, int*)> setup) {
    command_registry().push_back({std::move(name), order, std::move(setup)});
  }
};

}  // namespace segq::cli

#define SEGQ_CONCAT_INNER(a, b) a##b
#define SEGQ_CONCAT(a, b) SEGQ_CONCAT_INNER(a, b)
#define SEGQ_REGISTER_COMMAND(name, order, setup_fn) \
  static ::segq::cli::CommandRegistrar SEGQ_CONCAT(segq_command_, __LINE__)(name, order, setup_fn)
