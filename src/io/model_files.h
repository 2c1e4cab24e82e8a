// Resolving and loading a model's files: config.json, optional preprocessor_config.json, and the
// weights, from a local directory (later also a Hub id or URL, see io/hub.h).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace segq {

struct ModelFiles {
  std::string spec;       // what the user gave (directory, hub id, URL)
  std::string directory;  // local directory holding the files
  nlohmann::json config;  // config.json
  nlohmann::json preprocessor_config;  // preprocessor_config.json, or null when absent
  // Every tensor of the checkpoint by Hugging Face name, in the checkpoint's own dtype (views into
  // mapped files where possible). Ordered by name.
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::vector<std::string> weight_files;  // the files the tensors came from
  std::map<std::string, std::string> metadata;  // safetensors __metadata__ (merged over shards)
};

// Loads from a local directory. Throws segq::Error naming the file and problem.
ModelFiles load_model_files(const std::string& spec);

}  // namespace segq
