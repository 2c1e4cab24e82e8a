// safetensors: 8-byte little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the
// data buffer. Reading maps the file and validates the whole header before any tensor is used.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace segq {

class MappedFile;

// Largest header accepted (the reference implementation's bound).
constexpr uint64_t kSafetensorsMaxHeaderBytes = 100u * 1000u * 1000u;

struct SafetensorsFile {
  std::string path;
  // Tensors in file order of their data offsets; each borrows from the mapping (kept alive by it).
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__"
  uint64_t header_bytes = 0;                    // 8 + N
  std::shared_ptr<MappedFile> mapping;
};

// Throws segq::Error naming the file and the tensor or field that is wrong: truncated file, header
// length out of bounds, malformed JSON, unknown dtype, negative/ill-typed shape, offsets outside
// the data buffer, overlapping or non-contiguous ranges, dtype x shape != byte length.
SafetensorsFile read_safetensors(const std::string& path);

// Writes tensors (in the given order) and metadata atomically. Owned or borrowed tensors of any
// dtype.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace segq
