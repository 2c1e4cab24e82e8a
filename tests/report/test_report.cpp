// The HTML report and the cross-run comparison, on hand-made results.json fixtures
// (tests/report/fixtures/): parsing (both the flat layout and schema_version 1's nested one),
// the Pareto front, charts, escaping, embedded samples, errors, and the `segq report` command.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <set>
#include <string>

#include "core/error.h"
#include "io/file_util.h"
#include "io/image.h"
#include "report/html_util.h"
#include "report/pareto.h"
#include "report/report.h"
#include "report/report_test_util.h"
#include "report/run_results.h"
#include "report/sample_images.h"
#include "report/svg_charts.h"

namespace segq::report {
namespace {

using nlohmann::json;
using report_testing::check_tag_balance;
using report_testing::count_of;
using report_testing::fixture_dir;
using report_testing::make_run;
using report_testing::TempDir;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(HtmlUtil, EscapesMarkupCharacters) {
  EXPECT_EQ(html_escape("a<b>&\"c'd"), "a&lt;b&gt;&amp;&quot;c&#39;d");
  EXPECT_EQ(html_escape("plain ΔmIoU"), "plain ΔmIoU");
  EXPECT_EQ(html_escape("&amp;"), "&amp;amp;");
}

TEST(HtmlUtil, FormatsNumbersAndNaN) {
  EXPECT_EQ(format_percent(0.45744), "45.74");
  EXPECT_EQ(format_percent(kNaN), "n/a");
  EXPECT_EQ(format_points(-0.0123), "-1.23");
  EXPECT_EQ(format_points(0.0), "+0.00");
  EXPECT_EQ(format_points(INFINITY), "n/a");
  EXPECT_EQ(format_fixed(kNaN, 2), "n/a");
  EXPECT_EQ(format_significant(14.93), "14.9");
}

TEST(HtmlUtil, Base64MatchesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\x00\xfe", 3)), "/wD+");
}

TEST(HtmlUtil, CsvFieldQuotesOnlyWhenNeeded) {
  EXPECT_EQ(csv_field("int4"), "int4");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
}

TEST(Pareto, KeepsOnlyNonDominatedPointsSortedBySize) {
  // fp32 (14.9, .62), int8 (3.95, .618), int4 (2.2, .60), int2 (1.3, .31), bad int4 (2.4, .55).
  const std::vector<SizeScore> pts = {
      {14.9, 0.62}, {3.95, 0.618}, {2.2, 0.60}, {1.3, 0.31}, {2.4, 0.55}};
  EXPECT_EQ(pareto_front(pts), (std::vector<size_t>{3, 2, 1, 0}));
}

TEST(Pareto, DominanceNeedsOneStrictImprovement) {
  // Same size, lower score: dominated. Same score, larger size: dominated. Identical: both kept.
  EXPECT_EQ(pareto_front({{2, 0.5}, {2, 0.4}}), (std::vector<size_t>{0}));
  EXPECT_EQ(pareto_front({{3, 0.5}, {2, 0.5}}), (std::vector<size_t>{1}));
  EXPECT_EQ(pareto_front({{2, 0.5}, {2, 0.5}}), (std::vector<size_t>{0, 1}));
  // A bigger, better point stays; a bigger, worse point goes.
  EXPECT_EQ(pareto_front({{1, 0.1}, {5, 0.9}, {6, 0.8}}), (std::vector<size_t>{0, 1}));
}

TEST(Pareto, IgnoresNonFinitePointsAndEmptyInput) {
  EXPECT_TRUE(pareto_front({}).empty());
  EXPECT_EQ(pareto_front({{kNaN, 0.9}, {1, kNaN}, {2, 0.3}, {INFINITY, 1.0}}),
            (std::vector<size_t>{2}));
}

TEST(Pareto, MatchesBruteForceDefinition) {
  // Pseudo-random points on a coarse grid (many ties) against the O(n^2) definition.
  uint32_t state = 12345;
  auto next = [&] { return (state = state * 1664525u + 1013904223u) >> 24; };
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<SizeScore> pts(1 + next() % 12);
    for (SizeScore& p : pts) p = {double(next() % 6), double(next() % 6) / 5};
    std::set<size_t> expected;
    for (size_t i = 0; i < pts.size(); ++i) {
      bool dominated = false;
      for (size_t j = 0; j < pts.size(); ++j) {
        dominated = dominated || (pts[j].size <= pts[i].size && pts[j].score >= pts[i].score &&
                                  (pts[j].size < pts[i].size || pts[j].score > pts[i].score));
      }
      if (!dominated) expected.insert(i);
    }
    const std::vector<size_t> front = pareto_front(pts);
    EXPECT_EQ(std::set<size_t>(front.begin(), front.end()), expected) << "trial " << trial;
    for (size_t k = 1; k < front.size(); ++k) EXPECT_LE(pts[front[k - 1]].size, pts[front[k]].size);
  }
}

TEST(Charts, NiceTicksCoverTheRangeWithRoundSteps) {
  EXPECT_EQ(nice_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  const std::vector<double> t = nice_ticks(-3.2, 0.7, 5);
  ASSERT_FALSE(t.empty());
  EXPECT_GE(t.front(), -3.2);
  EXPECT_LE(t.back(), 0.7);
  EXPECT_TRUE(std::find(t.begin(), t.end(), 0.0) != t.end());
  EXPECT_TRUE(nice_ticks(1, 1, 5).empty());
  EXPECT_TRUE(nice_ticks(kNaN, 1, 5).empty());
}

TEST(Charts, ScatterHasOnePointPerMethodAndListsUnplottable) {
  const std::string svg = svg_size_miou_scatter({{"fp32", "fp32", 14.9, 0.62},
                                                 {"a<b", "a<b", 2.2, 0.6},
                                                 {"nosize", "nosize", kNaN, 0.5},
                                                 {"nomiou", "nomiou", 1.0, kNaN}});
  EXPECT_EQ(count_of(svg, "<g class=\"point"), 2u);
  EXPECT_EQ(count_of(svg, "<g class=\"point front\""), 2u);
  EXPECT_NE(svg.find("data-label=\"a&lt;b\""), std::string::npos);
  EXPECT_EQ(svg.find("a<b"), std::string::npos);
  EXPECT_NE(svg.find("Not plotted (size or mIoU n/a): nosize, nomiou."), std::string::npos);
  EXPECT_EQ(check_tag_balance(svg), "");
  // Nothing plottable: a note, no chart.
  const std::string none = svg_size_miou_scatter({{"x", "x", kNaN, 0.5}});
  EXPECT_EQ(none.find("<svg"), std::string::npos);
  EXPECT_NE(none.find("x"), std::string::npos);
}

TEST(Charts, ClassDeltasBarPerClassAndNamesWorst) {
  const std::string svg = svg_class_deltas(
      {{"sky & sea", -0.2}, {"wall", -0.1}, {"tree", 0.0}, {"road", 0.05}}, "int4", 1);
  EXPECT_EQ(count_of(svg, "<rect class=\"bar "), 4u);
  EXPECT_EQ(count_of(svg, "class=\"class-name\""), 1u);
  EXPECT_NE(svg.find(">sky &amp; sea -20.00</text>"), std::string::npos);
  EXPECT_EQ(count_of(svg, "<line class=\"leader\""), 1u);
  EXPECT_EQ(count_of(svg, "bar worse"), 2u);
  EXPECT_EQ(check_tag_balance(svg), "");
}

TEST(Charts, LatencyBarsShowNaNAsNa) {
  const std::string svg = svg_latency_bars({{"fp32", 41.5}, {"int2", kNaN}});
  EXPECT_EQ(count_of(svg, "<rect class=\"bar latency\""), 1u);
  EXPECT_NE(svg.find(">n/a</text>"), std::string::npos);
  EXPECT_NE(svg.find(">41.5 ms</text>"), std::string::npos);
}

TEST(SampleImages, ClassColoursAreDistinctAndNeverBlack) {
  std::set<std::array<uint8_t, 3>> seen;
  for (int id = 0; id < 255; ++id) {
    const auto c = class_colour(id);
    EXPECT_NE(c, (std::array<uint8_t, 3>{0, 0, 0})) << id;
    seen.insert(c);
  }
  EXPECT_EQ(seen.size(), 255u);
}

TEST(SampleImages, LabelMapsAreColouredAndBlendedOverTheImage) {
  TempDir dir;
  const ImageU8 rgb = report_testing::sample_rgb(16, 24);
  const ImageU8 labels = report_testing::sample_labels(16, 24, 0);
  write_file_atomic(dir / "image.png", encode_png(rgb));
  write_file_atomic(dir / "label.png", encode_png(labels));
  const EmbeddedImage e = embed_sample_image(dir.path(), "label.png", "image.png");
  ASSERT_EQ(e.problem, "");
  const std::string prefix = "data:image/png;base64,";
  ASSERT_EQ(e.data_uri.rfind(prefix, 0), 0u);
  // Decode the base64 back and check blended pixels.
  std::string b64 = e.data_uri.substr(prefix.size()), bytes;
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint32_t acc = 0;
  int bits = 0;
  for (char c : b64) {
    if (c == '=') break;
    acc = acc << 6 | static_cast<uint32_t>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  const ImageU8 out = decode_image_rgb(bytes, "embedded");
  ASSERT_EQ(out.height, 16);
  ASSERT_EQ(out.width, 24);
  for (int y : {0, 5, 15}) {
    for (int x : {0, 1, 7, 23}) {
      const int id = labels.row(y)[x];
      const auto c = class_colour(id);
      for (int ch = 0; ch < 3; ++ch) {
        const int under = rgb.row(y)[3 * x + ch];
        const int expected = id == 255 ? under : (c[ch] + under + 1) / 2;
        EXPECT_EQ(out.row(y)[3 * x + ch], expected) << y << "," << x << " ch " << ch;
      }
    }
  }
  // An RGB PNG is embedded byte for byte; a missing file is reported, not thrown.
  EXPECT_EQ(embed_sample_image(dir.path(), "image.png", "").data_uri,
            prefix + base64_encode(read_file(dir / "image.png")));
  EXPECT_EQ(embed_sample_image(dir.path(), "nope.png", "").problem, "missing: nope.png");
  write_file_atomic(dir / "junk.png", "not an image");
  EXPECT_NE(embed_sample_image(dir.path(), "junk.png", "").problem.find("not a PNG or JPEG"),
            std::string::npos);
}

TEST(RunResults, ReadsTheFlatLayoutWithConfig) {
  const RunResults run = read_run(fixture_dir("run_full"));
  EXPECT_EQ(run.model, "nvidia/segformer-b0 <finetuned> & \"ade\"");
  EXPECT_EQ(run.dataset, "ADE20K validation (4 images)");
  ASSERT_EQ(run.methods.size(), 5u);
  EXPECT_EQ(run.baseline, 0);
  const MethodSummary& int4 = run.methods[2];
  EXPECT_EQ(int4.name, "int4");
  EXPECT_EQ(int4.spec, "int4-g64");
  EXPECT_DOUBLE_EQ(int4.mean_iou, 0.60);
  EXPECT_DOUBLE_EQ(int4.size_mb, 2.2);
  EXPECT_DOUBLE_EQ(int4.delta_miou.low, -0.03);
  EXPECT_DOUBLE_EQ(int4.logit_nmse_vs_fp32, 3.1e-3);
  ASSERT_EQ(int4.per_class.size(), 6u);
  EXPECT_EQ(int4.per_class[5].name, "<b>&\"person's\"</b>");
  EXPECT_TRUE(std::isnan(run.methods[3].ms_per_image));      // null
  EXPECT_TRUE(std::isnan(run.methods[3].per_class[3].iou));  // null
  EXPECT_TRUE(std::isnan(run.methods[4].delta_miou.low));    // null inside the interval
  ASSERT_EQ(run.samples.size(), 2u);
  EXPECT_EQ(run.samples[1].label, "samples/s2/label.png");
  EXPECT_EQ(run.samples[1].predictions.size(), 5u);
  EXPECT_TRUE(run.settings_from_config);
  bool found = false;
  for (const auto& [k, v] : run.settings) found = found || (k == "data.split" && v == "validation");
  EXPECT_TRUE(found);
}

TEST(RunResults, ReadsSchemaVersion1NestedLayoutAndFillsGaps) {
  const RunResults run = read_run(fixture_dir("run_nested"));
  EXPECT_EQ(run.model, "assets/models/demo");  // model object without a name -> info.model
  EXPECT_EQ(run.dataset, "ade20k:validation");
  ASSERT_EQ(run.methods.size(), 2u);
  const MethodSummary& fp32 = run.methods[0];
  const MethodSummary& int2 = run.methods[1];
  EXPECT_DOUBLE_EQ(fp32.mean_iou, 0.5);
  EXPECT_DOUBLE_EQ(fp32.ms_per_image, 12.5);
  EXPECT_TRUE(std::isnan(fp32.size_mb));
  EXPECT_TRUE(std::isnan(int2.mean_iou));
  EXPECT_TRUE(std::isnan(int2.delta_miou.value));  // computed from a NaN mIoU
  EXPECT_DOUBLE_EQ(fp32.delta_miou.value, 0.0);    // computed: no field in the file
  EXPECT_TRUE(std::isnan(fp32.delta_miou.low));
  ASSERT_EQ(fp32.per_class.size(), 3u);
  EXPECT_EQ(fp32.per_class[1].name, "sky");  // from fingerprint.model.id2label
  EXPECT_TRUE(std::isnan(fp32.per_class[1].iou));
  EXPECT_DOUBLE_EQ(int2.per_class[2].accuracy, 0.55);
  EXPECT_FALSE(run.settings_from_config);
  EXPECT_TRUE(run.samples.empty());
}

TEST(RunResults, ErrorsNameTheFileAndField) {
  const json base = json::parse(read_file(fixture_dir("run_full") + "/results.json"));
  auto parse_error = [&](const std::function<void(json&)>& edit) {
    json j = base;
    edit(j);
    return error_of([&] { parse_run(j, "runs/x/results.json", json(), ""); });
  };
  EXPECT_EQ(parse_error([](json& j) { j["methods"][1]["mean_iou"] = "high"; }),
            "runs/x/results.json: field 'methods[1].mean_iou': expected a number or null, got "
            "string \"high\"");
  EXPECT_EQ(parse_error([](json& j) { j["methods"][2]["delta_miou_vs_fp32"]["low"] = true; }),
            "runs/x/results.json: field 'methods[2].delta_miou_vs_fp32.low': expected a number or "
            "null, got boolean true");
  EXPECT_EQ(parse_error([](json& j) { j["methods"][0].erase("name"); }),
            "runs/x/results.json: missing field 'methods[0].name'");
  EXPECT_EQ(parse_error([](json& j) { j.erase("methods"); }),
            "runs/x/results.json: missing field 'methods'");
  EXPECT_EQ(parse_error([](json& j) { j["kind"] = "segq-shard"; }),
            "runs/x/results.json: field 'kind': expected \"segq-results\", got \"segq-shard\"");
  EXPECT_EQ(parse_error([](json& j) { j["methods"][0]["per_class"][2]["iou"] = json::array(); }),
            "runs/x/results.json: field 'methods[0].per_class[2].iou': expected a number or "
            "null, got array");
  EXPECT_EQ(parse_error([](json& j) { j["samples"][0]["image"] = "../../etc/passwd"; }),
            "runs/x/results.json: field 'samples[0].image': expected a path inside the run "
            "directory, got \"../../etc/passwd\"");
  EXPECT_EQ(parse_error([](json& j) { j["samples"][1]["predictions"]["int8"] = "/abs.png"; }),
            "runs/x/results.json: field 'samples[1].predictions.int8': expected a path inside the "
            "run directory, got \"/abs.png\"");
  // Missing optional fields are not errors.
  EXPECT_EQ(parse_error([](json& j) {
              for (auto& m : j["methods"]) {
                m.erase("size_mb");
                m.erase("size_bytes");
                m.erase("per_class");
              }
              j.erase("samples");
            }),
            "(no error)");
}

TEST(RunResults, FileErrorsNameTheFile) {
  TempDir dir;
  EXPECT_THROW(read_run(dir.path()), UsageError);
  EXPECT_NE(error_of([&] { read_run(dir.path()); }).find(dir / "results.json"), std::string::npos);
  write_file_atomic(dir / "results.json", "{\"kind\": \"segq-results\", ");
  EXPECT_NE(error_of([&] { read_run(dir.path()); }).find(dir / "results.json" + ": malformed JSON"),
            std::string::npos);
  std::filesystem::copy_file(fixture_dir("run_nested") + "/results.json", dir / "results.json",
                             std::filesystem::copy_options::overwrite_existing);
  write_file_atomic(dir / "config.json", "[1, 2]");
  EXPECT_EQ(error_of([&] { read_run(dir.path()); }),
            dir / "config.json" + ": field '(top level)': expected an object, got array");
}

TEST(RunReport, WritesOneSelfContainedBalancedPage) {
  TempDir dir;
  const std::string run = dir / "run";
  make_run("run_full", run);
  write_report_html(run);
  const std::string html = read_file(run + "/report.html");
  EXPECT_EQ(check_tag_balance(html), "");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  // Self-contained: no external resources, no script.
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  // Escaping: class names, the model name and config values never appear raw.
  EXPECT_EQ(html.find("<b>&"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;&amp;&quot;person&#39;s&quot;&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("nvidia/segformer-b0 &lt;finetuned&gt; &amp; &quot;ade&quot;"),
            std::string::npos);
  EXPECT_NE(html.find("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html.find("scene &lt;2&gt; &amp; &quot;x&quot;"), std::string::npos);
  // Charts: a scatter with a point per method and the front, a per-class chart per quantized
  // method, latency bars (int2 n/a).
  EXPECT_EQ(count_of(html, "<svg class=\"chart scatter\""), 1u);
  EXPECT_EQ(count_of(html, "<g class=\"point"), 5u);
  EXPECT_EQ(count_of(html, "<g class=\"point front\""), 4u);
  EXPECT_NE(html.find("<g class=\"point\" data-label=\"int4-dominated\""), std::string::npos);
  EXPECT_EQ(count_of(html, "<polyline class=\"pareto-front\""), 1u);
  EXPECT_EQ(count_of(html, "<svg class=\"chart class-deltas\""), 4u);
  EXPECT_EQ(count_of(html, "<svg class=\"chart latency\""), 1u);
  EXPECT_EQ(count_of(html, "<rect class=\"bar latency\""), 4u);
  // int2 lost most on "building" (0.65 -> 0.2): named first among its worst classes.
  EXPECT_NE(html.find("Worst: building (-45.00), wall (-40.00)"), std::string::npos);
  // Results table: NaN as n/a, interval shown.
  EXPECT_NE(html.find("<td class=\"num\">-2.00 [-3.00, -1.00]</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">n/a</td>"), std::string::npos);
  // Samples: 2 samples x (image, ground truth, 5 methods), all embedded.
  EXPECT_EQ(count_of(html, "<img class=\"sample\""), 14u);
  EXPECT_EQ(count_of(html, "src=\"data:image/png;base64,"), 14u);
  EXPECT_NE(html.find("From config.json."), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(run + "/report.html.tmp-" + std::to_string(::getpid())));
}

TEST(RunReport, MissingSampleFilesAndFieldsShowNotFail) {
  TempDir dir;
  const std::string run = dir / "run";
  make_run("run_full", run, {"samples/s1/int8.png", "samples/s2/image.png"});
  write_report_html(run);
  const std::string html = read_file(run + "/report.html");
  EXPECT_EQ(check_tag_balance(html), "");
  EXPECT_EQ(count_of(html, "<img class=\"sample\""), 12u);
  EXPECT_NE(html.find("missing: samples/s1/int8.png"), std::string::npos);
  EXPECT_NE(html.find("missing: samples/s2/image.png"), std::string::npos);

  const std::string nested = dir / "nested";
  make_run("run_nested", nested);
  write_report_html(nested);
  const std::string h2 = read_file(nested + "/report.html");
  EXPECT_EQ(check_tag_balance(h2), "");
  EXPECT_EQ(h2.find("<svg class=\"chart scatter\""), std::string::npos);  // no sizes
  EXPECT_NE(h2.find("Not plotted (size or mIoU n/a): fp32, int2."), std::string::npos);
  EXPECT_NE(h2.find("No samples were saved"), std::string::npos);
  EXPECT_NE(h2.find("config.json absent"), std::string::npos);
  EXPECT_NE(h2.find("<td>info.threads</td><td>1</td>"), std::string::npos);
  EXPECT_EQ(count_of(h2, "<svg class=\"chart class-deltas\""), 1u);
}

TEST(Comparison, RowsCsvTextAndHtmlAcrossRuns) {
  TempDir dir;
  make_run("run_full", dir / "b0");
  make_run("run_nested", dir / "b2");
  const std::string table = write_comparison({dir / "b0", dir / "b2/"}, dir / "cmp");
  const std::string csv = read_file(dir / "cmp/summary.csv");
  const std::string html = read_file(dir / "cmp/report.html");
  EXPECT_EQ(count_of(csv, "\n"), 1u + 5u + 2u);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "run,model,dataset,method,spec,bits_per_weight,size_mb,miou,delta_miou,"
            "delta_miou_low,delta_miou_high");
  EXPECT_NE(csv.find("\nb0,\"nvidia/segformer-b0 <finetuned> & \"\"ade\"\"\",ADE20K validation "
                     "(4 images),int4,int4-g64,4.5,2.2000000000000002,0.59999999999999998,"),
            std::string::npos);
  EXPECT_NE(
      csv.find("\nb2,assets/models/demo,ade20k:validation,int2,int2,n/a,n/a,n/a,n/a,n/a,n/a\n"),
      std::string::npos);
  EXPECT_NE(table.find("run "), std::string::npos);
  EXPECT_EQ(count_of(table, "\nb0 "), 5u);
  EXPECT_EQ(count_of(table, "\nb2 "), 2u);
  EXPECT_EQ(check_tag_balance(html), "");
  EXPECT_EQ(count_of(html, "<g class=\"point"), 5u);  // b2 has no sizes
  EXPECT_NE(html.find("data-label=\"b0/int2\""), std::string::npos);
  EXPECT_NE(html.find("Not plotted (size or mIoU n/a): b2/fp32, b2/int2."), std::string::npos);
}

TEST(Comparison, RunLabelsAreUniqueNames) {
  EXPECT_EQ(run_labels({"runs/a", "runs/b/"}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(run_labels({"x/a", "y/a", "z"}), (std::vector<std::string>{"x/a", "y/a", "z"}));
}

int run_segq(const std::string& args) {
  const int status = std::system((std::string(SEGQ_EXE) + " " + args + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(ReportCommand, WritesRunReportsAndComparisons) {
  TempDir dir;
  make_run("run_full", dir / "r1");
  make_run("run_nested", dir / "r2");
  ASSERT_EQ(run_segq("report " + dir / "r1" + " " + dir / "r2"), 0);
  EXPECT_TRUE(std::filesystem::exists(dir / "r1/report.html"));
  EXPECT_TRUE(std::filesystem::exists(dir / "r2/report.html"));
  ASSERT_EQ(run_segq("report " + dir / "r1" + " " + dir / "r2" + " --out " + dir / "cmp"), 0);
  EXPECT_TRUE(std::filesystem::exists(dir / "cmp/summary.csv"));
  EXPECT_TRUE(std::filesystem::exists(dir / "cmp/report.html"));
  EXPECT_EQ(run_segq("report " + dir / "nope" + " --out " + dir / "cmp2"), 2);
  EXPECT_EQ(run_segq("report --out " + dir / "cmp2"), 2);
  write_file_atomic(dir / "bad/results.json", "{\"kind\": \"segq-results\"}");
  EXPECT_EQ(run_segq("report " + dir / "bad"), 1);
  EXPECT_FALSE(std::filesystem::exists(dir / "cmp2"));
}

}  // namespace
}  // namespace segq::report
