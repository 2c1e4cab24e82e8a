// Read-only zip archives through libzip: list members, find one by name, read it whole or stream
// it. Used for pytorch_model.bin (a zip written by torch.save) and for datasets read in place
// (ADEChallengeData2016.zip).
//
// Threads: one ZipArchive may be shared by any number of threads. libzip allows one thread at a
// time per zip_t, so every libzip call on an archive is serialized by that archive's mutex (a
// MemberReader locks it only for the duration of each read() call, so many readers may be open at
// once, also in one thread). For parallel decompression, open one ZipArchive per thread: opening
// costs one pass over the central directory.
//
// Errors name the archive and the member: corrupt or truncated archive, unknown member, CRC
// mismatch, size mismatch, member larger than the caller's limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segq {

struct ZipEntry {
  std::string name;              // path inside the archive, '/'-separated
  uint64_t index = 0;            // libzip index
  uint64_t size = 0;             // uncompressed bytes (from the central directory)
  uint64_t compressed_size = 0;  // stored bytes
  uint32_t crc32 = 0;
  bool stored = false;  // compression method "store" (no compression)
  bool is_directory() const { return !name.empty() && name.back() == '/'; }
};

class ZipArchive;

// Sequential reader of one member. Reaching the end verifies the CRC-32 and the size.
class MemberReader {
 public:
  ~MemberReader();
  MemberReader(const MemberReader&) = delete;
  MemberReader& operator=(const MemberReader&) = delete;
  MemberReader(MemberReader&&) noexcept;
  MemberReader& operator=(MemberReader&&) noexcept;

  // Reads up to `capacity` bytes; returns 0 only at the end of the member (after verification).
  size_t read(void* buffer, size_t capacity);
  uint64_t bytes_read() const;
  const ZipEntry& entry() const;

 private:
  friend class ZipArchive;
  struct State;
  explicit MemberReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class ZipArchive {
 public:
  // Opens and indexes the central directory. Throws segq::Error naming the file when it is missing,
  // not a zip archive, or inconsistent.
  static ZipArchive open(const std::string& path);

  const std::string& path() const;
  const std::vector<ZipEntry>& entries() const;  // in central-directory order
  // nullptr when no member has exactly this name.
  const ZipEntry* find(std::string_view name) const;
  // Like find, but throws naming the archive and the member.
  const ZipEntry& at(std::string_view name) const;

  // The whole member in memory. Throws when it is larger than max_bytes (guards against a forged
  // size), on a CRC mismatch, or when the data ends early.
  std::string read(const ZipEntry& entry, uint64_t max_bytes = uint64_t{1} << 32) const;
  std::string read(std::string_view name, uint64_t max_bytes = uint64_t{1} << 32) const;
  // Reads the member into `out`, which must hold exactly entry.size bytes.
  void read_into(const ZipEntry& entry, void* out, size_t out_bytes) const;

  MemberReader open_member(const ZipEntry& entry) const;

 private:
  friend class MemberReader;
  struct Impl;
  explicit ZipArchive(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace segq
