#include "report/pareto.h"

#include <algorithm>
#include <cmath>

namespace segq::report {

std::vector<size_t> pareto_front(const std::vector<SizeScore>& points) {
  std::vector<size_t> order;
  for (size_t i = 0; i < points.size(); ++i) {
    if (std::isfinite(points[i].size) && std::isfinite(points[i].score)) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (points[a].size != points[b].size) return points[a].size < points[b].size;
    if (points[a].score != points[b].score) return points[a].score > points[b].score;
    return a < b;
  });
  // Sweep by ascending size: a point is on the front iff its score beats every smaller point's,
  // or it equals the best point exactly (same size and score).
  std::vector<size_t> front;
  for (size_t i : order) {
    if (front.empty()) {
      front.push_back(i);
      continue;
    }
    const SizeScore& best = points[front.back()];
    const SizeScore& p = points[i];
    if (p.score > best.score || (p.score == best.score && p.size == best.size)) front.push_back(i);
  }
  return front;
}

}  // namespace segq::report
