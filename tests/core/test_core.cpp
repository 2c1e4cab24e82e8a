#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <numeric>

#include "core/half.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace segq {
namespace {

TEST(Tensor, EmptyIsAlignedAndShaped) {
  Tensor t = Tensor::empty(DType::F32, {3, 5, 7});
  EXPECT_EQ(t.numel(), 105);
  EXPECT_EQ(t.nbytes(), 420u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % kTensorAlignment, 0u);
  EXPECT_EQ(t.dim(-1), 7);
  EXPECT_THROW(t.data<int64_t>(), Error);
  EXPECT_THROW(t.reshape({4, 4}), Error);
  EXPECT_EQ(t.reshape({15, 7}).raw(), t.raw());
}

TEST(Half, F16RoundTripsEveryCode) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_f16(f), h) << std::hex << h;
  }
}

TEST(Half, F16RoundsToNearestEven) {
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 0x1p-11f)), 1.0f);              // tie -> even
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 3 * 0x1p-11f)), 1.0f + 0x1p-9f);  // tie -> even (up)
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);                               // overflow -> inf
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(0x1p-25f), 0);                                    // tie -> 0
  EXPECT_EQ(f32_to_f16(0x1.8p-25f), 1);
  EXPECT_EQ(f32_to_f16(-0x1p-24f), 0x8001);
}

TEST(Half, Bf16) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3F808000u)), 0x3F80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3F818000u)), 0x3F82);
}

TEST(ThreadPool, CoversRangeOnceAndPropagatesErrors) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(1000, 7, ThreadPool::RangeFn([&](int64_t b, int64_t e, int tid) {
    EXPECT_GE(tid, 0);
    EXPECT_LT(tid, 3);
    for (int64_t i = b; i < e; ++i) hits[i]++;
  }));
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  EXPECT_THROW(pool.parallel_for(100, 1,
                                 [](int64_t b, int64_t e) {
                                   if (b <= 50 && 50 < e) throw Error("boom");
                                 }),
               Error);
  // Still usable after an error, and nested calls run serially.
  std::atomic<int64_t> sum = 0;
  pool.parallel_for(10, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      pool.parallel_for(10, 1, [&](int64_t b2, int64_t e2) { sum += (e2 - b2) * i; });
    }
  });
  EXPECT_EQ(sum.load(), 450);
}

}  // namespace
}  // namespace segq
