// The HTML report of an evaluation run and the comparison across runs. Reads the run's files only
// (report/run_results.h); writes one self-contained HTML file (inline SVG charts and CSS, images as
// data: URIs, no script, no network).
#pragma once

#include <string>
#include <vector>

#include "report/run_results.h"

namespace segq {

// Reads <run_dir>/results.json (+ config.json when present) and writes <run_dir>/report.html
// atomically. Throws segq::Error naming the file and field on malformed input.
void write_report_html(const std::string& run_dir);
// write_report_html for the end of `segq eval` / `segq merge`: the results are already on disk, so
// a report that cannot be written is a warning (naming the run and the cause), not a failure.
// Returns whether report.html was written.
bool write_report_or_warn(const std::string& run_dir);

namespace report {

// The report page of one run.
std::string render_run_html(const RunResults& run);

// One row of the cross-run comparison (a method of a run).
struct ComparisonRow {
  std::string run;
  std::string model;
  std::string dataset;
  std::string method;
  std::string spec;
  double bits_per_weight;
  double size_mb;
  double miou;
  Interval delta_miou;  // vs the run's own fp32
};

// Short names for run directories: their last path component, or the path as given when two
// runs would share one.
std::vector<std::string> run_labels(const std::vector<std::string>& run_dirs);

std::vector<ComparisonRow> comparison_rows(const std::vector<RunResults>& runs,
                                           const std::vector<std::string>& labels);
// Aligned plain-text table (stdout).
std::string comparison_text(const std::vector<ComparisonRow>& rows);
// CSV: run,model,dataset,method,spec,bits_per_weight,size_mb,miou,delta_miou,delta_miou_low,
// delta_miou_high (fractions, not percent; "n/a" when unknown).
std::string comparison_csv(const std::vector<ComparisonRow>& rows);
std::string render_comparison_html(const std::vector<ComparisonRow>& rows);

// Reads every run, writes <out_dir>/report.html and <out_dir>/summary.csv atomically, and returns
// the text table.
std::string write_comparison(const std::vector<std::string>& run_dirs, const std::string& out_dir);

}  // namespace report
}  // namespace segq
