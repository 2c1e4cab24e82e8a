// Resolving and loading a model's files: config.json, optional preprocessor_config.json, and the
// weights, from a local directory, a Hugging Face Hub id or an http(s) URL (see io/hub.h).
//
// Weights, in the order transformers prefers them: model.safetensors, model.safetensors.index.json
// (+ shards), pytorch_model.bin, pytorch_model.bin.index.json (+ shards).
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
  std::string directory;  // local directory holding the files (a Hub snapshot for Hub ids)
  nlohmann::json config;  // config.json
  nlohmann::json preprocessor_config;  // preprocessor_config.json, or null when absent
  // Every tensor of the checkpoint by Hugging Face name, in the checkpoint's own dtype (views into
  // mapped files where possible). Ordered by name.
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::vector<std::string> weight_files;        // the files the tensors came from
  std::map<std::string, std::string> metadata;  // safetensors __metadata__ (merged over shards)

  // SHA-256 (hex) of each weight file, parallel to weight_files. Files in a Hub cache blob named by
  // its sha256 (LFS) take the name instead of being read again.
  std::vector<std::string> weight_file_sha256;
  // Fingerprint of the weights: the file's SHA-256 for a single file (equal to the Hub's LFS oid);
  // for shards, SHA-256 of the lines "<file name> <sha256>\n" in weight_files order.
  std::string weights_sha256;
  std::string format;  // "safetensors" or "pytorch_bin"
  std::string commit;  // Hub commit hash, when the model came from the Hub
};

// Spec: an existing local directory (or a weights file inside one), "org/name[@revision]", or an
// http(s) URL of a weights file with config.json beside it. Throws segq::UsageError when the spec
// names nothing, segq::Error naming the file and the problem otherwise.
ModelFiles load_model_files(const std::string& spec);

// The weight files a shard index (model.safetensors.index.json / pytorch_model.bin.index.json)
// names, sorted and unique; throws naming `index_path` when it is malformed or names a path that
// would leave its directory.
std::vector<std::string> shard_files_from_index(const std::string& index_path);

// Same as sha256_file_hex, but trusts Hub blob names (…/blobs/<64 hex>) and memoizes by
// (path, size, mtime) within the process.
std::string weight_file_sha256(const std::string& path);

}  // namespace segq
