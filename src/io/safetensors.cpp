#include "io/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

#include "io/file_util.h"
#include "io/mapped_file.h"

namespace segq {

using nlohmann::json;

namespace {

uint64_t read_le_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  SafetensorsFile out;
  out.path = path;
  out.mapping = MappedFile::open(path);
  const uint8_t* base = out.mapping->data();
  const uint64_t file_size = out.mapping->size();
  if (file_size < 8) {
    throw Error(str_cat(path, ": truncated safetensors file (", file_size,
                        " bytes; the 8-byte header length is missing)"));
  }
  const uint64_t n = read_le_u64(base);
  if (n > kSafetensorsMaxHeaderBytes) {
    throw Error(str_cat(path, ": safetensors header length ", n, " exceeds the limit of ",
                        kSafetensorsMaxHeaderBytes, " bytes (not a safetensors file?)"));
  }
  if (8 + n > file_size) {
    throw Error(str_cat(path, ": truncated safetensors file: header says ", n,
                        " bytes of JSON but the file has ", file_size, " bytes"));
  }
  out.header_bytes = 8 + n;
  json header;
  try {
    // nlohmann keeps the last of repeated keys; the reference rejects them, so do we.
    std::vector<std::string> names;
    const json::parser_callback_t note_names = [&](int depth, json::parse_event_t event,
                                                   json& parsed) {
      if (depth == 1 && event == json::parse_event_t::key)
        names.push_back(parsed.get<std::string>());
      return true;
    };
    header = json::parse(base + 8, base + 8 + n, note_names);
    std::sort(names.begin(), names.end());
    const auto dup = std::adjacent_find(names.begin(), names.end());
    if (dup != names.end()) {
      throw Error(str_cat(path, ": safetensors header names tensor '", *dup, "' twice"));
    }
  } catch (const json::exception& e) {
    throw Error(str_cat(path, ": safetensors header is not valid JSON: ", e.what()));
  }
  if (!header.is_object()) throw Error(str_cat(path, ": safetensors header is not a JSON object"));

  const uint64_t data_size = file_size - 8 - n;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error(str_cat(path, ": __metadata__ must be an object of strings"));
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) {
          throw Error(str_cat(path, ": __metadata__ value of '", m.key(), "' is not a string"));
        }
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = str_cat(path, ": tensor '", name, "': ");
    if (!v.is_object()) throw Error(where + "entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) throw Error(where + "missing dtype");
    Entry e;
    e.name = name;
    const std::string dt = v["dtype"].get<std::string>();
    if (!dtype_from_name(dt, &e.dtype)) throw Error(where + "unknown dtype '" + dt + "'");
    if (!v.contains("shape") || !v["shape"].is_array()) throw Error(where + "missing shape");
    uint64_t numel = 1;
    for (const json& d : v["shape"]) {
      if (!d.is_number_unsigned()) {
        throw Error(where + "shape entries must be non-negative integers, got " +
                    v["shape"].dump());
      }
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (uint64_t{1} << 62) / dim) throw Error(where + "shape too large");
      numel *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    const json& off = v.contains("data_offsets") ? v["data_offsets"] : json();
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned()) {
      throw Error(where + "data_offsets must be [begin, end] with non-negative integers");
    }
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end)
      throw Error(str_cat(where, "data_offsets [", e.begin, ", ", e.end, "] are reversed"));
    if (e.end > data_size) {
      throw Error(str_cat(where, "data_offsets [", e.begin, ", ", e.end,
                          "] lie outside the data buffer of ", data_size,
                          " bytes (truncated file or corrupt header)"));
    }
    const uint64_t want = numel * dtype_size(e.dtype);
    if (e.end - e.begin != want) {
      throw Error(str_cat(where, "dtype ", dt, " x shape ", shape_str(e.shape), " = ", want,
                          " bytes, but data_offsets span ", e.end - e.begin, " bytes"));
    }
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t cursor = 0;
  for (const Entry& e : entries) {
    if (e.begin < cursor) {
      throw Error(str_cat(path, ": tensor '", e.name, "' overlaps the previous tensor (offset ",
                          e.begin, " < ", cursor, ")"));
    }
    if (e.begin > cursor) {
      throw Error(str_cat(path, ": gap in the data buffer before tensor '", e.name, "' (bytes ",
                          cursor, "..", e.begin, " belong to no tensor)"));
    }
    cursor = e.end;
  }
  if (cursor != data_size) {
    throw Error(str_cat(path, ": data buffer has ", data_size, " bytes but tensors cover ", cursor,
                        " (trailing bytes)"));
  }
  uint8_t* data = out.mapping->mutable_data() + 8 + n;
  std::shared_ptr<void> keep(out.mapping, out.mapping.get());
  for (const Entry& e : entries) {
    Tensor t = Tensor::borrow(e.dtype, e.shape, data + e.begin, keep);
    // The format does not align tensors: after an odd-length 1- or 2-byte tensor, a wider one
    // starts misaligned (the reference writer avoids it by sorting, other writers need not).
    // Kernels read elements directly, so such a tensor gets an aligned owned copy.
    if (reinterpret_cast<uintptr_t>(data + e.begin) % dtype_size(e.dtype) != 0) t = t.clone();
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    SEGQ_CHECK(name != "__metadata__", path, ": '__metadata__' is reserved, not a tensor name");
    SEGQ_CHECK(!header.contains(name), path, ": duplicate tensor name '", name, "'");
    SEGQ_CHECK(t.nbytes() == 0 || t.raw() != nullptr, path, ": tensor '", name, "' has no data");
    json entry;
    entry["dtype"] = std::string(dtype_name(t.dtype()));
    entry["shape"] = t.shape();
    entry["data_offsets"] = {offset, offset + t.nbytes()};
    header[name] = entry;
    offset += t.nbytes();
  }
  std::string text = header.dump();
  // Pad the header with spaces so the data buffer starts 8-byte aligned (as the reference does).
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');
  std::string bytes;
  bytes.reserve(8 + text.size() + offset);
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  bytes += text;
  for (const auto& [name, t] : tensors) {
    bytes.append(static_cast<const char*>(t.raw()), t.nbytes());
  }
  write_file_atomic(path, bytes);
}

}  // namespace segq
