// W&B run directories: the writer's records, naming, media files, crash-safe publishing,
// reopening.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/file_util.h"
#include "track/wandb_media.h"
#include "track/wandb_run_writer.h"
#include "track_test_util.h"

namespace segq::track {
namespace {

namespace fs = std::filesystem;
using segq::testing::items_json;
using segq::testing::read_wandb_records;
using segq::testing::record_kinds;
using segq::testing::TempDir;

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
  EXPECT_EQ(record_kinds(records),
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
  EXPECT_EQ(record_kinds(records),
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

}  // namespace
}  // namespace segq::track
