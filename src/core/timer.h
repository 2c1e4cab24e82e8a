// Monotonic wall-clock timing.
#pragma once

#include <chrono>

namespace segq {

inline double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

class Stopwatch {
 public:
  Stopwatch() : start_(now_seconds()) {}
  void reset() { start_ = now_seconds(); }
  double seconds() const { return now_seconds() - start_; }
  double ms() const { return seconds() * 1e3; }

 private:
  double start_;
};

}  // namespace segq
