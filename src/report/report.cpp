#include "report/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "io/file_util.h"
#include "report/html_util.h"
#include "report/sample_images.h"
#include "report/svg_charts.h"

namespace segq {

namespace report {

namespace fs = std::filesystem;

namespace {

constexpr size_t kNamedWorstClasses = 5;

constexpr const char* kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px;
       color: #222; max-width: 1200px; }
h1 { font-size: 1.5em; margin-bottom: 4px; }
h2 { font-size: 1.2em; margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 1em; margin-bottom: 4px; }
p.meta, p.note { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.settings td { font-family: ui-monospace, monospace; word-break: break-all; max-width: 720px; }
svg.chart { display: block; margin: 8px 0; font-size: 11px; }
svg .frame { fill: none; stroke: #999; }
svg .grid { stroke: #eee; }
svg .zero { stroke: #333; }
svg .leader { stroke: #888; stroke-width: 0.75; }
svg .pareto-front { fill: none; stroke: #444; stroke-width: 1.5; stroke-dasharray: 5 3; }
svg .point.front circle { stroke: #000; stroke-width: 1.5; }
svg .bar.worse { fill: #d62728; }
svg .bar.better { fill: #2ca02c; }
svg .class-name { font-size: 10px; fill: #333; }
svg .axis-label { font-size: 12px; fill: #333; }
div.sample-cells { display: flex; flex-wrap: wrap; gap: 8px; }
figure { margin: 0; }
figcaption { font-size: 0.8em; color: #444; text-align: center; }
img.sample { width: 192px; height: auto; image-rendering: pixelated; border: 1px solid #ccc; }
div.missing { width: 192px; font-size: 0.8em; color: #a00; border: 1px dashed #a00; padding: 4px; }
)";

std::string page_open(const std::string& title) {
  return str_cat("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
                 "<meta name=\"generator\" content=\"segq\">\n<title>", html_escape(title),
                 "</title>\n<style>", kStyle, "</style>\n</head>\n<body>\n");
}

std::string td(const std::string& text, bool numeric = false) {
  return str_cat("<td", numeric ? " class=\"num\"" : "", ">", html_escape(text), "</td>");
}

std::string interval_text(const Interval& d) {
  std::string s = format_points(d.value);
  if (std::isfinite(d.low) || std::isfinite(d.high)) {
    s += str_cat(" [", format_points(d.low), ", ", format_points(d.high), "]");
  }
  return s;
}

std::string results_table(const RunResults& run) {
  std::string s =
      "<table class=\"results\">\n<thead><tr><th>method</th><th>spec</th><th>images</th>"
      "<th>bits/weight</th><th>size MB</th><th>compression</th><th>mIoU %</th><th>mAcc %</th>"
      "<th>aAcc %</th><th>ΔmIoU vs fp32 (points) [95 % CI]</th><th>agreement %</th>"
      "<th>logit NMSE</th><th>ms/image</th><th>images/s</th></tr></thead>\n<tbody>\n";
  for (const MethodSummary& m : run.methods) {
    s += "<tr>" + td(m.name) + td(m.spec) + td(format_fixed(m.num_images, 0), true) +
         td(format_significant(m.bits_per_weight), true) + td(format_fixed(m.size_mb, 2), true) +
         td(std::isfinite(m.compression) ? format_fixed(m.compression, 2) + "x" : "n/a", true) +
         td(format_percent(m.mean_iou), true) + td(format_percent(m.mean_accuracy), true) +
         td(format_percent(m.overall_accuracy), true) + td(interval_text(m.delta_miou), true) +
         td(format_percent(m.agreement_vs_fp32), true) +
         td(format_significant(m.logit_nmse_vs_fp32), true) +
         td(format_fixed(m.ms_per_image, 1), true) + td(format_fixed(m.images_per_s, 2), true) +
         "</tr>\n";
  }
  return s + "</tbody>\n</table>\n";
}

std::string per_class_section(const RunResults& run) {
  if (run.baseline < 0) {
    return "<p class=\"note\">No fp32 method in this run: per-class changes are n/a.</p>\n";
  }
  const MethodSummary& base = run.methods[run.baseline];
  std::map<int, double> base_iou;
  for (const ClassResult& c : base.per_class) base_iou[c.id] = c.iou;
  if (base_iou.empty()) return "<p class=\"note\">No per-class IoU in this run: n/a.</p>\n";
  std::string s;
  for (size_t i = 0; i < run.methods.size(); ++i) {
    if (static_cast<int>(i) == run.baseline) continue;
    const MethodSummary& m = run.methods[i];
    std::vector<std::pair<std::string, double>> deltas;
    for (const ClassResult& c : m.per_class) {
      auto it = base_iou.find(c.id);
      if (it != base_iou.end() && std::isfinite(it->second) && std::isfinite(c.iou)) {
        deltas.emplace_back(c.name, c.iou - it->second);
      }
    }
    std::stable_sort(deltas.begin(), deltas.end(),
                     [](const auto& a, const auto& b) { return a.second < b.second; });
    s += str_cat("<h3>", html_escape(m.name), "</h3>\n");
    s += svg_class_deltas(deltas, m.name, kNamedWorstClasses);
    std::string worst;
    for (size_t k = 0; k < deltas.size() && k < kNamedWorstClasses && deltas[k].second < 0; ++k) {
      worst += str_cat(k ? ", " : "", html_escape(deltas[k].first), " (",
                       format_points(deltas[k].second), ")");
    }
    s += str_cat("<p class=\"note\">", deltas.size(),
                 " classes compared. Worst: ", worst.empty() ? "none lost IoU" : worst, ".</p>\n");
  }
  return s;
}

std::string image_cell(const RunResults& run, const std::string& rel_path,
                       const std::string& base_image, const std::string& caption) {
  const EmbeddedImage img = embed_sample_image(run.run_dir, rel_path, base_image);
  std::string s = "<figure>";
  if (img.data_uri.empty()) {
    s += str_cat("<div class=\"missing\">", html_escape(img.problem), "</div>");
  } else {
    s += str_cat("<img class=\"sample\" alt=\"", html_escape(caption), "\" src=\"", img.data_uri,
                 "\">");
  }
  return s + str_cat("<figcaption>", html_escape(caption), "</figcaption></figure>\n");
}

std::string samples_section(const RunResults& run) {
  if (run.samples.empty()) return "<p class=\"note\">No samples were saved with this run.</p>\n";
  std::string s =
      "<p class=\"note\">Class maps are coloured per class and blended over the image; pixels "
      "without a label show the image.</p>\n";
  for (const SampleEntry& e : run.samples) {
    s += str_cat("<div class=\"sample\">\n<h3>", html_escape(e.id),
                 "</h3>\n<div class=\"sample-cells\">\n");
    s += image_cell(run, e.image, "", "image");
    s += image_cell(run, e.label, e.image, "ground truth");
    // Predictions in the run's method order, then any the methods list does not name.
    std::vector<std::string> order;
    for (const MethodSummary& m : run.methods) order.push_back(m.name);
    for (const auto& [method, path] : e.predictions) {
      if (std::find(order.begin(), order.end(), method) == order.end()) order.push_back(method);
    }
    for (const std::string& method : order) {
      auto it = std::find_if(e.predictions.begin(), e.predictions.end(),
                             [&](const auto& p) { return p.first == method; });
      s += image_cell(run, it == e.predictions.end() ? "" : it->second, e.image, method);
    }
    s += "</div>\n</div>\n";
  }
  return s;
}

std::string settings_table(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::string s = "<table class=\"settings\">\n<tbody>\n";
  for (const auto& [key, value] : rows) s += "<tr>" + td(key) + td(value) + "</tr>\n";
  return s + "</tbody>\n</table>\n";
}

std::string run_label(const std::string& dir) {
  fs::path p(dir);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();
  const std::string name = p.filename().string();
  return name.empty() ? dir : name;
}

std::string na_or(const std::string& s) { return s.empty() ? "n/a" : s; }

}  // namespace

std::string render_run_html(const RunResults& run) {
  const std::string title = str_cat("segq report: ", run.model, " on ", run.dataset);
  std::string s = page_open(title);
  s += str_cat("<h1>", html_escape(title), "</h1>\n<p class=\"meta\">", run.methods.size(),
               " methods · segq ", html_escape(na_or(run.segq_version)), " · ",
               html_escape(run.results_path), "</p>\n");

  s += "<section id=\"results\">\n<h2>Results</h2>\n" + results_table(run) + "</section>\n";

  std::vector<ScatterPoint> points;
  for (const MethodSummary& m : run.methods)
    points.push_back({m.name, m.name, m.size_mb, m.mean_iou});
  s += "<section id=\"size-miou\">\n<h2>Size vs mIoU</h2>\n<p class=\"note\">Stored size (packed "
       "codes, scales, zero points and unquantized tensors) against mIoU; the dashed line is the "
       "Pareto front (no other method is both smaller and better).</p>\n" +
       svg_size_miou_scatter(points) + "</section>\n";

  s += "<section id=\"per-class\">\n<h2>Per-class IoU change vs fp32</h2>\n<p class=\"note\">One "
       "bar per class, sorted from the largest loss; the worst classes are named.</p>\n" +
       per_class_section(run) + "</section>\n";

  std::vector<std::pair<std::string, double>> latency;
  for (const MethodSummary& m : run.methods) latency.emplace_back(m.name, m.ms_per_image);
  s += "<section id=\"latency\">\n<h2>Latency</h2>\n<p class=\"note\">Model forward plus "
       "upsampling and argmax, ms per image.</p>\n" +
       svg_latency_bars(latency) + "</section>\n";

  s += "<section id=\"samples\">\n<h2>Samples</h2>\n" + samples_section(run) + "</section>\n";

  s += str_cat("<section id=\"settings\">\n<h2>Settings</h2>\n<p class=\"note\">",
               run.settings_from_config ? "From config.json."
                                        : "config.json absent: from results.json info and "
                                          "fingerprint.",
               "</p>\n", settings_table(run.settings), "</section>\n");
  return s + "</body>\n</html>\n";
}

std::vector<std::string> run_labels(const std::vector<std::string>& run_dirs) {
  std::vector<std::string> labels;
  std::map<std::string, int> uses;
  for (const std::string& d : run_dirs) ++uses[run_label(d)];
  for (const std::string& d : run_dirs) labels.push_back(uses[run_label(d)] > 1 ? d : run_label(d));
  return labels;
}

std::vector<ComparisonRow> comparison_rows(const std::vector<RunResults>& runs,
                                           const std::vector<std::string>& labels) {
  SEGQ_CHECK(runs.size() == labels.size(), "comparison_rows: ", runs.size(), " runs, ",
             labels.size(), " labels");
  std::vector<ComparisonRow> rows;
  for (size_t r = 0; r < runs.size(); ++r) {
    for (const MethodSummary& m : runs[r].methods) {
      rows.push_back({labels[r], runs[r].model, runs[r].dataset, m.name, m.spec, m.bits_per_weight,
                      m.size_mb, m.mean_iou, m.delta_miou});
    }
  }
  return rows;
}

std::string comparison_text(const std::vector<ComparisonRow>& rows) {
  const std::vector<std::string> header = {"run",  "model",   "dataset", "method",
                                           "bits", "size MB", "mIoU",    "ΔmIoU"};
  std::vector<std::vector<std::string>> cells;
  for (const ComparisonRow& r : rows) {
    cells.push_back({r.run, r.model, r.dataset, r.method, format_significant(r.bits_per_weight),
                     format_fixed(r.size_mb, 2), format_percent(r.miou),
                     interval_text(r.delta_miou)});
  }
  // Column widths in code points (the header's "Δ" is two bytes).
  auto width = [](const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  std::vector<size_t> w(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    w[c] = width(header[c]);
    for (const auto& row : cells) w[c] = std::max(w[c], width(row[c]));
  }
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(w[c] - width(row[c]), ' ');
      const bool right = c >= 4;
      line += (c ? "  " : "") + (right ? pad + row[c] : row[c] + (c + 1 < row.size() ? pad : ""));
    }
    return line + "\n";
  };
  std::string out = emit(header);
  for (const auto& row : cells) out += emit(row);
  return out;
}

std::string comparison_csv(const std::vector<ComparisonRow>& rows) {
  auto num = [](double v) { return std::isfinite(v) ? format_significant(v, 17) : "n/a"; };
  std::string out =
      "run,model,dataset,method,spec,bits_per_weight,size_mb,miou,delta_miou,delta_miou_low,"
      "delta_miou_high\n";
  for (const ComparisonRow& r : rows) {
    out += str_cat(csv_field(r.run), ",", csv_field(r.model), ",", csv_field(r.dataset), ",",
                   csv_field(r.method), ",", csv_field(r.spec), ",", num(r.bits_per_weight), ",",
                   num(r.size_mb), ",", num(r.miou), ",", num(r.delta_miou.value), ",",
                   num(r.delta_miou.low), ",", num(r.delta_miou.high), "\n");
  }
  return out;
}

std::string render_comparison_html(const std::vector<ComparisonRow>& rows) {
  std::set<std::string> runs;
  for (const ComparisonRow& r : rows) runs.insert(r.run);
  std::string s = page_open("segq comparison");
  s += str_cat("<h1>segq comparison</h1>\n<p class=\"meta\">", runs.size(), " runs, ", rows.size(),
               " methods</p>\n");
  s += "<section id=\"results\">\n<h2>Results</h2>\n<table class=\"results\">\n<thead><tr>"
       "<th>run</th><th>model</th><th>dataset</th><th>method</th><th>bits/weight</th>"
       "<th>size MB</th><th>mIoU %</th><th>ΔmIoU vs fp32 (points) [95 % CI]</th></tr></thead>\n"
       "<tbody>\n";
  for (const ComparisonRow& r : rows) {
    s += "<tr>" + td(r.run) + td(r.model) + td(r.dataset) + td(r.method) +
         td(format_significant(r.bits_per_weight), true) + td(format_fixed(r.size_mb, 2), true) +
         td(format_percent(r.miou), true) + td(interval_text(r.delta_miou), true) + "</tr>\n";
  }
  s += "</tbody>\n</table>\n</section>\n";
  std::vector<ScatterPoint> points;
  for (const ComparisonRow& r : rows) {
    points.push_back(
        {runs.size() > 1 ? r.run + "/" + r.method : r.method, r.run, r.size_mb, r.miou});
  }
  s += "<section id=\"size-miou\">\n<h2>Size vs mIoU</h2>\n<p class=\"note\">Colour = run; the "
       "dashed line is the Pareto front over all runs.</p>\n" +
       svg_size_miou_scatter(points) + "</section>\n";
  return s + "</body>\n</html>\n";
}

std::string write_comparison(const std::vector<std::string>& run_dirs, const std::string& out_dir) {
  if (run_dirs.empty()) throw UsageError("report: no run directories given");
  std::vector<RunResults> runs;
  for (const std::string& d : run_dirs) runs.push_back(read_run(d));
  const std::vector<ComparisonRow> rows = comparison_rows(runs, run_labels(run_dirs));
  write_file_atomic((fs::path(out_dir) / "summary.csv").string(), comparison_csv(rows));
  write_file_atomic((fs::path(out_dir) / "report.html").string(), render_comparison_html(rows));
  return comparison_text(rows);
}

}  // namespace report

bool write_report_or_warn(const std::string& run_dir) {
  try {
    write_report_html(run_dir);
    return true;
  } catch (const std::exception& e) {
    log_warn("report: ", run_dir, "/report.html not written (results are kept): ", e.what());
    return false;
  }
}

void write_report_html(const std::string& run_dir) {
  const report::RunResults run = report::read_run(run_dir);
  write_file_atomic((std::filesystem::path(run_dir) / "report.html").string(),
                    report::render_run_html(run));
}

}  // namespace segq
