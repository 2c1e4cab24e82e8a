#include "eval/counts.h"

#include "core/error.h"

namespace segq {

SegmentationCounts::SegmentationCounts(int num_labels)
    : num_labels_(num_labels),
      confusion_(static_cast<size_t>(num_labels) * num_labels, 0),
      pred_out_of_range_(num_labels, 0) {
  SEGQ_CHECK(num_labels >= 1 && num_labels <= kIgnoreLabel, "num_labels ", num_labels,
             " outside [1, ", kIgnoreLabel, "] (label maps are uint8 with ", kIgnoreLabel,
             " = ignored)");
}

ImageCounts SegmentationCounts::add_image(const std::string& id, const uint8_t* pred,
                                          const uint8_t* labels, size_t n) {
  const int nl = num_labels_;
  // Validate first, so that a bad image leaves the totals untouched.
  for (size_t i = 0; i < n; ++i) {
    const int l = labels[i];
    if (l != kIgnoreLabel && l >= nl) {
      throw Error(str_cat(id, ": label value ", l, " at pixel ", i, " is outside [0, ", nl,
                          ") and is not the ignore label ", kIgnoreLabel));
    }
  }
  std::vector<uint64_t> inter(nl, 0), predicted(nl, 0), label_area(nl, 0);
  uint64_t scored = 0;
  for (size_t i = 0; i < n; ++i) {
    const int l = labels[i];
    if (l == kIgnoreLabel) continue;
    const int p = pred[i];
    ++scored;
    ++label_area[l];
    if (p < nl) {
      ++confusion_[static_cast<size_t>(l) * nl + p];
      ++predicted[p];
      if (p == l) ++inter[l];
    } else {
      ++pred_out_of_range_[l];
    }
  }
  num_pixels_ += scored;
  ++num_images_;

  ImageCounts out;
  out.id = id;
  out.num_pixels = scored;
  for (int c = 0; c < nl; ++c) {
    if (predicted[c] == 0 && label_area[c] == 0) continue;
    out.classes.push_back(static_cast<uint16_t>(c));
    out.intersection.push_back(inter[c]);
    out.predicted.push_back(predicted[c]);
    out.label.push_back(label_area[c]);
  }
  return out;
}

void SegmentationCounts::merge(const SegmentationCounts& other) {
  if (other.num_labels_ == 0 && other.num_images_ == 0) return;
  if (num_labels_ == 0) {
    *this = other;
    return;
  }
  SEGQ_CHECK(num_labels_ == other.num_labels_, "cannot add counts over ", other.num_labels_,
             " labels to counts over ", num_labels_, " labels");
  for (size_t i = 0; i < confusion_.size(); ++i) confusion_[i] += other.confusion_[i];
  for (int c = 0; c < num_labels_; ++c) pred_out_of_range_[c] += other.pred_out_of_range_[c];
  num_pixels_ += other.num_pixels_;
  num_images_ += other.num_images_;
}

SegmentationCounts SegmentationCounts::from_totals(int num_labels, std::vector<uint64_t> confusion,
                                                   std::vector<uint64_t> pred_out_of_range,
                                                   uint64_t num_pixels, uint64_t num_images) {
  SegmentationCounts c(num_labels);
  SEGQ_CHECK(confusion.size() == c.confusion_.size(), "confusion matrix has ", confusion.size(),
             " entries, expected ", c.confusion_.size(), " (", num_labels, "x", num_labels, ")");
  SEGQ_CHECK(pred_out_of_range.size() == c.pred_out_of_range_.size(), "pred_out_of_range has ",
             pred_out_of_range.size(), " entries, expected ", num_labels);
  uint64_t total = 0;
  for (uint64_t v : confusion) total += v;
  for (uint64_t v : pred_out_of_range) total += v;
  SEGQ_CHECK(total == num_pixels, "num_pixels ", num_pixels,
             " differs from the sum of the confusion matrix and out-of-range counts ", total);
  c.confusion_ = std::move(confusion);
  c.pred_out_of_range_ = std::move(pred_out_of_range);
  c.num_pixels_ = num_pixels;
  c.num_images_ = num_images;
  return c;
}

std::vector<uint64_t> SegmentationCounts::area_intersection() const {
  std::vector<uint64_t> out(num_labels_);
  for (int c = 0; c < num_labels_; ++c) out[c] = confusion_at(c, c);
  return out;
}

std::vector<uint64_t> SegmentationCounts::area_predicted() const {
  std::vector<uint64_t> out(num_labels_, 0);
  for (int l = 0; l < num_labels_; ++l) {
    for (int p = 0; p < num_labels_; ++p) out[p] += confusion_at(l, p);
  }
  return out;
}

std::vector<uint64_t> SegmentationCounts::area_label() const {
  std::vector<uint64_t> out(pred_out_of_range_);
  for (int l = 0; l < num_labels_; ++l) {
    for (int p = 0; p < num_labels_; ++p) out[l] += confusion_at(l, p);
  }
  return out;
}

}  // namespace segq
