// Whole-file reads, atomic writes (temporary name + rename, so readers never see a torn file),
// and SHA-256 digests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace segq {

std::string read_file(const std::string& path);  // throws naming the file
// Writes `bytes` to `path` via `path.tmp-<pid>` + fsync + rename; creates parent directories.
void write_file_atomic(const std::string& path, std::string_view bytes);

std::string sha256_hex(const void* data, size_t size);
std::string sha256_hex(std::string_view bytes);
std::string sha256_file_hex(const std::string& path);  // streams the file

}  // namespace segq
