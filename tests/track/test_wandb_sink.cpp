// The W&B sink: evaluation events mapped onto one W&B run per method, resume, shards, merge.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/file_util.h"
#include "track/sink.h"
#include "track/wandb_run_writer.h"
#include "track/wandb_settings.h"
#include "track/wandb_sink.h"
#include "track_test_util.h"

namespace segq::track {
namespace {

namespace fs = std::filesystem;
using segq::testing::items_json;
using segq::testing::read_wandb_records;
using segq::testing::record_kinds;
using segq::testing::TempDir;

TrackingRun sample_run(const std::vector<std::string>& methods) {
  TrackingRun run;
  run.eval_id = "eval-7";
  run.model_id = "nvidia/segformer-b0-finetuned-ade-512-512";
  run.dataset = "ade20k-val";
  run.config = {{"batch_size", 4}, {"protocol", "hf"}};
  run.model_config = {{"num_labels", 150}};
  run.segq_version = "0.1.0";
  run.cpu = "Test CPU";
  run.threads = 2;
  for (const std::string& m : methods) {
    MethodDesc d;
    d.name = m;
    d.family = m.substr(0, m.find('-'));
    d.nominal_bits = m == "fp32" ? 32 : 4;
    d.bits_per_weight = m == "fp32" ? 32 : 4.5;
    d.spec = {{"name", m}};
    run.methods.push_back(d);
  }
  run.baseline_method = methods.front();
  run.start_time_unix_s = 1700000000;
  return run;
}

MethodFinished finished(const std::string& method, double miou, int64_t images) {
  MethodFinished f;
  f.method = method;
  MethodSummary s;
  s.metrics = {miou, miou + 0.1, miou + 0.2};
  s.size_bytes = 1000;
  s.size_mb = 0.001;
  s.bits_per_weight = 4.5;
  s.compression = 7.1;
  s.delta_miou_vs_fp32 = -0.01;
  s.delta_miou_ci95_low = -0.02;
  s.delta_miou_ci95_high = 0.0;
  s.agreement_vs_fp32 = 0.97;
  s.ms_per_image = 50;
  s.images_per_s = 20;
  s.num_images = images;
  s.extra = {{"logit_nmse_vs_fp32", 0.001}};
  f.summary = s;
  f.per_class = {{0, "wall", 0.7, 0.8}, {1, "building", std::nan(""), std::nan("")}};
  f.samples = {{"img0", std::string("\x89PNG\r\n\x1a\n", 8) + "data", 4, 3}};
  f.time_unix_s = 1700000100;
  return f;
}

WandbSettings offline_in(const std::string& root) {
  WandbSettings s;
  s.mode = WandbMode::kOffline;
  s.root_dir = root;
  s.max_history_points = 10;
  return s;
}

std::string only_dir(const std::string& wandb_dir, const std::string& run_id) {
  const auto dirs = find_wandb_run_dirs(wandb_dir, run_id);
  EXPECT_EQ(dirs.size(), 1u) << run_id;
  return dirs.empty() ? "" : dirs.front();
}

nlohmann::json summary_of(const std::vector<segq::wandb::Record>& records) {
  nlohmann::json s = nlohmann::json::object();
  for (const auto& r : records) {
    if (r.has_summary()) s.update(items_json(r.summary().update()));
  }
  return s;
}

TEST(WandbSink, OneRunPerMethodWithConfigHistorySummaryAndTables) {
  TempDir tmp;
  WandbSink sink(offline_in(tmp.str()));
  const TrackingRun run = sample_run({"fp32", "int4-g64"});
  sink.on_run_started(run);
  for (const std::string method : {"fp32", "int4-g64"}) {
    sink.on_method_started({method, 1000, 1700000000});
    for (int64_t done = 8; done <= 1000; done += 8) {
      sink.on_progress(
          {method, done, {0.5, 0.6, 0.7}, 20.0, done / 20.0, 1700000000 + done / 20.0});
    }
    sink.on_method_finished(finished(method, method == std::string("fp32") ? 0.6 : 0.55, 1000));
  }
  sink.on_run_finished({0, {}, 1700000200});
  const std::string wandb_dir = tmp.str() + "/wandb";
  ASSERT_EQ(sink.run_dirs().size(), 2u);

  const std::string int4_dir = only_dir(wandb_dir, wandb_run_id_for("eval-7", "int4-g64"));
  const auto records =
      read_wandb_records(int4_dir + "/run-" + wandb_run_id_for("eval-7", "int4-g64") + ".wandb");
  const auto& r = records[1].run();
  EXPECT_EQ(r.display_name(), "segformer-b0-finetuned-ade-512-512-int4-g64");
  EXPECT_EQ(r.run_group(), "eval-7");
  EXPECT_EQ(r.job_type(), "eval");
  EXPECT_EQ(r.project(), "segq");
  std::vector<std::string> tags(r.tags().begin(), r.tags().end());
  EXPECT_EQ(tags, (std::vector<std::string>{"nvidia/segformer-b0-finetuned-ade-512-512",
                                            "ade20k-val", "int4", "4bit"}));
  const nlohmann::json config = items_json(records[2].config().update());
  EXPECT_EQ(config["batch_size"], 4);
  EXPECT_EQ(config["method"], "int4-g64");
  EXPECT_EQ(config["method_spec"]["name"], "int4-g64");
  EXPECT_EQ(config["model_config"]["num_labels"], 150);
  EXPECT_EQ(config["segq_version"], "0.1.0");
  EXPECT_EQ(config["cpu"], "Test CPU");
  EXPECT_EQ(config["threads"], 2);

  std::vector<int64_t> steps;
  for (const auto& rec : records) {
    if (rec.has_history()) steps.push_back(rec.history().step().num());
  }
  ASSERT_FALSE(steps.empty());
  EXPECT_LE(steps.size(), 10u) << "history points are bounded";
  EXPECT_EQ(steps.back(), 1000);
  EXPECT_TRUE(std::is_sorted(steps.begin(), steps.end()));
  EXPECT_EQ(std::adjacent_find(steps.begin(), steps.end()), steps.end());

  const nlohmann::json summary = summary_of(records);
  EXPECT_DOUBLE_EQ(summary["mean_iou"].get<double>(), 0.55);
  EXPECT_EQ(summary["size_bytes"], 1000);
  EXPECT_DOUBLE_EQ(summary["delta_miou_vs_fp32_ci95_low"].get<double>(), -0.02);
  EXPECT_DOUBLE_EQ(summary["agreement_vs_fp32"].get<double>(), 0.97);
  EXPECT_EQ(summary["num_images"], 1000);
  EXPECT_DOUBLE_EQ(summary["logit_nmse_vs_fp32"].get<double>(), 0.001);
  EXPECT_EQ(summary["per_class"]["_type"], "table-file");
  EXPECT_EQ(summary["samples/img0"]["_type"], "image-file");
  EXPECT_FALSE(summary.contains("all_methods")) << "only the baseline run has it";
  EXPECT_EQ(records.back().has_final(), true);

  const std::string fp32_id = wandb_run_id_for("eval-7", "fp32");
  const nlohmann::json fp32 =
      summary_of(read_wandb_records(only_dir(wandb_dir, fp32_id) + "/run-" + fp32_id + ".wandb"));
  ASSERT_TRUE(fp32.contains("all_methods"));
  EXPECT_EQ(fp32["all_methods"]["nrows"], 2);
  const std::string table = read_file(only_dir(wandb_dir, fp32_id) + "/files/" +
                                      fp32["all_methods"]["path"].get<std::string>());
  EXPECT_EQ(sha256_hex(table), fp32["all_methods"]["sha256"]);
  const nlohmann::json t = nlohmann::json::parse(table);
  EXPECT_EQ(t["data"][0][0], "fp32");
  EXPECT_EQ(t["data"][1][0], "int4-g64");
}

TEST(WandbSink, InterruptedMethodIsReplacedOnResumeAndRestoredMethodsAreKept) {
  TempDir tmp;
  const TrackingRun run = sample_run({"fp32", "int8"});
  const std::string wandb_dir = tmp.str() + "/wandb";
  std::string fp32_dir;
  {
    WandbSink sink(offline_in(tmp.str()));
    sink.on_run_started(run);
    sink.on_method_started({"fp32", 100, 1700000000});
    sink.on_method_finished(finished("fp32", 0.6, 100));
    sink.on_method_started({"int8", 100, 1700000050});
    sink.on_progress({"int8", 40, {0.5, 0.6, 0.7}, 10, 4, 1700000054});
    // The process dies here: int8 has no Exit record.
    fp32_dir = only_dir(wandb_dir, wandb_run_id_for("eval-7", "fp32"));
  }
  const std::string int8_id = wandb_run_id_for("eval-7", "int8");
  EXPECT_FALSE(wandb_run_is_complete(only_dir(wandb_dir, int8_id)));
  const std::string fp32_log =
      read_file(fp32_dir + "/run-" + wandb_run_id_for("eval-7", "fp32") + ".wandb");

  WandbSink sink(offline_in(tmp.str()));
  TrackingRun resumed = run;
  resumed.start_time_unix_s = 1700003600;
  sink.on_run_started(resumed);
  MethodFinished restored = finished("fp32", 0.6, 100);
  restored.restored = true;
  sink.on_method_finished(restored);
  EXPECT_EQ(read_file(fp32_dir + "/run-" + wandb_run_id_for("eval-7", "fp32") + ".wandb"), fp32_log)
      << "a restored, complete run is left alone";
  sink.on_method_started({"int8", 100, 1700003600});
  sink.on_method_finished(finished("int8", 0.59, 100));
  sink.on_run_finished({0, {}, 1700003700});
  const std::string int8_dir = only_dir(wandb_dir, int8_id);
  EXPECT_TRUE(wandb_run_is_complete(int8_dir));
  // The all-methods table went into the baseline run, including the restored row.
  const nlohmann::json fp32 = summary_of(
      read_wandb_records(fp32_dir + "/run-" + wandb_run_id_for("eval-7", "fp32") + ".wandb"));
  EXPECT_EQ(fp32["all_methods"]["nrows"], 2);
}

TEST(WandbSink, OpenMethodsAreClosedWithTheRunsExitCode) {
  TempDir tmp;
  WandbSink sink(offline_in(tmp.str()));
  sink.on_run_started(sample_run({"fp32"}));
  sink.on_method_started({"fp32", 100, 1700000000});
  sink.on_run_finished({130, {}, 1700000010});
  const std::string id = wandb_run_id_for("eval-7", "fp32");
  const auto records =
      read_wandb_records(only_dir(tmp.str() + "/wandb", id) + "/run-" + id + ".wandb");
  ASSERT_GE(records.size(), 2u);
  EXPECT_EQ(records[records.size() - 2].exit().exit_code(), 130);
}

TEST(WandbSink, FailedMethodHasItsExitCodeAndError) {
  TempDir tmp;
  WandbSink sink(offline_in(tmp.str()));
  sink.on_run_started(sample_run({"fp32", "int2"}));
  MethodFinished f;
  f.method = "int2";
  f.exit_code = 1;
  f.error = "out of memory";
  sink.on_method_started({"int2", 10, 1700000000});
  sink.on_method_finished(f);
  const std::string id = wandb_run_id_for("eval-7", "int2");
  const auto records =
      read_wandb_records(only_dir(tmp.str() + "/wandb", id) + "/run-" + id + ".wandb");
  EXPECT_EQ(summary_of(records)["error"], "out of memory");
  EXPECT_EQ(records[records.size() - 2].exit().exit_code(), 1);
}

TEST(WandbSink, ShardsLogNothingByDefault) {
  TempDir tmp;
  WandbSink sink(offline_in(tmp.str()));
  TrackingRun run = sample_run({"fp32"});
  run.shard_index = 1;
  run.shard_count = 4;
  sink.on_run_started(run);
  sink.on_method_started({"fp32", 10, 0});
  sink.on_method_finished(finished("fp32", 0.5, 10));
  sink.on_run_finished({});
  EXPECT_FALSE(fs::exists(tmp.str() + "/wandb"));
}

TEST(WandbSink, RunIdFromEnvironmentOnlyForOneMethodAndNamePrefix) {
  TempDir tmp;
  WandbSettings s = offline_in(tmp.str());
  s.run_id = "myrun01";
  s.name_prefix = "exp";
  {
    WandbSink sink(s);
    sink.on_run_started(sample_run({"int8"}));
    EXPECT_EQ(sink.run_id_for("int8"), "myrun01");
    sink.on_method_started({"int8", 10, 0});
    sink.on_method_finished(finished("int8", 0.5, 10));
    sink.on_run_finished({});
    const auto records =
        read_wandb_records(only_dir(tmp.str() + "/wandb", "myrun01") + "/run-myrun01.wandb");
    EXPECT_EQ(records[1].run().display_name(), "exp-segformer-b0-finetuned-ade-512-512-int8");
  }
  WandbSink two(s);
  two.on_run_started(sample_run({"fp32", "int8"}));
  EXPECT_EQ(two.run_id_for("int8"), wandb_run_id_for("eval-7", "int8"));
}

TEST(WandbSink, MergedEvaluationIsLoggedFromResultsAlone) {
  // `segq merge` has no progress events: each method becomes a complete run from its results.
  TempDir tmp;
  WandbSink sink(offline_in(tmp.str()));
  const TrackingRun run = sample_run({"fp32", "int8"});
  log_finished_evaluation(sink, run, {finished("fp32", 0.6, 2000), finished("int8", 0.59, 2000)},
                          {0, {}, 1700000300});
  ASSERT_EQ(sink.run_dirs().size(), 2u);
  for (const std::string method : {"fp32", "int8"}) {
    const std::string id = wandb_run_id_for("eval-7", method);
    const auto records =
        read_wandb_records(only_dir(tmp.str() + "/wandb", id) + "/run-" + id + ".wandb");
    std::vector<int64_t> steps;
    for (const auto& r : records) {
      if (r.has_history()) steps.push_back(r.history().step().num());
    }
    EXPECT_EQ(steps, std::vector<int64_t>{2000}) << "one point with the final metrics";
    EXPECT_EQ(summary_of(records)["num_images"], 2000);
    EXPECT_EQ(records[records.size() - 2].exit().exit_code(), 0);
  }
}

}  // namespace
}  // namespace segq::track
