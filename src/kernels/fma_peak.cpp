#include "kernels/fma_peak.h"

#include <atomic>
#include <thread>
#include <vector>

#include "core/timer.h"
#include "kernels/isa.h"

namespace segq {

double measure_fma_peak_gflops(int threads, double seconds) {
  if (!kernel_isa_available(KernelIsa::kAvx2) || threads < 1) return 0.0;
  constexpr int64_t kBlock = 1 << 18;  // iterations between clock checks (~1 ms)
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<double> gflops(static_cast<size_t>(threads), 0.0);
  std::vector<float> sink(static_cast<size_t>(threads), 0.0f);
  auto body = [&](int t) {
    ready.fetch_add(1);
    while (!go.load()) {
    }
    fma_peak_loop_avx2(kBlock / 4);  // ramp the clock up
    Stopwatch sw;
    int64_t iters = 0;
    float s = 0.0f;
    while (sw.seconds() < seconds) {
      s += fma_peak_loop_avx2(kBlock);
      iters += kBlock;
    }
    gflops[t] = static_cast<double>(iters) * 12 * 8 * 2 / sw.seconds() / 1e9;
    sink[t] = s;
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(body, t);
  while (ready.load() < threads - 1) {
  }
  go.store(true);
  body(0);
  for (auto& th : pool) th.join();
  double total = 0;
  for (double g : gflops) total += g;
  return total;
}

}  // namespace segq
