#include "eval/compare.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "eval/metrics.h"

namespace segq {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// numpy.percentile's default ("linear"): position q * (n - 1) between the sorted values.
double percentile_linear(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

// Dense per-class sums of a set of images (indices into `images`, with repeats).
struct ClassSums {
  std::vector<uint64_t> intersection, predicted, label;
  explicit ClassSums(int n) : intersection(n, 0), predicted(n, 0), label(n, 0) {}
  void clear() {
    std::fill(intersection.begin(), intersection.end(), 0);
    std::fill(predicted.begin(), predicted.end(), 0);
    std::fill(label.begin(), label.end(), 0);
  }
  void add(const ImageCounts& im) {
    for (size_t k = 0; k < im.classes.size(); ++k) {
      const int c = im.classes[k];
      intersection[c] += im.intersection[k];
      predicted[c] += im.predicted[k];
      label[c] += im.label[k];
    }
  }
  double mean_iou() const { return compute_metrics(intersection, predicted, label).mean_iou; }
};

}  // namespace

uint64_t count_equal(const uint8_t* a, const uint8_t* b, size_t n) {
  uint64_t same = 0;
  for (size_t i = 0; i < n; ++i) same += a[i] == b[i] ? 1 : 0;
  return same;
}

double logit_nmse(const float* x, const float* ref, size_t n) {
  double err = 0, energy = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - static_cast<double>(ref[i]);
    err += d * d;
    energy += static_cast<double>(ref[i]) * static_cast<double>(ref[i]);
  }
  if (err == 0) return 0;
  return energy > 0 ? err / energy : std::numeric_limits<double>::infinity();
}

double mean_agreement(const std::vector<ImageCounts>& images) {
  uint64_t agree = 0, total = 0;
  for (const ImageCounts& im : images) {
    agree += im.agree_pixels;
    total += im.compared_pixels;
  }
  return total > 0 ? static_cast<double>(agree) / static_cast<double>(total) : kNaN;
}

double mean_logit_nmse(const std::vector<ImageCounts>& images) {
  std::vector<const ImageCounts*> compared;
  for (const ImageCounts& im : images) {
    if (im.compared_pixels > 0 && !std::isnan(im.logit_nmse)) compared.push_back(&im);
  }
  std::sort(compared.begin(), compared.end(),
            [](const ImageCounts* x, const ImageCounts* y) { return x->id < y->id; });
  double sum = 0;
  for (const ImageCounts* im : compared) sum += im->logit_nmse;
  return compared.empty() ? kNaN : sum / static_cast<double>(compared.size());
}

DeltaInterval bootstrap_delta_miou(const std::vector<ImageCounts>& method,
                                   const std::vector<ImageCounts>& baseline, int num_labels,
                                   int resamples, uint64_t seed) {
  // Pair images by id, in id order (the order of the draws), whatever order the lists are in.
  auto sorted = [](const std::vector<ImageCounts>& v) {
    std::vector<const ImageCounts*> p;
    for (const ImageCounts& im : v) p.push_back(&im);
    std::sort(p.begin(), p.end(),
              [](const ImageCounts* x, const ImageCounts* y) { return x->id < y->id; });
    return p;
  };
  const std::vector<const ImageCounts*> ms = sorted(method), bs = sorted(baseline);
  std::vector<const ImageCounts*> a, b;
  for (size_t i = 0, j = 0; i < ms.size() && j < bs.size();) {
    if (ms[i]->id < bs[j]->id) {
      ++i;
    } else if (bs[j]->id < ms[i]->id) {
      ++j;
    } else {
      a.push_back(ms[i++]);
      b.push_back(bs[j++]);
    }
  }
  DeltaInterval out;
  out.num_images = a.size();
  out.resamples = resamples;
  if (a.empty()) {
    out.value = out.low = out.high = kNaN;
    return out;
  }
  ClassSums sa(num_labels), sb(num_labels);
  for (size_t k = 0; k < a.size(); ++k) {
    sa.add(*a[k]);
    sb.add(*b[k]);
  }
  out.value = sa.mean_iou() - sb.mean_iou();
  if (resamples < 1) {
    out.low = out.high = out.value;
    return out;
  }
  std::vector<double> deltas(static_cast<size_t>(resamples));
  uint64_t state = seed;
  const unsigned __int128 n = a.size();
  for (int r = 0; r < resamples; ++r) {
    sa.clear();
    sb.clear();
    for (size_t k = 0; k < a.size(); ++k) {
      const size_t pick = static_cast<size_t>((splitmix64(&state) * n) >> 64);
      sa.add(*a[pick]);
      sb.add(*b[pick]);
    }
    deltas[static_cast<size_t>(r)] = sa.mean_iou() - sb.mean_iou();
  }
  std::sort(deltas.begin(), deltas.end());
  out.low = percentile_linear(deltas, 0.025);
  out.high = percentile_linear(deltas, 0.975);
  return out;
}

}  // namespace segq
