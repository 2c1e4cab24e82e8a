#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "io/zip_archive.h"
#include "io_test_util.h"

namespace segq {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_bytes;
using testing::write_zip;
using testing::ZipMember;

std::string pattern(size_t n, int seed) {
  std::string s(n, '\0');
  uint32_t x = 2463534242u + static_cast<uint32_t>(seed);
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x % 7 == 0 ? 'a' : x & 0xFF);  // partly compressible
  }
  return s;
}

std::vector<ZipMember> sample_members() {
  return {{"top/stored.bin", pattern(100000, 1), false},
          {"top/deflated.bin", pattern(70001, 2), true},
          {"top/empty", "", false},
          {"top/sub/", "", false},
          {"top/sub/ü-name.txt", "hello", true}};
}

TEST(ZipArchive, ListsFindsReadsAndStreamsMembers) {
  TempDir dir;
  const std::string path = dir / "a.zip";
  const auto members = sample_members();
  write_zip(path, members);
  const ZipArchive zip = ZipArchive::open(path);
  ASSERT_EQ(zip.entries().size(), members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    const ZipEntry& e = zip.entries()[i];
    EXPECT_EQ(e.name, members[i].name);
    EXPECT_EQ(e.size, members[i].data.size());
    EXPECT_EQ(e.index, i);
    if (!members[i].data.empty()) {
      EXPECT_EQ(e.stored, !members[i].deflate) << e.name;
    }
  }
  EXPECT_TRUE(zip.find("top/sub/")->is_directory());
  EXPECT_EQ(zip.find("nope"), nullptr);
  EXPECT_EQ(zip.find("top/stored.bin")->compressed_size, 100000u);
  EXPECT_LT(zip.find("top/deflated.bin")->compressed_size, 70001u);

  for (const ZipMember& m : members) {
    EXPECT_EQ(zip.read(m.name), m.data) << m.name;
    // Streaming in odd-sized chunks gives the same bytes.
    MemberReader r = zip.open_member(zip.at(m.name));
    std::string streamed;
    char buf[777];
    while (size_t n = r.read(buf, sizeof buf)) streamed.append(buf, n);
    EXPECT_EQ(streamed, m.data) << m.name;
    EXPECT_EQ(r.bytes_read(), m.data.size());
    EXPECT_EQ(r.read(buf, sizeof buf), 0u);  // stays at the end
  }
}

TEST(ZipArchive, ErrorsNameTheArchiveAndTheMember) {
  TempDir dir;
  const std::string path = dir / "a.zip";
  write_zip(path, sample_members());
  const ZipArchive zip = ZipArchive::open(path);
  expect_error([&] { zip.at("missing.txt"); }, {path, "no member 'missing.txt'"});
  expect_error([&] { zip.read("top/stored.bin", 1000); },
               {path, "'top/stored.bin'", "100000 bytes", "limit of 1000"});
  std::string small(3, '\0');
  expect_error([&] { zip.read_into(zip.at("top/sub/ü-name.txt"), small.data(), small.size()); },
               {"holds 5 bytes, expected 3"});

  expect_error([&] { ZipArchive::open(dir / "none.zip"); }, {"none.zip", "not found"});
  write_bytes(dir / "text.zip", "this is not a zip archive at all, just text");
  expect_error([&] { ZipArchive::open(dir / "text.zip"); }, {"text.zip", "not a zip archive"});
}

TEST(ZipArchive, TruncatedArchivesAreRejected) {
  TempDir dir;
  write_zip(dir / "a.zip", sample_members());
  const std::string bytes = testing::read_bytes(dir / "a.zip");
  for (size_t len :
       {size_t{0}, size_t{10}, bytes.size() / 2, bytes.size() - 30, bytes.size() - 1}) {
    const std::string cut = dir / "cut.zip";
    write_bytes(cut, bytes.substr(0, len));
    EXPECT_THROW(
        {
          const ZipArchive z = ZipArchive::open(cut);
          for (const ZipEntry& e : z.entries()) z.read(e);
        },
        Error)
        << "length " << len;
  }
}

// Flips one byte inside a member's data: reading it must fail (CRC or inflate error), naming it.
TEST(ZipArchive, CorruptMemberDataIsDetected) {
  TempDir dir;
  const std::string stored = pattern(5000, 3);
  write_zip(dir / "a.zip", {{"x/stored", stored, false}, {"x/deflated", pattern(5000, 4), true}});
  std::string bytes = testing::read_bytes(dir / "a.zip");
  const size_t at = bytes.find(stored.substr(100, 64));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 10] ^= 0x5A;
  const size_t local2 = bytes.find("x/deflated");  // local header name, data follows
  ASSERT_NE(local2, std::string::npos);
  bytes[local2 + 10 + 200] ^= 0x5A;
  write_bytes(dir / "bad.zip", bytes);
  const ZipArchive zip = ZipArchive::open(dir / "bad.zip");
  expect_error([&] { zip.read("x/stored"); }, {"bad.zip", "'x/stored'", "CRC"});
  expect_error([&] { zip.read("x/deflated"); }, {"bad.zip", "'x/deflated'"});
}

// The central directory claims more bytes than the stored data holds.
TEST(ZipArchive, ForgedSizeIsDetected) {
  TempDir dir;
  write_zip(dir / "a.zip", {{"m", pattern(1000, 5), false}});
  std::string bytes = testing::read_bytes(dir / "a.zip");
  const size_t central = bytes.find("PK\x01\x02");
  ASSERT_NE(central, std::string::npos);
  bytes[central + 24] = static_cast<char>(0xD0);  // uncompressed size 1000 -> 2000 (0x7D0)
  bytes[central + 25] = 0x07;
  write_bytes(dir / "forged.zip", bytes);
  EXPECT_THROW(
      {
        const ZipArchive zip = ZipArchive::open(dir / "forged.zip");
        zip.read("m");
      },
      Error);
}

TEST(ZipArchive, ManyThreadsShareOneArchive) {
  TempDir dir;
  std::vector<ZipMember> members;
  for (int i = 0; i < 16; ++i) {
    members.push_back({"m/" + std::to_string(i), pattern(20000 + 1000 * i, i), i % 2 == 0});
  }
  write_zip(dir / "a.zip", members);
  const ZipArchive zip = ZipArchive::open(dir / "a.zip");
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 4; ++round) {
        for (size_t k = 0; k < members.size(); ++k) {
          const ZipMember& m = members[(k + static_cast<size_t>(t) * 3) % members.size()];
          if (round % 2 == 0) {
            if (zip.read(m.name) != m.data) ++mismatches;
          } else {  // interleave two open readers in one thread
            MemberReader a = zip.open_member(zip.at(m.name));
            MemberReader b = zip.open_member(zip.at(m.name));
            std::string sa, sb;
            char buf[4096];
            size_t n;
            do {
              n = a.read(buf, sizeof buf);
              sa.append(buf, n);
              const size_t nb = b.read(buf, 1000);
              sb.append(buf, nb);
            } while (n > 0);
            while (size_t nb = b.read(buf, sizeof buf)) sb.append(buf, nb);
            if (sa != m.data || sb != m.data) ++mismatches;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace segq
