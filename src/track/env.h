// Environment lookup for tracker settings, injectable for tests.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace segq::track {

// Returns the variable's value, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment.
EnvLookup process_env();

}  // namespace segq::track
