// Runs an external program (the official `wandb sync`) with segq's environment passed through
// unchanged, so its credentials and server settings reach it without segq touching them.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace segq::track {

// Full path of `name` found on PATH (an executable regular file), or nullopt.
std::optional<std::string> find_on_path(const std::string& name);

// Spawns argv[0] (a path) with argv and the current environment, waits, and returns its exit
// status (128 + signal when killed). Throws segq::Error when it cannot be started.
int spawn_and_wait(const std::string& path, const std::vector<std::string>& argv);

}  // namespace segq::track
