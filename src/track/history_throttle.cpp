#include "track/history_throttle.h"

#include <algorithm>

namespace segq::track {

HistoryThrottle::HistoryThrottle(int64_t num_images, int max_points)
    : num_images_(num_images), max_points_(std::max(max_points, 1)) {
  // ceil(num_images / max_points), so the final image is at most max_points strides away.
  stride_ =
      num_images_ > 0 ? std::max<int64_t>(1, (num_images_ + max_points_ - 1) / max_points_) : 1;
}

bool HistoryThrottle::take(int64_t images_done) {
  if (images_done <= last_step_) return false;  // steps must strictly increase
  const bool is_last = num_images_ > 0 && images_done >= num_images_;
  if (!is_last) {
    if (points_ >= max_points_ - 1 && num_images_ > 0) return false;  // keep one for the end
    if (num_images_ <= 0 && points_ >= max_points_) return false;
    // The next point is due once a stride boundary is crossed.
    if (last_step_ >= 0 && images_done / stride_ == last_step_ / stride_) return false;
  }
  last_step_ = images_done;
  ++points_;
  return true;
}

}  // namespace segq::track
