// W&B transaction-log framing: the spec's test vectors (shared/spec/tracking.md), the CRC
// definition, the record encoding, and write/read round trips at every block-boundary case.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "track/wandb_log.h"
#include "track/wandb_records.pb.h"

namespace segq::track {
namespace {

constexpr size_t kBlock = kWandbLogBlockBytes;

std::string log_of(const std::vector<size_t>& payload_sizes) {
  std::string log = wandb_log_file_header();
  char fill = 'a';
  for (size_t n : payload_sizes) {
    wandb_log_append(log, std::string(n, fill));
    fill = fill == 'z' ? 'a' : static_cast<char>(fill + 1);
  }
  return log;
}

struct Chunk {
  size_t offset;
  uint16_t length;
  int type;
};

// Walks the chunk headers of a log the way a reader does (padding skipped).
std::vector<Chunk> chunks_of(const std::string& log) {
  std::vector<Chunk> out;
  size_t pos = kWandbLogFileHeaderBytes;
  while (pos < log.size()) {
    const size_t space = kBlock - pos % kBlock;
    if (space < kWandbLogChunkHeaderBytes) {
      pos += space;
      continue;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(log.data() + pos);
    Chunk c{pos, static_cast<uint16_t>(p[4] | p[5] << 8), p[6]};
    out.push_back(c);
    pos += kWandbLogChunkHeaderBytes + c.length;
  }
  return out;
}

TEST(WandbLog, FileHeaderBytes) {
  const std::string h = wandb_log_file_header();
  ASSERT_EQ(h.size(), 7u);
  EXPECT_EQ(h, std::string(":W&B\xE1\xBE\x00", 7));
}

TEST(WandbLog, ChecksumIsPlainCrc32OverTypeThenPayload) {
  // CRC-32/IEEE check value: crc32("123456789") = 0xCBF43926. With the type byte '1' leading,
  // the chunk CRC of "23456789" must be exactly that (no masking, not CRC-32C).
  EXPECT_EQ(wandb_chunk_crc(static_cast<WandbChunkType>('1'), "23456789"), 0xCBF43926u);
  // And the stored checksum of a FULL chunk is that function of type 1 and the payload.
  std::string log = wandb_log_file_header();
  wandb_log_append(log, "abc");
  const auto* p = reinterpret_cast<const unsigned char*>(log.data() + 7);
  const uint32_t stored = p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24;
  EXPECT_EQ(stored, wandb_chunk_crc(WandbChunkType::kFull, "abc"));
  EXPECT_EQ(log.substr(11), std::string("\x03\x00\x01", 3) + "abc");
}

TEST(WandbLog, RecordEncodingMatchesSpec) {
  segq::wandb::Record r;
  r.mutable_run()->set_run_id("abc");
  std::string bytes;
  ASSERT_TRUE(r.SerializeToString(&bytes));
  EXPECT_EQ(bytes, std::string("\x8a\x01\x05\x0a\x03"
                               "abc",
                               8));
}

TEST(WandbLog, SpecVectorOneRecordFillingBlockZero) {
  const std::string log = log_of({32754});
  EXPECT_EQ(log.size(), 32768u);
  const auto c = chunks_of(log);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, 1);
}

TEST(WandbLog, SpecVectorOneByteMoreSplitsFirstLast) {
  const std::string log = log_of({32755});
  EXPECT_EQ(log.size(), 32776u);
  const auto c = chunks_of(log);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].type, 2);
  EXPECT_EQ(c[0].length, 32754);
  EXPECT_EQ(c[1].type, 4);
  EXPECT_EQ(c[1].length, 1);
  EXPECT_EQ(c[1].offset, 32768u);
}

TEST(WandbLog, SpecVectorSixByteTailIsZeroPadded) {
  // 7 + 7 + 32748 = 32762: 6 bytes left, too few for a chunk header.
  const std::string one = log_of({32748});
  EXPECT_EQ(one.size(), 32768u) << "the tail must be padded right after the record";
  EXPECT_EQ(one.substr(32762), std::string(6, '\0'));
  const std::string log = log_of({32748, 1});
  EXPECT_EQ(log.size(), 32776u);
  const auto c = chunks_of(log);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[1].offset, 32768u);
  EXPECT_EQ(c[1].type, 1);
}

TEST(WandbLog, SpecVectorSevenByteTailGetsEmptyFirstChunk) {
  // 7 + 7 + 32747 = 32761: exactly 7 bytes left, room for a chunk header only.
  const std::string log = log_of({32747, 1});
  EXPECT_EQ(log.size(), 32776u);
  const auto c = chunks_of(log);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[1].type, 2);
  EXPECT_EQ(c[1].length, 0);
  EXPECT_EQ(c[1].offset, 32761u);
  EXPECT_EQ(c[2].type, 4);
  EXPECT_EQ(c[2].length, 1);
}

TEST(WandbLog, LargeRecordUsesMiddleChunks) {
  const std::string log = log_of({70000});
  const auto c = chunks_of(log);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].type, 2);
  EXPECT_EQ(c[0].length, 32754);
  EXPECT_EQ(c[1].type, 3);
  EXPECT_EQ(c[1].length, 32761);
  EXPECT_EQ(c[2].type, 4);
  EXPECT_EQ(c[2].length, 70000 - 32754 - 32761);
  EXPECT_EQ(log.size(), 7 + 70000 + 3 * 7u);
}

TEST(WandbLog, RoundTripAtEveryBoundaryCase) {
  // Records ending 0..8 bytes before a block boundary, then one more record of each size class.
  for (size_t before = 0; before <= 8; ++before) {
    for (size_t next : {0u, 1u, 100u, 32761u, 32762u, 70000u}) {
      const size_t first = kBlock - 7 - 7 - before;
      const std::vector<size_t> sizes = {first, next, 5};
      const std::string log = log_of(sizes);
      const auto records = wandb_log_read(log, "mem");
      ASSERT_EQ(records.size(), sizes.size()) << before << " " << next;
      for (size_t i = 0; i < sizes.size(); ++i) {
        EXPECT_EQ(records[i].payload.size(), sizes[i]);
      }
      EXPECT_EQ(records.back().end, log.size());
    }
  }
}

TEST(WandbLog, RandomRecordsRoundTripAndEveryRecordEndIsAValidFileEnd) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> size_of(0, 40000);
  std::string log = wandb_log_file_header();
  std::vector<std::string> payloads;
  for (int i = 0; i < 60; ++i) {
    std::string p(size_of(rng), '\0');
    for (char& ch : p) ch = static_cast<char>(rng());
    payloads.push_back(p);
    wandb_log_append(log, p);
    // A reader (strict: no torn tail allowed) accepts the file as it is after every record.
    const auto records = wandb_log_read(log, "mem");
    ASSERT_EQ(records.size(), payloads.size());
    EXPECT_EQ(records.back().payload, p);
  }
}

TEST(WandbLog, ReaderRejectsCorruption) {
  std::string log = log_of({10, 20});
  std::string bad_crc = log;
  bad_crc[7 + 7 + 3] ^= 1;
  EXPECT_THROW(wandb_log_read(bad_crc, "mem"), Error);
  std::string bad_header = log;
  bad_header[0] = 'X';
  EXPECT_THROW(wandb_log_read(bad_header, "mem"), Error);
  const std::string torn = log.substr(0, log.size() - 3);
  EXPECT_THROW(wandb_log_read(torn, "mem"), Error);
  const auto kept = wandb_log_read(torn, "mem", /*allow_torn_tail=*/true);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].payload, std::string(10, 'a'));
  // A record cut after its FIRST chunk.
  const std::string big = log_of({5, 40000});
  EXPECT_EQ(wandb_log_read(big.substr(0, kBlock), "mem", true).size(), 1u);
}

TEST(WandbLog, AppendRefusesAMisalignedLog) {
  std::string log = "short";
  EXPECT_THROW(wandb_log_append(log, "x"), Error);
}

}  // namespace
}  // namespace segq::track
