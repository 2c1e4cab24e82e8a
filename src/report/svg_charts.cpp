#include "report/svg_charts.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "report/html_util.h"
#include "report/pareto.h"

namespace segq::report {

namespace {

// Chart frame in SVG user units.
struct Frame {
  double width, height, left, right, top, bottom;
  double plot_w() const { return width - left - right; }
  double plot_h() const { return height - top - bottom; }
};

std::string num(double v) { return format_fixed(v, 1); }

std::string svg_open(const Frame& f, const std::string& cls, const std::string& label) {
  return str_cat("<svg class=\"chart ", cls, "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"",
                 num(f.width), "\" height=\"", num(f.height), "\" viewBox=\"0 0 ", num(f.width),
                 " ", num(f.height), "\" role=\"img\" aria-label=\"", html_escape(label), "\">\n");
}

std::string text(double x, double y, const std::string& s, const std::string& attrs = "") {
  return str_cat("<text x=\"", num(x), "\" y=\"", num(y), "\"", attrs.empty() ? "" : " ", attrs,
                 ">", html_escape(s), "</text>\n");
}

std::string line(double x1, double y1, double x2, double y2, const std::string& cls) {
  return str_cat("<line class=\"", cls, "\" x1=\"", num(x1), "\" y1=\"", num(y1), "\" x2=\"",
                 num(x2), "\" y2=\"", num(y2), "\"/>\n");
}

// Linear or log10 map of a data range onto a pixel range.
struct Scale {
  double lo, hi, px0, px1;
  bool log;
  double operator()(double v) const {
    const double a = log ? std::log10(lo) : lo, b = log ? std::log10(hi) : hi;
    const double t = ((log ? std::log10(v) : v) - a) / (b - a);
    return px0 + t * (px1 - px0);
  }
};

// Tick values for a log axis: 1, 2, 5 x 10^k inside [lo, hi].
std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> ticks;
  for (int k = static_cast<int>(std::floor(std::log10(lo))) - 1;
       k <= static_cast<int>(std::ceil(std::log10(hi))); ++k) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, k);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push_back(v);
    }
  }
  return ticks;
}

}  // namespace

const char* palette_colour(size_t index) {
  static constexpr const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                             "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  return kColours[index % (sizeof kColours / sizeof kColours[0])];
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!std::isfinite(lo) || !std::isfinite(hi) || hi <= lo || target < 1) return ticks;
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  }
  return ticks;
}

std::string svg_size_miou_scatter(const std::vector<ScatterPoint>& points) {
  std::vector<size_t> plotted;
  std::vector<std::string> skipped;
  for (size_t i = 0; i < points.size(); ++i) {
    const ScatterPoint& p = points[i];
    if (std::isfinite(p.size_mb) && p.size_mb > 0 && std::isfinite(p.miou)) {
      plotted.push_back(i);
    } else {
      skipped.push_back(p.label);
    }
  }
  std::string note;
  if (!skipped.empty()) {
    note = "<p class=\"note\">Not plotted (size or mIoU n/a): ";
    for (size_t k = 0; k < skipped.size(); ++k) note += (k ? ", " : "") + html_escape(skipped[k]);
    note += ".</p>\n";
  }
  if (plotted.empty()) return note;

  const Frame f{680, 420, 70, 30, 20, 55};
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (size_t i : plotted) {
    xmin = std::min(xmin, points[i].size_mb);
    xmax = std::max(xmax, points[i].size_mb);
    ymin = std::min(ymin, 100 * points[i].miou);
    ymax = std::max(ymax, 100 * points[i].miou);
  }
  const bool log_x = xmax / xmin >= 4;
  if (log_x) {
    xmin /= 1.3;
    xmax *= 1.3;
  } else {
    const double pad = xmax > xmin ? 0.08 * (xmax - xmin) : std::max(0.1 * xmax, 1e-3);
    xmin = std::max(0.0, xmin - pad);
    xmax += pad;
  }
  const double ypad = ymax > ymin ? 0.08 * (ymax - ymin) : 1.0;
  ymin -= ypad;
  ymax += ypad;
  const Scale sx{xmin, xmax, f.left, f.width - f.right, log_x};
  const Scale sy{ymin, ymax, f.height - f.bottom, f.top, false};

  std::string s = svg_open(f, "scatter", "model size versus mIoU with the Pareto front");
  s += str_cat("<rect class=\"frame\" x=\"", num(f.left), "\" y=\"", num(f.top), "\" width=\"",
               num(f.plot_w()), "\" height=\"", num(f.plot_h()), "\"/>\n");
  for (double t : log_x ? log_ticks(xmin, xmax) : nice_ticks(xmin, xmax, 6)) {
    s += line(sx(t), f.top, sx(t), f.height - f.bottom, "grid");
    s += text(sx(t), f.height - f.bottom + 16, format_significant(t),
              "class=\"tick\" text-anchor=\"middle\"");
  }
  for (double t : nice_ticks(ymin, ymax, 6)) {
    s += line(f.left, sy(t), f.width - f.right, sy(t), "grid");
    s +=
        text(f.left - 6, sy(t) + 4, format_significant(t, 4), "class=\"tick\" text-anchor=\"end\"");
  }
  s += text(f.left + f.plot_w() / 2, f.height - 12,
            log_x ? "stored size (MB, log scale)" : "stored size (MB)",
            "class=\"axis-label\" text-anchor=\"middle\"");
  s += text(16, f.top + f.plot_h() / 2, "mIoU (%)",
            str_cat("class=\"axis-label\" text-anchor=\"middle\" transform=\"rotate(-90 16 ",
                    num(f.top + f.plot_h() / 2), ")\""));

  std::vector<SizeScore> candidates;
  for (size_t i : plotted) candidates.push_back({points[i].size_mb, points[i].miou});
  const std::vector<size_t> front = pareto_front(candidates);
  std::vector<bool> on_front(plotted.size(), false);
  std::string poly;
  for (size_t k : front) {
    on_front[k] = true;
    const ScatterPoint& p = points[plotted[k]];
    poly += str_cat(poly.empty() ? "" : " ", num(sx(p.size_mb)), ",", num(sy(100 * p.miou)));
  }
  s += str_cat("<polyline class=\"pareto-front\" points=\"", poly, "\"/>\n");

  std::map<std::string, size_t> group_colour;
  for (size_t k = 0; k < plotted.size(); ++k) {
    const ScatterPoint& p = points[plotted[k]];
    const size_t colour = group_colour.emplace(p.group, group_colour.size()).first->second;
    const double x = sx(p.size_mb), y = sy(100 * p.miou);
    s += str_cat("<g class=\"point", on_front[k] ? " front" : "", "\" data-label=\"",
                 html_escape(p.label), "\">");
    s += str_cat(
        "<circle cx=\"", num(x), "\" cy=\"", num(y), "\" r=\"5\" fill=\"", palette_colour(colour),
        "\"><title>",
        html_escape(str_cat(p.label, ": ", format_significant(p.size_mb), " MB, mIoU ",
                            format_percent(p.miou), " %", on_front[k] ? " (Pareto front)" : "")),
        "</title></circle>");
    s += text(x + 8, y - 6, p.label, "class=\"point-label\"");
    s += "</g>\n";
  }
  s += "</svg>\n";
  return s + note;
}

std::string svg_class_deltas(const std::vector<std::pair<std::string, double>>& sorted_deltas,
                             const std::string& method, size_t named_worst) {
  if (sorted_deltas.empty()) {
    return str_cat("<p class=\"note\">", html_escape(method),
                   ": no class has an IoU for both this method and fp32.</p>\n");
  }
  // The worst classes' names sit in a band above the plot, one row each (worst on top), joined to
  // their bars by leader lines, so narrow neighbouring bars never get overlapping labels.
  size_t named = 0;
  while (named < std::min(named_worst, sorted_deltas.size()) && sorted_deltas[named].second < 0) {
    ++named;
  }
  const double row_h = 13;
  const double band = named > 0 ? row_h * static_cast<double>(named) + 6 : 0;
  const Frame f{680, 240 + band, 70, 20, 12 + band, 20};
  double lo = 0, hi = 0;
  for (const auto& [name, d] : sorted_deltas) {
    lo = std::min(lo, 100 * d);
    hi = std::max(hi, 100 * d);
  }
  if (hi - lo < 1e-9) {
    lo -= 1;
    hi += 1;
  }
  const double pad = 0.06 * (hi - lo);
  const Scale sy{lo - pad, hi + pad, f.height - f.bottom, f.top, false};
  const double bar_w = f.plot_w() / static_cast<double>(sorted_deltas.size());

  std::string s =
      svg_open(f, "class-deltas", str_cat("per-class IoU change of ", method, " versus fp32"));
  s += str_cat("<rect class=\"frame\" x=\"", num(f.left), "\" y=\"", num(f.top), "\" width=\"",
               num(f.plot_w()), "\" height=\"", num(f.plot_h()), "\"/>\n");
  for (double t : nice_ticks(lo - pad, hi + pad, 5)) {
    s += line(f.left, sy(t), f.width - f.right, sy(t), "grid");
    s +=
        text(f.left - 6, sy(t) + 4, format_significant(t, 3), "class=\"tick\" text-anchor=\"end\"");
  }
  s += text(16, f.top + f.plot_h() / 2, "ΔIoU (points)",
            str_cat("class=\"axis-label\" text-anchor=\"middle\" transform=\"rotate(-90 16 ",
                    num(f.top + f.plot_h() / 2), ")\""));
  const double zero = sy(0);
  for (size_t i = 0; i < sorted_deltas.size(); ++i) {
    const auto& [name, d] = sorted_deltas[i];
    const double y = sy(100 * d);
    const double x = f.left + i * bar_w;
    s += str_cat(
        "<rect class=\"bar ", d < 0 ? "worse" : "better", "\" x=\"", format_fixed(x, 2), "\" y=\"",
        num(std::min(y, zero)), "\" width=\"", format_fixed(std::max(bar_w - 0.5, 0.5), 2),
        "\" height=\"", num(std::max(std::fabs(zero - y), 0.5)), "\"><title>",
        html_escape(str_cat(name, ": ", format_points(d), " IoU points")), "</title></rect>\n");
  }
  s += line(f.left, zero, f.width - f.right, zero, "zero");
  for (size_t i = 0; i < named; ++i) {
    const double x = f.left + (static_cast<double>(i) + 0.5) * bar_w;
    const double y = 12 + row_h * static_cast<double>(i) + 9;
    s += line(x, y - 4, x, zero, "leader");
    s +=
        text(x + 4, y, str_cat(sorted_deltas[i].first, " ", format_points(sorted_deltas[i].second)),
             "class=\"class-name\"");
  }
  s += "</svg>\n";
  return s;
}

std::string svg_latency_bars(const std::vector<std::pair<std::string, double>>& ms_per_image) {
  const double row_h = 26;
  const Frame f{680, 30 + row_h * static_cast<double>(ms_per_image.size()), 160, 90, 10, 20};
  double max_ms = 0;
  for (const auto& [label, ms] : ms_per_image) {
    if (std::isfinite(ms)) max_ms = std::max(max_ms, ms);
  }
  const double scale = max_ms > 0 ? f.plot_w() / max_ms : 0;
  std::string s = svg_open(f, "latency", "milliseconds per image by method");
  for (size_t i = 0; i < ms_per_image.size(); ++i) {
    const auto& [label, ms] = ms_per_image[i];
    const double y = f.top + row_h * static_cast<double>(i);
    s += text(f.left - 8, y + 17, label, "class=\"bar-label\" text-anchor=\"end\"");
    if (std::isfinite(ms)) {
      const double w = std::max(ms * scale, 1.0);
      s += str_cat(
          "<rect class=\"bar latency\" x=\"", num(f.left), "\" y=\"", num(y + 4), "\" width=\"",
          num(w), "\" height=\"", num(row_h - 8), "\" fill=\"", palette_colour(i), "\"><title>",
          html_escape(str_cat(label, ": ", format_fixed(ms, 2), " ms/image")), "</title></rect>\n");
      s += text(f.left + w + 6, y + 17, format_fixed(ms, 1) + " ms", "class=\"bar-value\"");
    } else {
      s += text(f.left + 6, y + 17, "n/a", "class=\"bar-value na\"");
    }
  }
  s += "</svg>\n";
  return s;
}

}  // namespace segq::report
