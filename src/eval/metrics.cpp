#include "eval/metrics.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace segq {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// 0 / 0 -> NaN as numpy's float64 division gives (x / 0 for x > 0 cannot happen: I <= L, I <= U).
double ratio(uint64_t num, uint64_t den) {
  return den == 0 ? kNaN : static_cast<double>(num) / static_cast<double>(den);
}
}  // namespace

// numpy/_core/src/umath/loops_utils.h.src (pairwise_sum): below 8 values a plain loop; up to 128
// eight interleaved accumulators combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the rest in
// order; above 128 split at n/2 rounded down to a multiple of 8 and recurse. The reduction adds
// the result to the identity 0.0.
double numpy_pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.0;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return numpy_pairwise_sum(a, n2) + numpy_pairwise_sum(a + n2, n - n2);
}

double numpy_nanmean(const std::vector<double>& values) {
  std::vector<double> zeroed(values.size());
  size_t count = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const bool nan = std::isnan(values[i]);
    zeroed[i] = nan ? 0.0 : values[i];
    count += nan ? 0 : 1;
  }
  if (count == 0) return kNaN;
  return (0.0 + numpy_pairwise_sum(zeroed.data(), zeroed.size())) / static_cast<double>(count);
}

SegmentationMetrics compute_metrics(const std::vector<uint64_t>& intersection,
                                    const std::vector<uint64_t>& predicted,
                                    const std::vector<uint64_t>& label) {
  const size_t n = intersection.size();
  SEGQ_CHECK(predicted.size() == n && label.size() == n, "per-class areas of different sizes: ", n,
             ", ", predicted.size(), ", ", label.size());
  SegmentationMetrics m;
  m.per_class_iou.resize(n);
  m.per_class_accuracy.resize(n);
  uint64_t total_intersection = 0, total_label = 0;
  std::vector<double> iou_or_zero(n), acc_or_zero(n);
  for (size_t c = 0; c < n; ++c) {
    SEGQ_CHECK(intersection[c] <= predicted[c] && intersection[c] <= label[c], "class ", c,
               ": intersection ", intersection[c], " exceeds its predicted (", predicted[c],
               ") or label (", label[c], ") area");
    const uint64_t uni = predicted[c] + label[c] - intersection[c];
    m.per_class_iou[c] = ratio(intersection[c], uni);
    m.per_class_accuracy[c] = ratio(intersection[c], label[c]);
    iou_or_zero[c] = uni == 0 ? 0.0 : m.per_class_iou[c];
    acc_or_zero[c] = label[c] == 0 ? 0.0 : m.per_class_accuracy[c];
    m.num_classes_present += uni == 0 ? 0 : 1;
    total_intersection += intersection[c];
    total_label += label[c];
  }
  m.mean_iou = numpy_nanmean(m.per_class_iou);
  m.mean_accuracy = numpy_nanmean(m.per_class_accuracy);
  m.overall_accuracy = ratio(total_intersection, total_label);
  const double classes = static_cast<double>(n);
  m.devkit_mean_iou = n == 0 ? kNaN : (0.0 + numpy_pairwise_sum(iou_or_zero.data(), n)) / classes;
  m.devkit_mean_accuracy =
      n == 0 ? kNaN : (0.0 + numpy_pairwise_sum(acc_or_zero.data(), n)) / classes;
  return m;
}

SegmentationMetrics compute_metrics(const SegmentationCounts& counts) {
  return compute_metrics(counts.area_intersection(), counts.area_predicted(), counts.area_label());
}

}  // namespace segq
