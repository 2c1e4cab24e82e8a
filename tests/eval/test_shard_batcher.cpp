// Shard selection (flags and scheduler environments), the streaming batcher, class-index PNGs.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "core/error.h"
#include "data/batcher.h"
#include "data/shard.h"
#include "eval/fakes.h"
#include "eval/index_png.h"
#include "io/file_util.h"

namespace segq {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

TEST(Shard, ParsesFlag) {
  EXPECT_EQ(parse_shard("3/8"), (ShardSpec{3, 8, ""}));
  EXPECT_EQ(parse_shard("0/1"), (ShardSpec{0, 1, ""}));
  for (const char* bad : {"8/8", "-1/4", "1", "a/4", "1/0", "1/4x", "/4", "1/"}) {
    EXPECT_THROW(parse_shard(bad), UsageError) << bad;
  }
}

TEST(Shard, FlagWinsOverEnvironment) {
  const auto env = env_of({{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_COUNT", "8"}});
  EXPECT_EQ(resolve_shard(std::string("1/2"), std::nullopt, env), (ShardSpec{1, 2, ""}));
  EXPECT_THROW(resolve_shard(std::string("1/2"), 3, env), UsageError);
}

TEST(Shard, SlurmArrays) {
  // --array=0-7, task 5
  EXPECT_EQ(resolve_shard(std::nullopt, std::nullopt,
                          env_of({{"SLURM_ARRAY_TASK_ID", "5"},
                                  {"SLURM_ARRAY_TASK_COUNT", "8"},
                                  {"SLURM_ARRAY_TASK_MIN", "0"},
                                  {"SLURM_ARRAY_TASK_MAX", "7"},
                                  {"SLURM_ARRAY_TASK_STEP", "1"}})),
            (ShardSpec{5, 8, ""}));
  // --array=1-4, task 1 -> shard 0
  const ShardSpec s = resolve_shard(std::nullopt, 4,
                                    env_of({{"SLURM_ARRAY_TASK_ID", "1"},
                                            {"SLURM_ARRAY_TASK_COUNT", "4"},
                                            {"SLURM_ARRAY_TASK_MIN", "1"},
                                            {"SLURM_ARRAY_TASK_MAX", "4"}}));
  EXPECT_EQ(s, (ShardSpec{0, 4, ""}));
  EXPECT_EQ(s.source, "slurm");
  // --array=0-14:2 (step 2), --array=1,3,5 (not contiguous), count disagreeing with --num-shards
  EXPECT_THROW(resolve_shard(std::nullopt, std::nullopt,
                             env_of({{"SLURM_ARRAY_TASK_ID", "2"},
                                     {"SLURM_ARRAY_TASK_COUNT", "8"},
                                     {"SLURM_ARRAY_TASK_STEP", "2"}})),
               UsageError);
  EXPECT_THROW(resolve_shard(std::nullopt, std::nullopt,
                             env_of({{"SLURM_ARRAY_TASK_ID", "3"},
                                     {"SLURM_ARRAY_TASK_COUNT", "3"},
                                     {"SLURM_ARRAY_TASK_MIN", "1"},
                                     {"SLURM_ARRAY_TASK_MAX", "5"}})),
               UsageError);
  EXPECT_THROW(
      resolve_shard(std::nullopt, 2,
                    env_of({{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "4"}})),
      UsageError);
  EXPECT_THROW(resolve_shard(std::nullopt, std::nullopt, env_of({{"SLURM_ARRAY_TASK_ID", "0"}})),
               UsageError);
}

TEST(Shard, KubernetesIndexedJobNeedsNumShards) {
  const auto env = env_of({{"JOB_COMPLETION_INDEX", "3"}});
  EXPECT_EQ(resolve_shard(std::nullopt, 4, env), (ShardSpec{3, 4, ""}));
  EXPECT_THROW(resolve_shard(std::nullopt, std::nullopt, env), UsageError);
  EXPECT_THROW(resolve_shard(std::nullopt, 3, env), UsageError);  // index 3 of 3
}

TEST(Shard, RankAndWorldSize) {
  EXPECT_EQ(resolve_shard(std::nullopt, std::nullopt, env_of({{"RANK", "2"}, {"WORLD_SIZE", "3"}})),
            (ShardSpec{2, 3, ""}));
  EXPECT_THROW(resolve_shard(std::nullopt, std::nullopt, env_of({{"RANK", "2"}})), UsageError);
  EXPECT_THROW(
      resolve_shard(std::nullopt, std::nullopt, env_of({{"RANK", "3"}, {"WORLD_SIZE", "3"}})),
      UsageError);
}

TEST(Shard, DefaultIsTheWholeRun) {
  EXPECT_EQ(resolve_shard(std::nullopt, std::nullopt, env_of({})), (ShardSpec{0, 1, ""}));
  EXPECT_EQ(resolve_shard(std::nullopt, 1, env_of({})), (ShardSpec{0, 1, ""}));
  EXPECT_THROW(resolve_shard(std::nullopt, 4, env_of({})), UsageError);
}

TEST(Shard, IndicesPartitionTheSamples) {
  for (size_t n : {0u, 1u, 7u, 100u}) {
    for (int count : {1, 3, 4, 8}) {
      std::vector<int> hits(n, 0);
      for (int i = 0; i < count; ++i) {
        for (size_t k : shard_indices(n, ShardSpec{i, count, ""})) {
          EXPECT_EQ(static_cast<int>(k % count), i);
          ++hits[k];
        }
      }
      for (int h : hits) EXPECT_EQ(h, 1);
    }
  }
  EXPECT_EQ(shard_file_name(ShardSpec{2, 8, ""}), "shard-2-of-8.json");
}

// Collects every batch; checks shapes and same-size grouping.
std::vector<size_t> drain(StreamingBatcher& batcher, int batch_size, int* batches = nullptr) {
  std::vector<size_t> seen;
  while (auto b = batcher.next()) {
    EXPECT_GE(b->samples.size(), 1u);
    EXPECT_LE(static_cast<int>(b->samples.size()), batch_size);
    EXPECT_EQ(b->pixels.dim(0), static_cast<int64_t>(b->samples.size()));
    for (size_t k = 0; k < b->samples.size(); ++k) {
      const PreparedSample& s = b->samples[k];
      const auto [h, w] = fake::input_size(s.index, true);
      EXPECT_EQ(b->pixels.dim(2), h);
      EXPECT_EQ(b->pixels.dim(3), w);
      // The batch holds this sample's pixels.
      const PreparedSample again = fake::prepare(s.index, true);
      EXPECT_EQ(0, std::memcmp(b->pixels.data<float>() + k * 3 * h * w, again.pixels.data<float>(),
                               again.pixels.nbytes()));
      EXPECT_FALSE(s.pixels.defined() && s.pixels.numel() > 0);  // moved into the batch
      seen.push_back(s.index);
    }
    if (batches) ++*batches;
  }
  std::sort(seen.begin(), seen.end());
  return seen;
}

TEST(Batcher, DeliversEverySampleOnceInSameSizeBatches) {
  std::vector<size_t> indices(57);
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = i;
  for (int batch : {1, 3, 8}) {
    for (int workers : {1, 3}) {
      BatcherOptions o;
      o.batch_size = batch;
      o.num_workers = workers;
      StreamingBatcher b(
          indices, [](size_t i) { return fake::prepare(i, true); }, nullptr, o);
      int batches = 0;
      EXPECT_EQ(drain(b, batch, &batches), indices) << batch << " " << workers;
      if (batch == 1) {
        EXPECT_EQ(batches, 57);
      }
    }
  }
}

TEST(Batcher, MemoryStaysBounded) {
  // Samples alive = prepared and not yet released by the consumer; the bound is the queue, one
  // sample per worker in hand, and the partly filled batches.
  std::atomic<int> alive{0}, peak{0};
  std::vector<size_t> indices(300);
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = i;
  BatcherOptions o;
  o.batch_size = 4;
  o.num_workers = 3;
  o.queue_capacity = 5;
  o.max_pending = 6;
  StreamingBatcher b(
      indices,
      [&](size_t i) {
        const int now = ++alive;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        return fake::prepare(i, true);
      },
      nullptr, o);
  size_t total = 0;
  while (auto batch = b.next()) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // a slow consumer
    total += batch->samples.size();
    alive -= static_cast<int>(batch->samples.size());
  }
  EXPECT_EQ(total, indices.size());
  EXPECT_LE(peak.load(), o.queue_capacity + o.num_workers + o.max_pending + o.batch_size);
}

TEST(Batcher, BadSamplesAreSkippedOrFatal) {
  std::vector<size_t> indices(20);
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = i;
  auto prepare = [](size_t i) {
    if (i % 7 == 3) throw Error("img_" + std::to_string(i) + ".jpg: corrupt JPEG");
    return fake::prepare(i, false);
  };
  BatcherOptions o;
  o.batch_size = 4;
  o.skip_bad = true;
  StreamingBatcher b(
      indices, prepare, [](size_t i) { return "id" + std::to_string(i); }, o);
  size_t got = 0;
  while (auto batch = b.next()) got += batch->samples.size();
  std::vector<BadSample> bad = b.take_bad_samples();
  std::sort(bad.begin(), bad.end(), [](auto& x, auto& y) { return x.index < y.index; });
  ASSERT_EQ(bad.size(), 3u);
  EXPECT_EQ(got, 17u);
  EXPECT_EQ(bad[0].id, "id3");
  EXPECT_NE(bad[1].reason.find("img_10.jpg: corrupt JPEG"), std::string::npos);

  // Only what is_bad_sample accepts is skipped (the data layer's per-sample error type).
  o.is_bad_sample = [](const Error& e) {
    return std::string(e.what()).find("img_10.") != std::string::npos;
  };
  StreamingBatcher narrow(indices, prepare, nullptr, o);
  EXPECT_THROW(
      {
        while (narrow.next()) {
        }
      },
      Error);

  o.is_bad_sample = nullptr;
  o.skip_bad = false;
  StreamingBatcher fatal(indices, prepare, nullptr, o);
  try {
    while (fatal.next()) {
    }
    FAIL() << "expected the preparation error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt JPEG"), std::string::npos);
  }
}

TEST(Batcher, StopsEarlyWithoutHanging) {
  std::vector<size_t> indices(1000);
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = i;
  BatcherOptions o;
  o.batch_size = 2;
  o.num_workers = 4;
  auto b = std::make_unique<StreamingBatcher>(
      indices, [](size_t i) { return fake::prepare(i, false); }, nullptr, o);
  ASSERT_TRUE(b->next().has_value());
  b->stop();
  EXPECT_FALSE(b->next().has_value());
  b.reset();  // joins
}

TEST(IndexPng, RoundTripsAndRejectsWhatIsNotAnIndexMap) {
  std::vector<uint8_t> v(37 * 11);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 7 % 256);
  const std::string png = encode_index_png(v.data(), 11, 37);
  const IndexMap m = decode_index_png(png, "x.png");
  EXPECT_EQ(m.height, 11);
  EXPECT_EQ(m.width, 37);
  EXPECT_EQ(m.values, v);
  try {
    decode_index_png(png.substr(0, png.size() / 2), "cut.png");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.png"), std::string::npos) << e.what();
  }
  EXPECT_THROW(decode_index_png("GIF89a....", "g.png"), Error);
}

TEST(IndexPng, ReadsRealAdeAnnotations) {
  const std::string dir =
      std::string(SEGQ_SOURCE_DIR) +
      "/../shared/data/ade20k-sample/ADEChallengeData2016/annotations/validation";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << dir << " not present";
  const IndexMap m = decode_index_png(read_file(dir + "/ADE_val_00000001.png"), "ann");
  EXPECT_EQ(m.width, 683);
  EXPECT_EQ(m.height, 512);
  EXPECT_LE(*std::max_element(m.values.begin(), m.values.end()), 150);
}

}  // namespace
}  // namespace segq
