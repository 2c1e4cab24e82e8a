#include "track/wandb_log.h"

#include <zlib.h>

#include <algorithm>

#include "core/error.h"

namespace segq::track {

namespace {

void put_u32_le(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u16_le(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>(v >> 8));
}
uint32_t get_u32_le(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

void append_chunk(std::string& log, WandbChunkType type, std::string_view payload) {
  put_u32_le(log, wandb_chunk_crc(type, payload));
  put_u16_le(log, static_cast<uint16_t>(payload.size()));
  log.push_back(static_cast<char>(type));
  log.append(payload);
}

size_t space_left_in_block(size_t offset) {
  return kWandbLogBlockBytes - offset % kWandbLogBlockBytes;
}

}  // namespace

std::string wandb_log_file_header() {
  std::string h = ":W&B";
  put_u16_le(h, 0xBEE1);
  h.push_back('\0');
  return h;
}

uint32_t wandb_chunk_crc(WandbChunkType type, std::string_view payload) {
  const unsigned char type_byte = static_cast<unsigned char>(type);
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, &type_byte, 1);
  // zlib takes uInt lengths; a chunk payload is < 32768 bytes.
  crc =
      crc32(crc, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size()));
  return static_cast<uint32_t>(crc);
}

void wandb_log_append(std::string& log, std::string_view payload) {
  SEGQ_CHECK(log.size() >= kWandbLogFileHeaderBytes &&
                 space_left_in_block(log.size()) >= kWandbLogChunkHeaderBytes,
             "W&B log: append at offset ", log.size(), " is not at a record boundary");
  size_t space = space_left_in_block(log.size());
  if (payload.size() + kWandbLogChunkHeaderBytes <= space) {
    append_chunk(log, WandbChunkType::kFull, payload);
  } else {
    // FIRST fills the rest of this block (possibly with 0 payload bytes), MIDDLEs fill whole
    // blocks, LAST takes the remainder.
    size_t take = space - kWandbLogChunkHeaderBytes;
    append_chunk(log, WandbChunkType::kFirst, payload.substr(0, take));
    payload.remove_prefix(take);
    constexpr size_t kMaxChunkPayload = kWandbLogBlockBytes - kWandbLogChunkHeaderBytes;
    while (payload.size() > kMaxChunkPayload) {
      append_chunk(log, WandbChunkType::kMiddle, payload.substr(0, kMaxChunkPayload));
      payload.remove_prefix(kMaxChunkPayload);
    }
    append_chunk(log, WandbChunkType::kLast, payload);
  }
  space = space_left_in_block(log.size());
  if (space < kWandbLogChunkHeaderBytes) log.append(space, '\0');
}

std::vector<WandbLogRecord> wandb_log_read(std::string_view file, const std::string& what,
                                           bool allow_torn_tail) {
  SEGQ_CHECK(file.size() >= kWandbLogFileHeaderBytes, what, ": not a W&B transaction log (",
             file.size(), " bytes, shorter than its header)");
  SEGQ_CHECK(file.substr(0, kWandbLogFileHeaderBytes) == wandb_log_file_header(), what,
             ": not a W&B transaction log (bad file header; expected \":W&B\", magic 0xBEE1, "
             "version 0)");
  const auto* bytes = reinterpret_cast<const unsigned char*>(file.data());
  std::vector<WandbLogRecord> records;
  size_t pos = kWandbLogFileHeaderBytes;
  WandbLogRecord current;
  bool in_record = false;
  while (true) {
    size_t space = space_left_in_block(pos);
    if (space < kWandbLogChunkHeaderBytes) {
      const size_t pad = std::min(space, file.size() - pos);
      for (size_t i = 0; i < pad; ++i) {
        SEGQ_CHECK(bytes[pos + i] == 0, what, ": non-zero block padding at offset ", pos + i);
      }
      if (pad < space) {  // the file ends inside the padding
        if (in_record || !allow_torn_tail) {
          throw Error(str_cat(what, ": file ends inside block padding at offset ", file.size()));
        }
        break;
      }
      pos += space;
      space = kWandbLogBlockBytes;
      if (!records.empty() && !in_record) records.back().end = pos;
    }
    if (pos == file.size()) {
      if (in_record && !allow_torn_tail) {
        throw Error(str_cat(what, ": file ends inside the record at offset ", current.offset));
      }
      break;
    }
    if (file.size() - pos < kWandbLogChunkHeaderBytes) {
      if (allow_torn_tail) break;
      throw Error(str_cat(what, ": truncated chunk header at offset ", pos));
    }
    const uint32_t crc = get_u32_le(bytes + pos);
    const size_t length = static_cast<size_t>(bytes[pos + 4]) | bytes[pos + 5] << 8;
    const int type = bytes[pos + 6];
    SEGQ_CHECK(length + kWandbLogChunkHeaderBytes <= space, what, ": chunk at offset ", pos,
               " overruns its block (length ", length, ")");
    if (pos + kWandbLogChunkHeaderBytes + length > file.size()) {
      if (allow_torn_tail) break;
      throw Error(str_cat(what, ": truncated chunk at offset ", pos));
    }
    SEGQ_CHECK(type >= 1 && type <= 4, what, ": bad chunk type ", type, " at offset ", pos);
    const std::string_view payload = file.substr(pos + kWandbLogChunkHeaderBytes, length);
    SEGQ_CHECK(crc == wandb_chunk_crc(static_cast<WandbChunkType>(type), payload), what,
               ": checksum mismatch in the chunk at offset ", pos);
    const auto chunk_type = static_cast<WandbChunkType>(type);
    const bool starts = chunk_type == WandbChunkType::kFull || chunk_type == WandbChunkType::kFirst;
    SEGQ_CHECK(starts != in_record, what, ": unexpected chunk type ", type, " at offset ", pos);
    if (starts) {
      current = WandbLogRecord{};
      current.offset = pos;
    }
    current.payload.append(payload);
    pos += kWandbLogChunkHeaderBytes + length;
    in_record = chunk_type == WandbChunkType::kFirst || chunk_type == WandbChunkType::kMiddle;
    if (!in_record) {
      current.end = pos;
      records.push_back(std::move(current));
    }
  }
  return records;
}

}  // namespace segq::track
