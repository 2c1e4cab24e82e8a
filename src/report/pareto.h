// The Pareto front of (size, score) points: smaller size and higher score are better.
#pragma once

#include <cstddef>
#include <vector>

namespace segq::report {

struct SizeScore {
  double size;   // e.g. MB; NaN or infinite -> not a candidate
  double score;  // e.g. mIoU; NaN or infinite -> not a candidate
};

// Indices of the non-dominated points, sorted by ascending size (ties: descending score, then
// index). A point is dominated when another has size <= and score >= with at least one strict.
// Identical points do not dominate each other, so all copies are on the front.
std::vector<size_t> pareto_front(const std::vector<SizeScore>& points);

}  // namespace segq::report
