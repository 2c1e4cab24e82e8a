#include "model/model_bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/timer.h"

namespace segq {

BenchResult bench_forward(Model& model, const Tensor& pixels, int warmup, int repeats) {
  SEGQ_CHECK(repeats >= 1, "bench: --repeats must be at least 1");
  SEGQ_CHECK(warmup >= 0, "bench: --warmup must be >= 0");
  BenchResult r;
  r.batch = pixels.dim(0);
  for (int i = 0; i < warmup; ++i) model.forward(pixels);
  for (int i = 0; i < repeats; ++i) {
    Stopwatch sw;
    const Tensor out = model.forward(pixels);
    r.ms_per_batch.push_back(sw.ms());
  }
  std::vector<double> sorted = r.ms_per_batch;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  const double per = static_cast<double>(std::max<int64_t>(r.batch, 1));
  r.median_ms_per_image = median / per;
  r.mean_ms_per_image = std::accumulate(sorted.begin(), sorted.end(), 0.0) / n / per;
  r.min_ms_per_image = sorted.front() / per;
  r.images_per_s = r.median_ms_per_image > 0 ? 1000.0 / r.median_ms_per_image : 0.0;
  r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

Tensor synthetic_pixels(int64_t batch, int64_t channels, int64_t height, int64_t width,
                        uint32_t seed) {
  Tensor t = Tensor::empty(DType::F32, {batch, channels, height, width});
  float* p = t.data<float>();
  uint32_t s = seed * 2654435761u + 12345u;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    p[i] = static_cast<float>(s % 2001u) / 400.0f - 2.5f;
  }
  return t;
}

int64_t peak_rss_bytes() {
  struct rusage u {};
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  return static_cast<int64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

}  // namespace segq
