// Inline SVG charts for the HTML report (no script, no external resources). Every chart is one
// <svg class="chart ..."> element; points and bars carry a <title> tooltip. Text is escaped.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace segq::report {

struct ScatterPoint {
  std::string label;  // shown beside the point
  std::string group;  // points of a group share a colour (a method, or a run)
  double size_mb;     // x; points without a finite positive size are listed as not plotted
  double miou;        // y, 0..1
};

// Size (MB, log axis when sizes span 4x or more) vs mIoU (%) scatter with the Pareto front drawn
// through the non-dominated points. Each plotted point is a <g class="point" data-label=...>.
// Returns a <p class="note"> instead of a chart when no point can be plotted.
std::string svg_size_miou_scatter(const std::vector<ScatterPoint>& points);

// Per-class IoU change (fraction, negative = worse than fp32), sorted ascending by the caller:
// one bar per class, the `named_worst` first (worst) classes labelled with their names.
std::string svg_class_deltas(const std::vector<std::pair<std::string, double>>& sorted_deltas,
                             const std::string& method, size_t named_worst);

// Horizontal bars of ms/image per label; NaN shows "n/a" and no bar.
std::string svg_latency_bars(const std::vector<std::pair<std::string, double>>& ms_per_image);

// A colour of a fixed, distinguishable palette (cycled).
const char* palette_colour(size_t index);

// "Nice" tick values covering [lo, hi] (about `target` of them): 1, 2, 5 x 10^k steps.
std::vector<double> nice_ticks(double lo, double hi, int target);

}  // namespace segq::report
