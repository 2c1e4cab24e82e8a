// Read-only view of a whole file through mmap (private, copy-on-write, so a stray write cannot
// corrupt the file). Shared ownership keeps the mapping alive for tensors that borrow from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace segq {

class MappedFile {
 public:
  // Throws segq::Error naming the file when it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint8_t* mutable_data() { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace segq
