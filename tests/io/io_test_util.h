// Helpers shared by the io tests: temporary directories, raw file writes, zip archives built with
// libzip, a tiny pickle assembler, and error-message assertions.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <zip.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace segq::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/segq-io-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct ZipMember {
  std::string name;
  std::string data;
  bool deflate = false;
};

// Writes a zip archive with libzip (members in order).
inline void write_zip(const std::string& path, const std::vector<ZipMember>& members) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!z) throw std::runtime_error("zip_open for writing failed");
  for (const ZipMember& m : members) {
    zip_source_t* src = zip_source_buffer(z, m.data.data(), m.data.size(), 0);
    const zip_int64_t idx = zip_file_add(z, m.name.c_str(), src, ZIP_FL_ENC_UTF_8);
    if (idx < 0) throw std::runtime_error("zip_file_add failed");
    zip_set_file_compression(z, static_cast<zip_uint64_t>(idx),
                             m.deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  if (zip_close(z) != 0) throw std::runtime_error("zip_close failed");
}

// Assembles pickle opcodes (protocol 2, as torch.save writes them).
class PickleWriter {
 public:
  PickleWriter& proto(uint8_t p = 2) { return op(0x80).byte(p); }
  PickleWriter& op(uint8_t code) { return byte(code); }
  PickleWriter& byte(uint8_t b) {
    out_.push_back(static_cast<char>(b));
    return *this;
  }
  PickleWriter& raw(const std::string& s) {
    out_ += s;
    return *this;
  }
  PickleWriter& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  PickleWriter& str(const std::string& s) {
    op('X');
    le32(static_cast<uint32_t>(s.size()));
    return raw(s);
  }
  PickleWriter& integer(int64_t v) {
    if (v >= 0 && v < 256) return op('K').byte(static_cast<uint8_t>(v));
    if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      return le32(static_cast<uint32_t>(static_cast<int32_t>(v)));
    }
    op(0x8a).byte(8);
    for (int i = 0; i < 8; ++i) byte(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i)));
    return *this;
  }
  PickleWriter& mark() { return op('('); }
  PickleWriter& tuple() { return op('t'); }
  PickleWriter& empty_tuple() { return op(')'); }
  PickleWriter& empty_dict() { return op('}'); }
  PickleWriter& reduce() { return op('R'); }
  PickleWriter& setitems() { return op('u'); }
  PickleWriter& setitem() { return op('s'); }
  PickleWriter& stop() { return op('.'); }
  PickleWriter& newfalse() { return op(0x89); }
  PickleWriter& int_tuple(const std::vector<int64_t>& v) {
    mark();
    for (int64_t x : v) integer(x);
    return tuple();
  }
  // _rebuild_tensor_v2(('storage', torch.<storage_type>, key, 'cpu', numel), offset, size, stride,
  // False, OrderedDict()) as torch.save writes it.
  PickleWriter& tensor(const std::string& storage_type, const std::string& key, int64_t numel,
                       int64_t offset, const std::vector<int64_t>& size,
                       const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2");
    mark();
    mark().str("storage").global("torch", storage_type).str(key).str("cpu").integer(numel).tuple();
    op('Q');
    integer(offset).int_tuple(size).int_tuple(stride).newfalse();
    global("collections", "OrderedDict").empty_tuple().reduce();
    return tuple().reduce();
  }
  const std::string& bytes() const { return out_; }

 private:
  PickleWriter& le32(uint32_t v) {
    for (int i = 0; i < 4; ++i) byte(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  std::string out_;
};

// Expects `fn` to throw segq::Error whose message contains every fragment.
inline void expect_error(const std::function<void()>& fn,
                         const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected an error mentioning '" << (fragments.empty() ? "" : fragments[0])
                  << "'";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const std::string& f : fragments) {
      EXPECT_NE(what.find(f), std::string::npos) << "message lacks '" << f << "': " << what;
    }
  }
}

inline std::string fixture(const std::string& rel) {
  return std::string(SEGQ_SOURCE_DIR) + "/tests/fixtures/" + rel;
}

}  // namespace segq::testing
