// Pixel counts behind every segmentation metric: a uint64 confusion matrix per method plus
// per-image per-class counts. Sums of integers, so accumulation order (batches, threads, shards)
// never changes a result.
//
// Semantics = evaluate's `mean_iou` (= mmseg IoUMetric), see spec/segformer.md "Metrics":
// - pixels whose label == ignore_index (255) are dropped from everything;
// - a prediction outside [0, num_labels) is dropped from the predicted and intersection counts,
//   but its pixel still counts in its label's area (`pred_out_of_range[label]`);
// - a label outside [0, num_labels) that is not ignore_index is an error (evaluate would silently
//   drop it from the label area while still counting the prediction; the data layer rejects such
//   annotations before they get here).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace segq {

constexpr int kIgnoreLabel = 255;

// Per-image counts, only for classes present in the image's prediction or (non-ignored) label.
struct ImageCounts {
  std::string id;
  uint64_t num_pixels = 0;             // scored (non-ignored) pixels
  std::vector<uint16_t> classes;       // ascending
  std::vector<uint64_t> intersection;  // [classes.size()] pred == label == class
  std::vector<uint64_t> predicted;     // in-range predictions of the class (label not ignored)
  std::vector<uint64_t> label;         // label pixels of the class (incl. out-of-range preds)
  // Comparison with the fp32 baseline's output for the same image (eval/compare.h); set by the
  // evaluation, not by add_image. compared_pixels == 0: not compared.
  uint64_t agree_pixels = 0;     // pixels of the prediction map equal to fp32's (ignored incl.)
  uint64_t compared_pixels = 0;  // pixels of the prediction map (label_h * label_w)
  double logit_nmse = std::numeric_limits<double>::quiet_NaN();  // at the logits resolution
};

class SegmentationCounts {
 public:
  SegmentationCounts() = default;
  explicit SegmentationCounts(int num_labels);

  int num_labels() const { return num_labels_; }
  // [num_labels * num_labels], row = label, column = prediction.
  const std::vector<uint64_t>& confusion() const { return confusion_; }
  uint64_t confusion_at(int label, int pred) const {
    return confusion_[static_cast<size_t>(label) * num_labels_ + pred];
  }
  // [num_labels]: pixels of each label whose prediction was outside [0, num_labels).
  const std::vector<uint64_t>& pred_out_of_range() const { return pred_out_of_range_; }
  uint64_t num_pixels() const { return num_pixels_; }  // scored pixels
  uint64_t num_images() const { return num_images_; }

  // Scores one image: pred and labels row-major, n pixels each. Adds to the totals and returns the
  // image's own counts. Throws segq::Error naming `id` on a label outside [0, num_labels) that is
  // not the ignore label (and then adds nothing).
  ImageCounts add_image(const std::string& id, const uint8_t* pred, const uint8_t* labels,
                        size_t n);
  // Adds another set of counts (same num_labels).
  void merge(const SegmentationCounts& other);
  // Restores totals saved by a checkpoint or a shard file; checks the sizes.
  static SegmentationCounts from_totals(int num_labels, std::vector<uint64_t> confusion,
                                        std::vector<uint64_t> pred_out_of_range,
                                        uint64_t num_pixels, uint64_t num_images);

  // Per-class totals in evaluate's terms (exact integers).
  std::vector<uint64_t> area_intersection() const;  // diagonal
  std::vector<uint64_t> area_predicted() const;     // column sums
  std::vector<uint64_t> area_label() const;         // row sums + pred_out_of_range

  bool operator==(const SegmentationCounts& o) const {
    return num_labels_ == o.num_labels_ && confusion_ == o.confusion_ &&
           pred_out_of_range_ == o.pred_out_of_range_ && num_pixels_ == o.num_pixels_ &&
           num_images_ == o.num_images_;
  }

 private:
  int num_labels_ = 0;
  std::vector<uint64_t> confusion_;
  std::vector<uint64_t> pred_out_of_range_;
  uint64_t num_pixels_ = 0;
  uint64_t num_images_ = 0;
};

}  // namespace segq
