// W&B run directories: the writer's records, naming, media files, crash-safe publishing,
// reopening; and the W&B sink's mapping of evaluation events onto runs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/file_util.h"
#include "track/wandb_media.h"
#include "track/wandb_run_writer.h"
#include "track/wandb_settings.h"
#include "track/wandb_sink.h"
#include "track_test_util.h"

namespace segq::track {
namespace {

namespace fs = std::filesystem;
using segq::testing::read_wandb_records;
using segq::testing::record_kind;
using segq::testing::TempDir;

std::vector<std::string> kinds(const std::vector<segq::wandb::Record>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(record_kind(r));
  return out;
}

template <class Items>
nlohmann::json items_json(const Items& items) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& item : items) j[item.key()] = nlohmann::json::parse(item.value_json());
  return j;
}

WandbRunInfo sample_info() {
  WandbRunInfo info;
  info.run_id = "abc12345";
  info.project = "proj";
  info.entity = "team";
  info.display_name = "segformer-b0-int4";
  info.group = "eval-1";
  info.job_type = "eval";
  info.notes = "note";
  info.tags = {"a", "b"};
  info.host = "host";
  info.start_time_unix_s = 1700000000.25;
  return info;
}

TEST(WandbRunWriter, WritesRecordsInSyncOrder) {
  TempDir tmp;
  WandbRunWriter w = WandbRunWriter::create(tmp.str(), sample_info());
  EXPECT_EQ(fs::path(w.dir()).filename().string().substr(0, 12), "offline-run-");
  EXPECT_TRUE(w.dir().ends_with("-abc12345"));
  w.config({{"batch_size", 8}, {"method_spec", {{"group", 64}}}});
  w.history(10, {{"running/mean_iou", 0.5}}, 1.5, 1700000001.5);
  w.history(20, {{"running/mean_iou", std::nan("")}}, 3.0, 1700000003.0);
  WandbMediaFile table = wandb_table_file("per_class", "summary", {"a"}, {{1}, {2}});
  w.add_media({table});
  w.summary({{"mean_iou", 0.61}, {"per_class", table.ref}});
  w.finish(0, 12.4);

  const auto records = read_wandb_records(w.log_path());
  EXPECT_EQ(kinds(records),
            (std::vector<std::string>{"header", "run", "config", "history", "history", "files",
                                      "summary", "exit", "final"}));
  const auto& run = records[1].run();
  EXPECT_EQ(run.run_id(), "abc12345");
  EXPECT_EQ(run.project(), "proj");
  EXPECT_EQ(run.entity(), "team");
  EXPECT_EQ(run.display_name(), "segformer-b0-int4");
  EXPECT_EQ(run.run_group(), "eval-1");
  EXPECT_EQ(run.job_type(), "eval");
  EXPECT_EQ(run.tags_size(), 2);
  EXPECT_EQ(run.start_time().seconds(), 1700000000);
  EXPECT_EQ(run.start_time().nanos(), 250000000);
  EXPECT_FALSE(records[1].control().mailbox_slot().empty());

  const nlohmann::json config = items_json(records[2].config().update());
  EXPECT_EQ(config["batch_size"], 8);
  EXPECT_EQ(config["method_spec"]["group"], 64);

  const auto& h = records[3].history();
  EXPECT_EQ(h.step().num(), 10);
  const nlohmann::json row = items_json(h.item());
  EXPECT_EQ(row["_step"], 10);
  EXPECT_DOUBLE_EQ(row["_runtime"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(row["_timestamp"].get<double>(), 1700000001.5);
  EXPECT_DOUBLE_EQ(row["running/mean_iou"].get<double>(), 0.5);
  // NaN is written the way W&B's parsers read it.
  for (const auto& item : records[4].history().item()) {
    if (item.key() == "running/mean_iou") {
      EXPECT_EQ(item.value_json(), "NaN");
    }
  }
  EXPECT_EQ(records[5].files().files(0).path(), table.relative_path);
  EXPECT_EQ(records[5].files().files(0).policy(), segq::wandb::FilesItem::NOW);
  EXPECT_EQ(read_file(w.dir() + "/files/" + table.relative_path), table.bytes);
  EXPECT_EQ(records[7].exit().exit_code(), 0);
  EXPECT_EQ(records[7].exit().runtime(), 12);
  EXPECT_TRUE(wandb_run_is_complete(w.dir()));
  EXPECT_THROW(w.summary({{"x", 1}}), Error);
}

TEST(WandbRunWriter, LogOnDiskIsValidAfterEveryCallAndHasNoTemporaryLeftovers) {
  TempDir tmp;
  // The first version of the log on disk already has the configuration.
  WandbRunWriter w = WandbRunWriter::create(tmp.str(), sample_info(), {{"a", 1}});
  EXPECT_EQ(segq::testing::record_kind(read_wandb_records(w.log_path()).back()), "config");
  EXPECT_FALSE(wandb_run_is_complete(w.dir()));
  // Large history rows cross block boundaries; the file stays readable after each one.
  for (int step = 1; step <= 12; ++step) {
    w.history(step, {{"blob", std::string(9000, 'x')}}, step, 1700000000 + step);
    EXPECT_EQ(read_wandb_records(w.log_path()).size(), 3u + step);
  }
  for (const auto& entry : fs::directory_iterator(w.dir())) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".run-")) << entry.path();
  }
}

TEST(WandbRunWriter, CreateReplacesAnEarlierDirectoryOfTheSameRun) {
  TempDir tmp;
  WandbRunInfo info = sample_info();
  std::string first_dir;
  {
    WandbRunWriter w = WandbRunWriter::create(tmp.str(), info);
    w.history(1, {{"m", 1}}, 1, 1);
    first_dir = w.dir();  // torn: no exit record
  }
  WandbRunInfo other = info;
  other.run_id = "zzz99999";
  WandbRunWriter keep = WandbRunWriter::create(tmp.str(), other);
  info.start_time_unix_s += 3600;  // a later attempt gets a later directory name
  WandbRunWriter w = WandbRunWriter::create(tmp.str(), info);
  w.finish(0, 1);
  EXPECT_FALSE(fs::exists(first_dir));
  EXPECT_EQ(find_wandb_run_dirs(tmp.str(), "abc12345"), std::vector<std::string>{w.dir()});
  EXPECT_TRUE(fs::exists(keep.dir()));
}

TEST(WandbRunWriter, FindsRunDirectoriesByExactName) {
  TempDir tmp;
  for (const char* name :
       {"offline-run-20231114_221320-abc12345", "run-20231114_221321-abc12345",
        "offline-run-20231114_221320-abc123456", "offline-run-2023111_221320-abc12345",
        "offline-run-20231114-221320-abc12345", "offline-run-20231114_22132x-abc12345",
        "xoffline-run-20231114_221320-abc12345"}) {
    fs::create_directories(fs::path(tmp.str()) / name);
  }
  EXPECT_EQ(find_wandb_run_dirs(tmp.str(), "abc12345"),
            (std::vector<std::string>{tmp / "offline-run-20231114_221320-abc12345",
                                      tmp / "run-20231114_221321-abc12345"}));
  EXPECT_TRUE(find_wandb_run_dirs(tmp / "missing", "abc12345").empty());
}

TEST(WandbRunWriter, ReopenAddsBeforeExitAndKeepsExitCodeAndRuntime) {
  TempDir tmp;
  std::string dir;
  {
    WandbRunWriter w = WandbRunWriter::create(tmp.str(), sample_info());
    w.summary({{"mean_iou", 0.5}});
    w.finish(3, 42);
    dir = w.dir();
  }
  WandbRunWriter w = WandbRunWriter::reopen(dir);
  EXPECT_EQ(w.run_id(), "abc12345");
  EXPECT_EQ(w.previous_exit_code(), 3);
  EXPECT_DOUBLE_EQ(w.previous_runtime_s(), 42);
  w.summary({{"all_methods", 1}});
  w.finish(w.previous_exit_code(), w.previous_runtime_s());
  const auto records = read_wandb_records(w.log_path());
  EXPECT_EQ(kinds(records),
            (std::vector<std::string>{"header", "run", "summary", "summary", "exit", "final"}));
  EXPECT_EQ(records[4].exit().exit_code(), 3);
  EXPECT_EQ(records[4].exit().runtime(), 42);

  TempDir tmp2;
  WandbRunWriter torn = WandbRunWriter::create(tmp2.str(), sample_info());
  EXPECT_THROW(WandbRunWriter::reopen(torn.dir()), Error);
}

TEST(WandbRunWriter, RejectsRunIdsWandbRejects) {
  TempDir tmp;
  WandbRunInfo info = sample_info();
  info.run_id = "a/b";
  EXPECT_THROW(WandbRunWriter::create(tmp.str(), info), Error);
  info.run_id = "";
  EXPECT_THROW(WandbRunWriter::create(tmp.str(), info), Error);
}

TEST(WandbMedia, TableFileNamingAndReference) {
  const WandbMediaFile t = wandb_table_file("per class/x", "summary", {"name", "iou"},
                                            {{"wall", 0.5}, {"sky", std::nan("")}});
  EXPECT_EQ(t.bytes, R"({"columns":["name","iou"],"data":[["wall",0.5],["sky",null]]})");
  const std::string sha = sha256_hex(t.bytes);
  EXPECT_EQ(t.relative_path,
            "media/table/per_class_x_summary_" + sha.substr(0, 20) + ".table.json");
  EXPECT_EQ(t.ref["_type"], "table-file");
  EXPECT_EQ(t.ref["sha256"], sha);
  EXPECT_EQ(t.ref["size"], t.bytes.size());
  EXPECT_EQ(t.ref["path"], t.relative_path);
  EXPECT_EQ(t.ref["ncols"], 2);
  EXPECT_EQ(t.ref["nrows"], 2);
  EXPECT_EQ(t.ref["log_mode"], "IMMUTABLE");
  EXPECT_FALSE(t.ref.contains("artifact_path"));

  const WandbMediaFile img = wandb_png_file("samples_a", "summary", "\x89PNG....", 4, 3);
  EXPECT_TRUE(img.relative_path.starts_with("media/images/samples_a_summary_"));
  EXPECT_TRUE(img.relative_path.ends_with(".png"));
  EXPECT_EQ(img.ref["_type"], "image-file");
  EXPECT_EQ(img.ref["format"], "png");
  EXPECT_EQ(img.ref["width"], 4);
  EXPECT_EQ(img.ref["height"], 3);
}

TEST(WandbMedia, NumbersAsW_bParsesThem) {
  EXPECT_EQ(wandb_number_json(0.1), "0.1");
  EXPECT_EQ(wandb_number_json(std::nan("")), "NaN");
  EXPECT_EQ(wandb_number_json(INFINITY), "Infinity");
  EXPECT_EQ(wandb_number_json(-INFINITY), "-Infinity");
  EXPECT_EQ(wandb_value_json(nlohmann::json::array({1.0, std::nan("")})), "[1.0,null]");
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(WandbSettings, ModeFromFlagAndEnvironment) {
  EXPECT_EQ(resolve_wandb_settings(std::nullopt, env_of({})).mode, WandbMode::kDisabled);
  EXPECT_EQ(resolve_wandb_settings("", env_of({})).mode, WandbMode::kOffline);
  EXPECT_EQ(resolve_wandb_settings("", env_of({{"WANDB_MODE", "online"}})).mode,
            WandbMode::kOnline);
  EXPECT_EQ(resolve_wandb_settings(std::nullopt, env_of({{"WANDB_MODE", "offline"}})).mode,
            WandbMode::kOffline);
  EXPECT_EQ(resolve_wandb_settings("offline", env_of({{"WANDB_MODE", "online"}})).mode,
            WandbMode::kOffline);
  EXPECT_EQ(resolve_wandb_settings("", env_of({{"WANDB_MODE", "disabled"}})).mode,
            WandbMode::kDisabled);
  EXPECT_EQ(resolve_wandb_settings(std::nullopt,
                                   env_of({{"WANDB_MODE", "online"}, {"WANDB_DISABLED", "true"}}))
                .mode,
            WandbMode::kDisabled);
  EXPECT_THROW(resolve_wandb_settings("sometimes", env_of({})), UsageError);
  EXPECT_THROW(resolve_wandb_settings("", env_of({{"WANDB_RUN_ID", "a/b"}})), UsageError);
}

TEST(WandbSettings, EnvironmentVariables) {
  const WandbSettings s =
      resolve_wandb_settings("", env_of({{"WANDB_DIR", "/tmp/x"},
                                         {"WANDB_PROJECT", "p"},
                                         {"WANDB_ENTITY", "e"},
                                         {"WANDB_RUN_GROUP", "g"},
                                         {"WANDB_TAGS", "a, b,,c "},
                                         {"WANDB_NOTES", "n"},
                                         {"WANDB_NAME", "pre"},
                                         {"WANDB_RUN_ID", "myrun"},
                                         {"WANDB_BASE_URL", "http://h"},
                                         {"WANDB_API_KEY", "must-not-be-read"}}));
  EXPECT_EQ(s.wandb_dir(), "/tmp/x/wandb");
  EXPECT_EQ(s.project, "p");
  EXPECT_EQ(s.entity, "e");
  EXPECT_EQ(s.group, "g");
  EXPECT_EQ(s.tags, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(s.notes, "n");
  EXPECT_EQ(s.name_prefix, "pre");
  EXPECT_EQ(s.run_id, "myrun");
  EXPECT_EQ(resolve_wandb_settings("", env_of({})).project, "segq");
}

TEST(WandbSettings, SettingsNeverAskForTheApiKey) {
  std::vector<std::string> asked;
  const EnvLookup spy = [&](const std::string& name) -> std::optional<std::string> {
    asked.push_back(name);
    return std::nullopt;
  };
  resolve_wandb_settings("", spy);
  for (const std::string& name : asked) {
    EXPECT_EQ(name.find("API_KEY"), std::string::npos) << name;
    EXPECT_EQ(name.find("NETRC"), std::string::npos) << name;
  }
}

TEST(WandbSettings, RunIdsAreStableDistinctAndWellFormed) {
  const std::string a = wandb_run_id_for("eval-1", "fp32");
  EXPECT_EQ(a, wandb_run_id_for("eval-1", "fp32"));
  EXPECT_NE(a, wandb_run_id_for("eval-1", "int8"));
  EXPECT_NE(a, wandb_run_id_for("eval-2", "fp32"));
  ASSERT_EQ(a.size(), 8u);
  for (char c : a) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) << a;
}

TEST(WandbSettings, SyncCommandLineIsShellSafe) {
  EXPECT_EQ(shell_command_line(wandb_sync_command({"./wandb/offline-run-1", "a b", "it's"})),
            "wandb sync ./wandb/offline-run-1 'a b' 'it'\\''s'");
}

// ------------------------------------------------------------------------------- sink

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

}  // namespace
}  // namespace segq::track
