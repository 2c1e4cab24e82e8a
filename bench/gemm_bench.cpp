// GEMM per weight format on the real b0 and b2 layer shapes (512x512 input, batch 1), with
// GFLOP/s and % of this CPU's FMA peak measured by a probe in the same run (fma_peak/threads:T,
// kernels/fma_peak.h), and OpenBLAS sgemm on the same shapes as a reference point.
//   build/segq_bench --benchmark_filter='gemm/'            every format, all threads
//   build/segq_bench --benchmark_filter='gemm/fp32/b0'     one format
//   build/segq_bench --benchmark_filter='sgemm_openblas'   the reference
// Counters: GFLOP/s counts 2 M N K per call (also for the int8 GEMM, whose "flops" are integer
// multiply-adds); pct_fma_peak divides by the probe's GFLOP/s for the same thread count.
#include <benchmark/benchmark.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "kernels/fma_peak.h"
#include "kernels/gemm.h"
#include "kernels/gemm_int8.h"
#include "kernels/isa.h"
#include "quant/quantize_tensor.h"

#ifdef SEGQ_HAVE_BLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int) __attribute__((weak));
#endif

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

struct GemmShape {
  const char* name;
  int64_t m, n, k;
};

// (M = tokens, N = out features, K = in features) at 512x512 input, batch 1.
const GemmShape kShapes[] = {
    {"b0/s1.patch_embed", 16384, 32, 147},
    {"b0/s1.query", 16384, 32, 32},
    {"b0/s1.sr", 256, 32, 2048},
    {"b0/s1.dense1", 16384, 128, 32},
    {"b0/s1.dense2", 16384, 32, 128},
    {"b0/s2.patch_embed", 4096, 64, 288},
    {"b0/s2.dense1", 4096, 256, 64},
    {"b0/s2.dense2", 4096, 64, 256},
    {"b0/s3.patch_embed", 1024, 160, 576},
    {"b0/s3.dense1", 1024, 640, 160},
    {"b0/s3.dense2", 1024, 160, 640},
    {"b0/s4.patch_embed", 256, 256, 1440},
    {"b0/s4.query", 256, 256, 256},
    {"b0/s4.dense1", 256, 1024, 256},
    {"b0/s4.dense2", 256, 256, 1024},
    {"b0/head.linear_c0", 16384, 256, 32},
    {"b0/head.linear_fuse", 16384, 256, 1024},
    {"b0/head.classifier", 16384, 150, 256},
    {"b2/s1.dense1", 16384, 256, 64},
    {"b2/s1.dense2", 16384, 64, 256},
    {"b2/s2.dense1", 4096, 512, 128},
    {"b2/s2.dense2", 4096, 128, 512},
    {"b2/s3.query", 1024, 320, 320},
    {"b2/s3.dense1", 1024, 1280, 320},
    {"b2/s3.dense2", 1024, 320, 1280},
    {"b2/s4.dense1", 256, 2048, 512},
    {"b2/s4.dense2", 256, 512, 2048},
    {"b2/head.linear_c0", 16384, 768, 64},
    {"b2/head.linear_fuse", 16384, 768, 3072},
    {"b2/head.classifier", 16384, 150, 768},
};

// Methods benchmarked: fp32 (packed at bind), the weight-only formats (decoded per tile) and
// int8-w8a8 (integer GEMM, activations quantized per call).
const char* const kMethods[] = {"fp32", "bf16", "fp16", "fp8", "int8", "int4", "int2", "int8-w8a8"};

double fma_peak(int threads) {
  static std::map<int, double> cache;
  auto it = cache.find(threads);
  if (it != cache.end()) return it->second;
  const double g = measure_fma_peak_gflops(threads, 0.3);
  cache[threads] = g;
  return g;
}

void set_counters(benchmark::State& state, double flops_per_call, double seconds, int threads) {
  const double gflops = flops_per_call * static_cast<double>(state.iterations()) / seconds / 1e9;
  state.counters["GFLOP/s"] = gflops;
  const double peak = fma_peak(threads);
  if (peak > 0) state.counters["pct_fma_peak"] = 100.0 * gflops / peak;
}

void BM_FmaPeak(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  double g = 0;
  for (auto _ : state) g = measure_fma_peak_gflops(threads, 0.2);
  state.counters["GFLOP/s"] = g;
  state.counters["GFLOP/s_per_thread"] = g / threads;
}

void run_gemm(benchmark::State& state, GemmShape s, std::string method, int threads) {
  if (!kernel_isa_available(KernelIsa::kAvx2)) {
    state.SkipWithError("AVX2 not available");
    return;
  }
  ScopedKernelIsa scoped(KernelIsa::kAvx2);
  set_num_threads(threads);
  const Tensor a = random_tensor({s.m, s.k}, 1);
  const Tensor w = random_tensor({s.n, s.k}, 2);
  const Tensor bias = random_tensor({s.n}, 3);
  Tensor c = Tensor::empty(DType::F32, {s.m, s.n});
  const MethodSpec spec = parse_method(method);
  QTensor q;
  GemmWeights gw;
  GemmPackedWeights pw;
  GemmI8Weights i8;
  if (spec.quantizes_weights()) {
    q = quantize_tensor(w, tensor_quant_spec(spec, w.shape()));
    gw.view = q.view();
    if (spec.w8a8) i8 = gemm_i8_pack_weights(gw.view);
  } else {
    gw.view.rows = s.n;
    gw.view.cols = s.k;
    gw.view.codes = w.raw();
    gw.view.group_size = s.k;
    gw.view.row_stride_bytes = s.k * 4;
    pw = gemm_pack_weights(gw.view);
    gw.packed = pw.panels;
  }
  GemmEpilogue ep;
  ep.bias = bias.data<float>();
  auto call = [&] {
    if (spec.w8a8) {
      gemm_i8(s.m, a.data<float>(), s.k, i8, c.data<float>(), s.n, ep);
    } else {
      gemm(s.m, a.data<float>(), s.k, gw, c.data<float>(), s.n, ep);
    }
  };
  call();  // warm the scratch buffers
  Stopwatch sw;
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  set_counters(state, 2.0 * s.m * s.n * s.k, sw.seconds(), threads);
  set_num_threads(0);
}

#ifdef SEGQ_HAVE_BLAS
void run_sgemm(benchmark::State& state, GemmShape s, int threads) {
  if (openblas_set_num_threads) openblas_set_num_threads(threads);
  const Tensor a = random_tensor({s.m, s.k}, 1);
  const Tensor w = random_tensor({s.n, s.k}, 2);
  Tensor c = Tensor::empty(DType::F32, {s.m, s.n});
  auto call = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(s.m),
                static_cast<int>(s.n), static_cast<int>(s.k), 1.0f, a.data<float>(),
                static_cast<int>(s.k), w.data<float>(), static_cast<int>(s.k), 0.0f,
                c.data<float>(), static_cast<int>(s.n));
  };
  call();
  Stopwatch sw;
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  set_counters(state, 2.0 * s.m * s.n * s.k, sw.seconds(), threads);
}
#endif

void register_all() {
  const int all = default_num_threads();
  for (int t : {1, all}) {
    benchmark::RegisterBenchmark(("fma_peak/threads:" + std::to_string(t)).c_str(), BM_FmaPeak)
        ->Arg(t)
        ->Iterations(3)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    if (all == 1) break;
  }
  for (const GemmShape& s : kShapes) {
    for (const char* method : kMethods) {
      std::vector<int> counts = {all};
      if (std::string(method) == "fp32" && all > 1) counts = {1, all};
      for (int t : counts) {
        benchmark::RegisterBenchmark(
            (std::string("gemm/") + method + "/" + s.name + "/threads:" + std::to_string(t))
                .c_str(),
            run_gemm, s, std::string(method), t)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
#ifdef SEGQ_HAVE_BLAS
    for (int t : {1, all}) {
      benchmark::RegisterBenchmark(
          (std::string("sgemm_openblas/") + s.name + "/threads:" + std::to_string(t)).c_str(),
          run_sgemm, s, t)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      if (all == 1) break;
    }
#endif
  }
}

const bool kRegistered = (register_all(), true);

}  // namespace
}  // namespace segq
