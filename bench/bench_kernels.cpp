// Kernel benchmarks on the real SegFormer layer shapes (b0 and b2 at 512x512 input): attention
// and the depthwise 3x3 + GELU (the GEMMs are in gemm_bench.cpp).
//   build/segq_bench --benchmark_filter=attention
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/dwconv.h"
#include "kernels/isa.h"

namespace segq {
namespace {

Tensor random_tensor(Shape shape, uint32_t seed) {
  Tensor t = Tensor::empty(DType::F32, shape);
  float* p = t.data<float>();
  uint32_t s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    p[i] =
        static_cast<float>(static_cast<int32_t>(s >> 8) - (1 << 23)) / static_cast<float>(1 << 23);
  }
  return t;
}

// Attention of one block at 512x512: (tokens, keys, heads, head_dim).
struct AttnShape {
  const char* name;
  int64_t n_q, n_kv, heads, d;
};
const AttnShape kAttnShapes[] = {{"b0/s1", 16384, 256, 1, 32},
                                 {"b0/s2", 4096, 256, 2, 32},
                                 {"b0/s3", 1024, 256, 5, 32},
                                 {"b0/s4", 256, 256, 8, 32},
                                 {"b2/s3", 1024, 256, 5, 64}};

void run_attention(benchmark::State& state, AttnShape s, KernelIsa isa) {
  if (!kernel_isa_available(isa)) {
    state.SkipWithError("ISA not available");
    return;
  }
  ScopedKernelIsa scoped(isa);
  const int64_t c = s.heads * s.d;
  const Tensor q = random_tensor({s.n_q, c}, 4);
  const Tensor k = random_tensor({s.n_kv, c}, 5);
  const Tensor v = random_tensor({s.n_kv, c}, 6);
  Tensor out = Tensor::empty(DType::F32, {s.n_q, c});
  AttentionShape as{1, s.n_q, s.n_kv, s.heads, s.d};
  for (auto _ : state) {
    attention(as, q.data<float>(), c, k.data<float>(), c, v.data<float>(), c,
              1.0f / std::sqrt(static_cast<float>(s.d)), out.data<float>(), c);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(4.0 * s.n_q * s.n_kv * c, benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}

// Depthwise 3x3 + GELU on the Mix-FFN hidden map: (h, w, channels).
struct DwShape {
  const char* name;
  int64_t h, w, c;
};
const DwShape kDwShapes[] = {{"b0/s1", 128, 128, 128},
                             {"b0/s2", 64, 64, 256},
                             {"b0/s3", 32, 32, 640},
                             {"b0/s4", 16, 16, 1024},
                             {"b2/s1", 128, 128, 256}};

void run_dwconv(benchmark::State& state, DwShape s, KernelIsa isa) {
  if (!kernel_isa_available(isa)) {
    state.SkipWithError("ISA not available");
    return;
  }
  ScopedKernelIsa scoped(isa);
  const Tensor x = random_tensor({s.h * s.w, s.c}, 7);
  const Tensor w = random_tensor({9, s.c}, 8);
  const Tensor b = random_tensor({s.c}, 9);
  Tensor y = Tensor::empty(DType::F32, {s.h * s.w, s.c});
  for (auto _ : state) {
    dwconv3x3(1, s.h, s.w, s.c, x.data<float>(), w.data<float>(), b.data<float>(),
              Activation::kGelu, y.data<float>());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] =
      benchmark::Counter(8.0 * s.h * s.w * s.c, benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}

void register_all() {
  for (const AttnShape& s : kAttnShapes) {
    for (KernelIsa isa : {KernelIsa::kAvx2, KernelIsa::kRef}) {
      benchmark::RegisterBenchmark(
          (std::string("attention_") + kernel_isa_name(isa) + "/" + s.name).c_str(), run_attention,
          s, isa)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  for (const DwShape& s : kDwShapes) {
    for (KernelIsa isa : {KernelIsa::kAvx2, KernelIsa::kRef}) {
      benchmark::RegisterBenchmark(
          (std::string("dwconv3x3_gelu_") + kernel_isa_name(isa) + "/" + s.name).c_str(),
          run_dwconv, s, isa)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}

const bool kRegistered = (register_all(), true);

}  // namespace
}  // namespace segq
