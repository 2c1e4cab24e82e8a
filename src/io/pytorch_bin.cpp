#include "io/pytorch_bin.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "io/torch_pickle.h"
#include "io/zip_archive.h"

namespace segq {

namespace {

constexpr uint64_t kMaxPickleBytes = uint64_t{1} << 30;

// First bytes of the file, to tell a zip from the legacy formats before libzip complains.
std::string read_magic(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(str_cat(path, ": cannot open: ", std::strerror(errno)));
  char buf[4] = {0, 0, 0, 0};
  const size_t n = std::fread(buf, 1, 4, f);
  std::fclose(f);
  return std::string(buf, n);
}

}  // namespace

PytorchBinFile read_pytorch_bin(const std::string& path) {
  const std::string magic = read_magic(path);
  if (magic.size() >= 2 && static_cast<uint8_t>(magic[0]) == 0x80) {
    throw Error(str_cat(path,
                        ": legacy (pre-1.6, non-zip) torch.save format is not supported; "
                        "re-save it with a recent torch or convert it to safetensors"));
  }
  if (magic != std::string("PK\x03\x04", 4) && magic != std::string("PK\x05\x06", 4)) {
    throw Error(str_cat(path,
                        ": not a PyTorch checkpoint (expected a zip archive written by "
                        "torch.save)"));
  }
  const ZipArchive zip = ZipArchive::open(path);

  // The single top-level folder name is free (torch uses the file stem); find it via data.pkl.
  std::string prefix;
  for (const ZipEntry& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      if (!prefix.empty()) throw Error(str_cat(path, ": more than one data.pkl in the archive"));
      prefix = e.name.substr(0, slash + 1);
    }
  }
  if (prefix.empty()) {
    throw Error(
        str_cat(path, ": zip archive has no <name>/data.pkl (not a torch.save checkpoint)"));
  }
  if (const ZipEntry* order = zip.find(prefix + "byteorder")) {
    const std::string text = zip.read(*order, 16);
    if (text != "little") {
      throw Error(str_cat(path, ": storages are stored with byteorder '", text,
                          "'; only little-endian checkpoints are supported"));
    }
  }
  const std::string pickle = zip.read(prefix + "data.pkl", kMaxPickleBytes);

  const TorchStorageLoader load = [&](const std::string& key, DType dtype, uint64_t numel) {
    const std::string member = prefix + "data/" + key;
    const ZipEntry* e = zip.find(member);
    if (!e) {
      throw Error(str_cat(path, ": storage '", key, "' is missing (no member '", member, "')"));
    }
    const uint64_t want = numel * dtype_size(dtype);
    if (e->size != want) {
      throw Error(str_cat(path, ": storage '", key, "' has ", e->size,
                          " bytes, but the pickle says ", numel, " x ", dtype_name(dtype), " = ",
                          want, " bytes"));
    }
    Tensor t = Tensor::empty(dtype, {static_cast<int64_t>(numel)});
    zip.read_into(*e, t.raw(), t.nbytes());
    return t;
  };
  PytorchBinFile out;
  out.path = path;
  out.tensors = unpickle_torch_state_dict(pickle, load, path + ": data.pkl");
  return out;
}

}  // namespace segq
