// segq report RUN_DIRS... [--out DIR]
// With --out: one comparison across the runs (run, model, dataset, method, bits, size, mIoU,
// ΔmIoU) printed and written to DIR/report.html and DIR/summary.csv. Without --out: (re)writes
// each run's own RUN_DIR/report.html from its results.json (+ config.json) and prints the table.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "report/report.h"

namespace segq::cli {
namespace {

struct ReportArgs {
  std::vector<std::string> run_dirs;
  std::string out;
};

void run_report(const ReportArgs& a) {
  for (const std::string& d : a.run_dirs) {
    if (!std::filesystem::is_directory(d)) throw UsageError(str_cat(d, ": no such run directory"));
  }
  if (!a.out.empty()) {
    std::fputs(report::write_comparison(a.run_dirs, a.out).c_str(), stdout);
    std::printf("wrote %s and %s\n",
                (std::filesystem::path(a.out) / "report.html").string().c_str(),
                (std::filesystem::path(a.out) / "summary.csv").string().c_str());
    return;
  }
  std::vector<report::RunResults> runs;
  for (const std::string& d : a.run_dirs) {
    write_report_html(d);
    runs.push_back(report::read_run(d));
  }
  std::fputs(report::comparison_text(report::comparison_rows(runs, report::run_labels(a.run_dirs)))
                 .c_str(),
             stdout);
  for (const std::string& d : a.run_dirs) {
    std::printf("wrote %s\n", (std::filesystem::path(d) / "report.html").string().c_str());
  }
}

void setup(CLI::App& app, int* /*exit_code*/) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report", "HTML report of evaluation runs, or a comparison across runs with --out");
  cmd->add_option("run_dirs", args->run_dirs, "Run directories (each with results.json)")
      ->required();
  cmd->add_option("--out", args->out,
                  "Write the comparison to DIR/report.html and DIR/summary.csv (without it, "
                  "each run's own report.html is rewritten)");
  cmd->callback([args] { run_report(*args); });
}

SEGQ_REGISTER_COMMAND("report", 45, setup);

}  // namespace
}  // namespace segq::cli
