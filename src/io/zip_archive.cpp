#include "io/zip_archive.h"

#include <zip.h>

#include <cstring>
#include <mutex>
#include <unordered_map>

#include "core/error.h"

namespace segq {

namespace {

std::string zip_error_text(int code) {
  zip_error_t err;
  zip_error_init_with_code(&err, code);
  std::string text = zip_error_strerror(&err);
  zip_error_fini(&err);
  return text;
}

std::string file_error_text(zip_file_t* file) {
  zip_error_t* err = zip_file_get_error(file);
  if (zip_error_code_zip(err) == ZIP_ER_CRC) {
    return "CRC-32 mismatch: the member's data is corrupt";
  }
  return zip_error_strerror(err);
}

}  // namespace

struct ZipArchive::Impl {
  std::string path;
  zip_t* archive = nullptr;
  std::vector<ZipEntry> entries;
  std::unordered_map<std::string_view, size_t> by_name;  // views into entries[i].name
  mutable std::mutex mutex;                              // serializes every libzip call

  ~Impl() {
    if (archive) zip_discard(archive);
  }
};

struct MemberReader::State {
  std::shared_ptr<ZipArchive::Impl> archive;
  ZipEntry entry;
  zip_file_t* file = nullptr;
  uint64_t done = 0;
  bool finished = false;

  ~State() {
    if (file) {
      std::lock_guard<std::mutex> lock(archive->mutex);
      zip_fclose(file);
    }
  }
  std::string where() const { return str_cat(archive->path, ": member '", entry.name, "': "); }
};

ZipArchive::ZipArchive(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

ZipArchive ZipArchive::open(const std::string& path) {
  auto impl = std::make_shared<Impl>();
  impl->path = path;
  int code = 0;
  impl->archive = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (!impl->archive) {
    switch (code) {
      case ZIP_ER_NOENT:
        throw Error(str_cat(path, ": zip archive not found"));
      case ZIP_ER_NOZIP:
        throw Error(str_cat(path, ": not a zip archive (no end of central directory record)"));
      case ZIP_ER_INCONS:
        throw Error(
            str_cat(path, ": corrupt or truncated zip archive (", zip_error_text(code), ")"));
      default:
        throw Error(str_cat(path, ": cannot open zip archive: ", zip_error_text(code)));
    }
  }
  const zip_int64_t n = zip_get_num_entries(impl->archive, 0);
  if (n < 0) throw Error(str_cat(path, ": cannot list the zip archive"));
  impl->entries.reserve(static_cast<size_t>(n));
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(impl->archive, static_cast<zip_uint64_t>(i), 0, &st) != 0) {
      throw Error(str_cat(path, ": corrupt zip archive: cannot read entry ", i, ": ",
                          zip_strerror(impl->archive)));
    }
    const zip_uint64_t need = ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE;
    if ((st.valid & need) != need || st.name == nullptr) {
      throw Error(str_cat(path, ": corrupt zip archive: entry ", i, " lacks a name or sizes"));
    }
    ZipEntry e;
    e.name = st.name;
    e.index = static_cast<uint64_t>(i);
    e.size = st.size;
    e.compressed_size = st.comp_size;
    e.crc32 = (st.valid & ZIP_STAT_CRC) ? st.crc : 0;
    e.stored = (st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_STORE;
    impl->entries.push_back(std::move(e));
  }
  for (size_t i = 0; i < impl->entries.size(); ++i) {
    const auto [it, inserted] = impl->by_name.emplace(impl->entries[i].name, i);
    if (!inserted) {
      throw Error(str_cat(path, ": corrupt zip archive: member '", impl->entries[i].name,
                          "' appears twice"));
    }
  }
  return ZipArchive(std::move(impl));
}

const std::string& ZipArchive::path() const { return impl_->path; }
const std::vector<ZipEntry>& ZipArchive::entries() const { return impl_->entries; }

const ZipEntry* ZipArchive::find(std::string_view name) const {
  const auto it = impl_->by_name.find(name);
  return it == impl_->by_name.end() ? nullptr : &impl_->entries[it->second];
}

const ZipEntry& ZipArchive::at(std::string_view name) const {
  const ZipEntry* e = find(name);
  if (!e) throw Error(str_cat(impl_->path, ": zip archive has no member '", name, "'"));
  return *e;
}

MemberReader ZipArchive::open_member(const ZipEntry& entry) const {
  auto state = std::make_unique<MemberReader::State>();
  state->archive = impl_;
  state->entry = entry;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  state->file = zip_fopen_index(impl_->archive, entry.index, 0);
  if (!state->file) {
    const int code = zip_error_code_zip(zip_get_error(impl_->archive));
    std::string why = zip_strerror(impl_->archive);
    if (code == ZIP_ER_NOPASSWD || code == ZIP_ER_ENCRNOTSUPP)
      why = "encrypted members are not supported";
    if (code == ZIP_ER_COMPNOTSUPP) why = "unsupported compression method";
    throw Error(str_cat(state->where(), "cannot open: ", why));
  }
  return MemberReader(std::move(state));
}

void ZipArchive::read_into(const ZipEntry& entry, void* out, size_t out_bytes) const {
  if (out_bytes != entry.size) {
    throw Error(str_cat(impl_->path, ": member '", entry.name, "': holds ", entry.size,
                        " bytes, expected ", out_bytes));
  }
  MemberReader reader = open_member(entry);
  uint8_t* dst = static_cast<uint8_t*>(out);
  size_t done = 0;
  while (done < out_bytes) {
    const size_t got = reader.read(dst + done, out_bytes - done);
    done += got;  // got == 0 cannot happen here: read() throws when data ends early
  }
  uint8_t extra;
  // Reading past the last byte makes libzip check the CRC and reports any surplus bytes.
  if (reader.read(&extra, 1) != 0) {
    throw Error(str_cat(impl_->path, ": member '", entry.name, "': longer than its declared ",
                        entry.size, " bytes"));
  }
}

std::string ZipArchive::read(const ZipEntry& entry, uint64_t max_bytes) const {
  if (entry.size > max_bytes) {
    throw Error(str_cat(impl_->path, ": member '", entry.name, "' declares ", entry.size,
                        " bytes, more than the limit of ", max_bytes));
  }
  std::string out(static_cast<size_t>(entry.size), '\0');
  read_into(entry, out.data(), out.size());
  return out;
}

std::string ZipArchive::read(std::string_view name, uint64_t max_bytes) const {
  return read(at(name), max_bytes);
}

MemberReader::MemberReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
MemberReader::~MemberReader() = default;
MemberReader::MemberReader(MemberReader&&) noexcept = default;
MemberReader& MemberReader::operator=(MemberReader&&) noexcept = default;

uint64_t MemberReader::bytes_read() const { return state_->done; }
const ZipEntry& MemberReader::entry() const { return state_->entry; }

size_t MemberReader::read(void* buffer, size_t capacity) {
  State& s = *state_;
  if (s.finished || capacity == 0) return 0;
  zip_int64_t got;
  {
    std::lock_guard<std::mutex> lock(s.archive->mutex);
    got = zip_fread(s.file, buffer, capacity);
    if (got < 0) throw Error(str_cat(s.where(), file_error_text(s.file)));
  }
  if (got == 0) {
    if (s.done != s.entry.size) {
      throw Error(str_cat(s.where(), "data ends after ", s.done, " of ", s.entry.size,
                          " bytes (truncated archive)"));
    }
    s.finished = true;
    return 0;
  }
  s.done += static_cast<uint64_t>(got);
  if (s.done > s.entry.size) {
    throw Error(str_cat(s.where(), "longer than its declared ", s.entry.size, " bytes"));
  }
  return static_cast<size_t>(got);
}

}  // namespace segq
