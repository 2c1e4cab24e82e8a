#include "model/model_bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/timer.h"

namespace segq {

namespace {
void summarize(BenchResult* r, int64_t images) {
  std::vector<double> sorted = r->ms_per_batch;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  const double per = static_cast<double>(std::max<int64_t>(images, 1));
  r->median_ms_per_image = median / per;
  r->mean_ms_per_image = std::accumulate(sorted.begin(), sorted.end(), 0.0) / n / per;
  r->min_ms_per_image = sorted.front() / per;
  r->images_per_s = r->median_ms_per_image > 0 ? 1000.0 / r->median_ms_per_image : 0.0;
  r->peak_rss_bytes = peak_rss_bytes();
}
}  // namespace

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
  summarize(&r, r.batch);
  return r;
}

BenchResult bench_forward_batches(Model& model, const std::vector<Tensor>& batches, int warmup,
                                  int repeats) {
  SEGQ_CHECK(repeats >= 1, "bench: --repeats must be at least 1");
  SEGQ_CHECK(warmup >= 0, "bench: --warmup must be >= 0");
  SEGQ_CHECK(!batches.empty(), "bench: no input batches");
  BenchResult r;
  r.batch = batches[0].dim(0);
  int64_t images = 0;
  for (const Tensor& b : batches) images += b.dim(0);
  for (int i = 0; i < warmup; ++i) {
    for (const Tensor& b : batches) model.forward(b);
  }
  for (int i = 0; i < repeats; ++i) {
    Stopwatch sw;
    for (const Tensor& b : batches) model.forward(b);
    r.ms_per_batch.push_back(sw.ms());  // one pass
  }
  summarize(&r, images);
  return r;
}

Tensor argmax_labels(const Tensor& logits) {
  SEGQ_CHECK(logits.dtype() == DType::F32 && logits.ndim() == 4 && logits.dim(3) <= 256,
             "argmax_labels: logits must be F32 [B, h, w, L <= 256], got ",
             shape_str(logits.shape()));
  const int64_t l = logits.dim(3), pixels = logits.numel() / std::max<int64_t>(l, 1);
  Tensor out = Tensor::empty(DType::U8, {logits.dim(0), logits.dim(1), logits.dim(2)});
  const float* x = logits.data<float>();
  uint8_t* y = out.data<uint8_t>();
  for (int64_t p = 0; p < pixels; ++p) {
    const float* row = x + p * l;
    int64_t best = 0;
    for (int64_t j = 1; j < l; ++j) {
      if (row[j] > row[best]) best = j;
    }
    y[p] = static_cast<uint8_t>(best);
  }
  return out;
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
