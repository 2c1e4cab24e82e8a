// Thins the progress events of a method to a bounded number of history points: at most
// `max_points` per method, spread evenly over the images, the last image always included.
#pragma once

#include <cstdint>

namespace segq::track {

class HistoryThrottle {
 public:
  // num_images <= 0: unknown total; then every event with more images than the last is taken
  // until max_points are taken (and the final point is still taken when it comes).
  HistoryThrottle(int64_t num_images, int max_points);
  // True when a point at `images_done` should be logged; remembers it as logged.
  bool take(int64_t images_done);
  int64_t last_step() const { return last_step_; }
  int points() const { return points_; }

 private:
  int64_t num_images_;
  int max_points_;
  int64_t stride_;  // images between points
  int64_t last_step_ = -1;
  int points_ = 0;
};

}  // namespace segq::track
