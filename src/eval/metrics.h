// Segmentation metrics from pixel counts, with evaluate's `mean_iou` semantics (spec/segformer.md
// "Metrics"), reproduced to the last bit: per-class ratios in float64 from exact integer counts,
// and means summed in numpy's pairwise order (np.nanmean = pairwise sum / count).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "eval/counts.h"

namespace segq {

struct SegmentationMetrics {
  // evaluate semantics: classes absent from both prediction and label are NaN and excluded.
  double mean_iou = 0;
  double mean_accuracy = 0;
  double overall_accuracy = 0;             // sum(I) / sum(label); NaN when nothing was scored
  std::vector<double> per_class_iou;       // [num_labels] I / (P + L - I), NaN when 0 / 0
  std::vector<double> per_class_accuracy;  // [num_labels] I / L, NaN when L == 0
  // The ADE20K devkit's convention: mean over all num_labels classes, undefined ones count 0
  // (the devkit adds eps = 2^-52 to the union; that only changes the last bits of a ratio).
  double devkit_mean_iou = 0;
  double devkit_mean_accuracy = 0;
  int num_classes_present = 0;  // classes with a defined IoU (present in prediction or label)
};

SegmentationMetrics compute_metrics(const SegmentationCounts& counts);
// The same from per-class areas (all of size num_labels).
SegmentationMetrics compute_metrics(const std::vector<uint64_t>& intersection,
                                    const std::vector<uint64_t>& predicted,
                                    const std::vector<uint64_t>& label);

// numpy's float64 sum order (pairwise, 8 accumulators, blocks of 128): np.sum(a) bit for bit.
double numpy_pairwise_sum(const double* a, size_t n);
// np.nanmean: pairwise sum of the non-NaN values (NaN replaced by 0) / their count; NaN if none.
double numpy_nanmean(const std::vector<double>& values);

}  // namespace segq
