// `segq eval`, `segq merge` and `segq score` end to end through the binary, on the tiny SegFormer
// fixture and a generated folder dataset: sharded runs (flag and Slurm environment) merge to the
// unsharded run bit for bit for batch sizes 1 and 8 and 1 or 2 threads; merge refuses missing and
// mismatched shards; a run SIGKILLed midway resumes to identical results; saved predictions score
// the same; bad samples are skipped and recorded; usage errors exit 2. Needs the data layer and the
// SegFormer engine in the build (skipped otherwise).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "eval/index_png.h"
#include "eval/temp_dirs.h"
#include "io/file_util.h"

#if __has_include("model/segformer.h") && __has_include("data/folder_dataset.h")
#define SEGQ_CLI_EVAL_TESTS 1
#include "io/image.h"
#else
#define SEGQ_CLI_EVAL_TESTS 0
#endif

namespace segq {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

#if SEGQ_CLI_EVAL_TESTS

struct CmdResult {
  int code = -1;
  std::string out, err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q.append("'\\''");
    } else {
      q.push_back(c);
    }
  }
  q.push_back('\'');
  return q;
}

// Runs segq with `args` (and `env` assignments); captures exit code, stdout and stderr.
CmdResult segq(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  static int counter = 0;
  static const std::string logs = testing_dirs::make_temp_dir("cli_logs");
  const std::string base = logs + "/" + std::to_string(counter++);
  std::string cmd = "env SEGQ_LOG=warn";
  auto add = [&cmd](const std::string& word) {
    cmd.push_back(' ');
    cmd.append(quote(word));
  };
  for (const auto& e : env) add(e);
  add(SEGQ_EXE);
  for (const auto& a : args) add(a);
  cmd.append(" >");
  add(base + ".out");
  cmd.append(" 2>");
  add(base + ".err");
  const int status = std::system(cmd.c_str());
  CmdResult r;
  if (WIFEXITED(status)) r.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.code = 128 + WTERMSIG(status);
  r.out = read_file(base + ".out");
  r.err = read_file(base + ".err");
  return r;
}

std::string fresh_dir(const std::string& name) { return testing_dirs::make_temp_dir(name); }

constexpr int kSamples = 22;

// The tiny fixture model (11 labels) with a 64x64 preprocessor, and a folder dataset of PNG
// images with labels 0..10 and 255 (ignored), of several sizes.
struct Fixture {
  std::string root, model, images, labels;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    x.root = fresh_dir("cli_fixture");
    x.model = x.root + "/tiny";
    fs::create_directories(x.model);
    const fs::path src = fs::path(SEGQ_SOURCE_DIR) / "tests/fixtures/models/tiny";
    fs::copy_file(src / "config.json", fs::path(x.model) / "config.json");
    fs::copy_file(src / "model.safetensors", fs::path(x.model) / "model.safetensors");
    write_file_atomic(x.model + "/preprocessor_config.json",
                      R"({"do_resize": true, "size": {"height": 64, "width": 64},
                          "do_normalize": true, "do_rescale": true,
                          "do_reduce_labels": false})");
    x.images = x.root + "/images";
    x.labels = x.root + "/labels";
    for (int i = 0; i < kSamples; ++i) {
      const int h = 30 + (i * 7) % 23, w = 41 + (i * 5) % 19;
      ImageU8 img(h, w, 3);
      std::vector<uint8_t> lab(static_cast<size_t>(h) * w);
      for (int y = 0; y < h; ++y) {
        for (int xx = 0; xx < w; ++xx) {
          const int cls = ((y / 9) * 3 + (xx / 11) + i) % 11;
          const bool ignored = (y * 31 + xx * 17 + i) % 29 == 0;
          lab[static_cast<size_t>(y) * w + xx] = ignored ? 255 : static_cast<uint8_t>(cls);
          uint8_t* p = img.row(y) + 3 * xx;
          p[0] = static_cast<uint8_t>(cls * 23 + (xx * 3) % 17);
          p[1] = static_cast<uint8_t>(200 - cls * 15 + (y * 5) % 13);
          p[2] = static_cast<uint8_t>((cls * 71 + xx + y) % 256);
        }
      }
      char id[32];
      std::snprintf(id, sizeof id, "s%03d", i);
      write_file_atomic(x.images + "/" + id + ".png", encode_png(img));
      write_file_atomic(x.labels + "/" + id + ".png", encode_index_png(lab.data(), h, w));
    }
    return x;
  }();
  return f;
}

std::vector<std::string> eval_args(const std::string& out, const std::vector<std::string>& more) {
  const Fixture& f = fixture();
  std::vector<std::string> a = {"eval",   "--model", f.model, "--images",  f.images,   "--labels",
                                f.labels, "--out",   out,     "--methods", "fp32,int4"};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

json read_json(const std::string& path) { return json::parse(read_file(path)); }

// What must be identical between two runs of the same evaluation.
json counts_of(const json& results) {
  json out = json::array();
  for (const json& m : results.at("methods")) {
    out.push_back({{"name", m.at("name")},
                   {"confusion_matrix", m.at("confusion_matrix")},
                   {"pred_out_of_range", m.at("pred_out_of_range")},
                   {"num_images", m.at("num_images")},
                   {"num_pixels", m.at("num_pixels")},
                   {"per_image", m.at("per_image")},
                   {"metrics", m.at("metrics")},
                   {"size_bytes", m.at("size_bytes")},
                   {"agreement_vs_fp32", m.at("agreement_vs_fp32")},
                   {"logit_nmse_vs_fp32", m.at("logit_nmse_vs_fp32")},
                   {"delta_miou_vs_fp32", m.at("delta_miou_vs_fp32")},
                   {"per_class", m.at("per_class")}});
  }
  return out;
}

const json& reference() {
  static const json ref = [] {
    const std::string out = fresh_dir("cli_ref");
    const CmdResult r = segq(eval_args(out, {"--batch-size", "1", "--threads", "1"}));
    EXPECT_EQ(r.code, 0) << r.err;
    return read_json(out + "/results.json");
  }();
  return ref;
}

TEST(CliEval, UnshardedRunWritesResults) {
  const json& ref = reference();
  ASSERT_EQ(ref.at("methods").size(), 2u);
  const json& m = ref.at("methods").at(0);
  EXPECT_EQ(m.at("name"), "fp32");
  EXPECT_EQ(m.at("num_images"), kSamples);
  EXPECT_GT(m.at("num_pixels").get<uint64_t>(), 20000u);
  EXPECT_EQ(m.at("confusion_matrix").size(), 11u);
  EXPECT_EQ(ref.at("schema_version"), 1);
  EXPECT_EQ(ref.at("protocol"), "hf");
  EXPECT_EQ(ref.at("dataset").at("num_samples"), kSamples);
  EXPECT_EQ(ref.at("model").at("sha256").get<std::string>().size(), 64u);
}

TEST(CliEval, FourShardsMergeToTheUnshardedRunBitForBit) {
  const json& ref = reference();
  struct Config {
    std::string batch, threads;
    bool slurm;
  };
  for (const Config& c :
       {Config{"8", "2", false}, Config{"1", "2", true}, Config{"8", "1", true}}) {
    SCOPED_TRACE("batch " + c.batch + ", threads " + c.threads + (c.slurm ? ", Slurm" : ""));
    const std::string out = fresh_dir("cli_shards_b" + c.batch + "_t" + c.threads);
    std::vector<std::string> files;
    for (int i = 0; i < 4; ++i) {
      CmdResult r;
      if (c.slurm) {  // --array=3-6: task ids 3..6
        r = segq(eval_args(out, {"--batch-size", c.batch, "--threads", c.threads}),
                 {"SLURM_ARRAY_TASK_ID=" + std::to_string(3 + i), "SLURM_ARRAY_TASK_MIN=3",
                  "SLURM_ARRAY_TASK_MAX=6", "SLURM_ARRAY_TASK_COUNT=4", "SLURM_ARRAY_TASK_STEP=1"});
      } else {
        r = segq(eval_args(out, {"--batch-size", c.batch, "--threads", c.threads, "--shard",
                                 std::to_string(i) + "/4"}));
      }
      ASSERT_EQ(r.code, 0) << r.err;
      EXPECT_NE(r.out.find("segq merge"), std::string::npos) << r.out;
      files.push_back(out + "/shards/shard-" + std::to_string(i) + "-of-4.json");
      ASSERT_TRUE(fs::exists(files.back()));
    }
    EXPECT_FALSE(fs::exists(out + "/results.json"));  // only the merge writes it
    std::vector<std::string> merge = {"merge"};
    merge.insert(merge.end(), files.rbegin(), files.rend());
    merge.insert(merge.end(), {"--out", out + "/merged"});
    const CmdResult m = segq(merge);
    ASSERT_EQ(m.code, 0) << m.err;
    const json merged = read_json(out + "/merged/results.json");
    EXPECT_EQ(counts_of(merged), counts_of(ref));
    EXPECT_EQ(merged.at("fingerprint_sha256"), ref.at("fingerprint_sha256"));
  }
}

TEST(CliEval, MergeRefusesMissingAndMismatchedShards) {
  const std::string out = fresh_dir("cli_merge_bad");
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(segq(eval_args(out + "/a", {"--shard", std::to_string(i) + "/3"})).code, 0);
  }
  ASSERT_EQ(segq(eval_args(out + "/b", {"--shard", "1/3", "--limit", "20"})).code, 0);
  const std::string a0 = out + "/a/shards/shard-0-of-3.json",
                    a1 = out + "/a/shards/shard-1-of-3.json",
                    a2 = out + "/a/shards/shard-2-of-3.json",
                    b1 = out + "/b/shards/shard-1-of-3.json";
  CmdResult r = segq({"merge", a0, a2, "--out", out + "/m"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("missing 1 of 3 shards: shard-1-of-3.json"), std::string::npos) << r.err;
  r = segq({"merge", a0, b1, a2, "--out", out + "/m"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("come from different runs"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(b1), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("dataset."), std::string::npos) << r.err;
  r = segq({"merge", a0, a1, a1, a2, "--out", out + "/m"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("both shard 1 of 3"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out + "/m/results.json"));
  EXPECT_EQ(segq({"merge", a0, a1, a2, "--out", out + "/m"}).code, 0);
}

TEST(CliEval, KilledRunResumesToIdenticalResults) {
  const json& ref = reference();
  const std::string out = fresh_dir("cli_killed");
  // Killed (SIGKILL, like a node failure) after 9 images, checkpoints every 4: images 9..? are
  // lost and recomputed.
  CmdResult r = segq(eval_args(out, {"--batch-size", "2", "--checkpoint-every", "4"}),
                     {"SEGQ_DEBUG_KILL_AFTER_IMAGES=9"});
  ASSERT_EQ(r.code, 128 + SIGKILL) << r.err;
  const json partial = read_json(out + "/shards/shard-0-of-1.json");
  EXPECT_FALSE(partial.at("complete").get<bool>());
  const uint64_t saved = partial.at("methods").at(0).at("num_images").get<uint64_t>();
  EXPECT_GE(saved, 4u);
  EXPECT_LT(saved, 9u + 2u);
  EXPECT_FALSE(fs::exists(out + "/results.json"));
  // Without --resume the run directory is protected.
  r = segq(eval_args(out, {}));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  r = segq(eval_args(out, {"--resume", "--batch-size", "8", "--threads", "2"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(counts_of(read_json(out + "/results.json")), counts_of(ref));
  // Ctrl-C (SIGINT) saves everything counted so far and exits 130; --resume finishes the run.
  const std::string out2 = fresh_dir("cli_interrupted");
  r = segq(eval_args(out2, {"--batch-size", "2"}), {"SEGQ_DEBUG_KILL_AFTER_IMAGES=7:INT"});
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  const json cut = read_json(out2 + "/shards/shard-0-of-1.json");
  EXPECT_GE(cut.at("methods").at(0).at("num_images").get<uint64_t>(), 7u);
  r = segq(eval_args(out2, {"--resume"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(counts_of(read_json(out2 + "/results.json")), counts_of(ref));
  // A resumed run with other settings is refused.
  r = segq(eval_args(out, {"--resume", "--limit", "5"}));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("different settings"), std::string::npos) << r.err;
}

TEST(CliEval, SavedPredictionsScoreLikeTheRun) {
  const json& ref = reference();
  const Fixture& f = fixture();
  const std::string out = fresh_dir("cli_preds");
  ASSERT_EQ(
      segq(eval_args(out + "/run", {"--save-preds", out + "/preds", "--batch-size", "4"})).code, 0);
  const CmdResult r =
      segq({"score", "--pred-dir", out + "/preds/fp32", "--images", f.images, "--labels", f.labels,
            "--num-labels", "11", "--json", out + "/score.json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json s = read_json(out + "/score.json");
  const json& m = ref.at("methods").at(0);
  EXPECT_EQ(s.at("mean_iou"), m.at("metrics").at("mean_iou"));
  EXPECT_EQ(s.at("mean_accuracy"), m.at("metrics").at("mean_accuracy"));
  EXPECT_EQ(s.at("overall_accuracy"), m.at("metrics").at("overall_accuracy"));
  EXPECT_EQ(s.at("per_class_iou"), m.at("metrics").at("per_class_iou"));
  EXPECT_EQ(s.at("num_images"), kSamples);
  EXPECT_EQ(s.at("num_pixels"), m.at("num_pixels"));
}

TEST(CliEval, BadSamplesAreSkippedWithSkipBadAndStopTheRunOtherwise) {
  const Fixture& f = fixture();
  const std::string dir = fresh_dir("cli_bad");
  // A copy of the dataset with a corrupt image and a label map holding class 40.
  fs::copy(f.images, dir + "/images");
  fs::copy(f.labels, dir + "/labels");
  write_file_atomic(dir + "/images/s004.png", read_file(f.images + "/s004.png").substr(0, 60));
  const IndexMap lab = decode_index_png(read_file(f.labels + "/s009.png"), "s009");
  std::vector<uint8_t> bad = lab.values;
  bad[5] = 40;
  write_file_atomic(dir + "/labels/s009.png", encode_index_png(bad.data(), lab.height, lab.width));
  std::vector<std::string> args = {"eval",          "--model",  f.model,         "--images",
                                   dir + "/images", "--labels", dir + "/labels", "--out"};
  CmdResult r = segq([&] {
    auto a = args;
    a.push_back(dir + "/strict");
    return a;
  }());
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(r.err.find("s004.png") != std::string::npos ||
              r.err.find("s009.png") != std::string::npos)
      << r.err;
  args.push_back(dir + "/skip");
  args.push_back("--skip-bad");
  r = segq(args);
  ASSERT_EQ(r.code, 0) << r.err;
  const json res = read_json(dir + "/skip/results.json");
  const json& m = res.at("methods").at(0);
  EXPECT_EQ(m.at("num_images"), kSamples - 2);
  ASSERT_EQ(m.at("num_skipped"), 2);
  EXPECT_EQ(m.at("skipped").at(0).at("id"), "s004");
  EXPECT_NE(m.at("skipped").at(0).at("reason").get<std::string>().find("s004.png"),
            std::string::npos);
  EXPECT_EQ(m.at("skipped").at(1).at("id"), "s009");
  EXPECT_NE(m.at("skipped").at(1).at("reason").get<std::string>().find("s009.png"),
            std::string::npos);
}

TEST(CliEval, UsageErrorsExitTwo) {
  const std::string out = fresh_dir("cli_usage");
  EXPECT_EQ(segq(eval_args(out + "/a", {"--methods", "fp32,int9"})).code, 2);
  EXPECT_EQ(segq(eval_args(out + "/b", {"--shard", "4/4"})).code, 2);
  EXPECT_EQ(segq(eval_args(out + "/c", {"--batch-size", "0"})).code, 2);
  EXPECT_EQ(segq(eval_args(out + "/d", {"--protocol", "opencv"})).code, 2);
  CmdResult r =
      segq({"eval", "--model", fixture().model, "--data", out + "/nowhere", "--out", out + "/e"});
  EXPECT_EQ(r.code, 2) << r.err;
  r = segq({"eval", "--model", fixture().model, "--data", out + "/nowhere", "--resume"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--resume needs --out"), std::string::npos) << r.err;
  r = segq(eval_args(out + "/f", {}), {"JOB_COMPLETION_INDEX=1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--num-shards"), std::string::npos) << r.err;
}

// A checkpoint written by `segq quantize` evaluates as stored, beside its fp32 --baseline (or
// alone), with exactly the counts, metrics and sizes of quantizing on the fly (the reference run:
// fp32,int4).
TEST(CliEval, StoredQuantizedCheckpointEvaluatesLikeOnTheFlyQuantization) {
  const Fixture& f = fixture();
  const std::string dir = fresh_dir("cli_stored");
  const std::string q = dir + "/tiny-int4";
  CmdResult r = segq({"quantize", "--model", f.model, "--method", "int4", "--out", q});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> data = {"--images",     f.images, "--labels",  f.labels,
                                         "--batch-size", "1",      "--threads", "1"};
  auto args = [&](const std::string& out, std::vector<std::string> more) {
    std::vector<std::string> a = {"eval", "--model", q, "--out", dir + "/" + out};
    a.insert(a.end(), data.begin(), data.end());
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  r = segq(args("run", {"--baseline", f.model}));
  ASSERT_EQ(r.code, 0) << r.err;
  const json got = read_json(dir + "/run/results.json");
  EXPECT_EQ(counts_of(got), counts_of(reference()));
  EXPECT_EQ(got.at("methods").at(1).at("spec").get<std::string>().rfind("stored:int4", 0), 0u)
      << got.at("methods").at(1).at("spec");

  // Without --baseline: the stored method alone, the same counts, no comparisons.
  r = segq(args("alone", {}));
  ASSERT_EQ(r.code, 0) << r.err;
  const json alone = read_json(dir + "/alone/results.json");
  ASSERT_EQ(alone.at("methods").size(), 1u);
  EXPECT_TRUE(alone.at("baseline").is_null());
  const json& m = alone.at("methods").at(0);
  const json& want = reference().at("methods").at(1);
  EXPECT_EQ(m.at("name"), "int4");
  for (const char* key : {"confusion_matrix", "metrics", "per_class", "size_bytes", "num_pixels"}) {
    EXPECT_EQ(m.at(key), want.at(key)) << key;
  }
  EXPECT_TRUE(m.at("delta_miou_vs_fp32").is_null());

  // A method list, a baseline for an fp32 model, a quantized baseline: usage errors.
  r = segq(args("b", {"--baseline", f.model, "--methods", "fp32,int8"}));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--methods does not apply"), std::string::npos) << r.err;
  r = segq(args("c", {"--baseline", q}));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("itself a quantized checkpoint"), std::string::npos) << r.err;
  r = segq(eval_args(dir + "/d", {"--baseline", f.model}));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--baseline applies to a quantized --model"), std::string::npos) << r.err;
}

// --fold-decode-head: the same evaluation with the decode head folded. It changes float rounding
// only, so the run is a different evaluation (fingerprint) with the same pixels counted and
// nearly the same confusion counts.
TEST(CliEval, FoldedDecodeHeadIsItsOwnEvaluationWithNearlyEqualCounts) {
  const std::string out = fresh_dir("cli_fold");
  const CmdResult r =
      segq(eval_args(out, {"--batch-size", "1", "--threads", "1", "--fold-decode-head"}));
  ASSERT_EQ(r.code, 0) << r.err;
  const json got = read_json(out + "/results.json");
  const json& ref = reference();
  EXPECT_NE(got.at("fingerprint"), ref.at("fingerprint"));
  EXPECT_TRUE(read_json(out + "/config.json").at("command_settings").at("fold_decode_head"));
  for (size_t k = 0; k < 2; ++k) {
    const json& a = got.at("methods").at(k);
    const json& b = ref.at("methods").at(k);
    EXPECT_EQ(a.at("num_pixels"), b.at("num_pixels"));
    int64_t moved = 0;  // predictions that changed class (each moves one count off the diagonal)
    for (size_t i = 0; i < 11; ++i) {
      for (size_t j = 0; j < 11; ++j) {
        moved += std::abs(a.at("confusion_matrix")[i][j].get<int64_t>() -
                          b.at("confusion_matrix")[i][j].get<int64_t>());
      }
    }
    EXPECT_LE(moved, 2 * b.at("num_pixels").get<int64_t>() / 1000) << a.at("name");
  }
}

TEST(CliScore, AdeSamplePerfectPredictionsScoreOne) {
  const fs::path ade = fs::path(SEGQ_SOURCE_DIR) / "../shared/data/ade20k-sample";
  if (!fs::exists(ade)) GTEST_SKIP() << ade << " not present";
  const std::string dir = fresh_dir("cli_ade_score");
  const fs::path ann = ade / "ADEChallengeData2016/annotations/validation";
  for (const auto& e : fs::directory_iterator(ann)) {
    IndexMap m = decode_index_png(read_file(e.path().string()), e.path().string());
    for (uint8_t& v : m.values) v = v == 0 ? 7 : static_cast<uint8_t>(v - 1);  // 7: ignored px
    write_file_atomic(dir + "/" + e.path().filename().string(),
                      encode_index_png(m.values.data(), m.height, m.width));
  }
  const CmdResult r =
      segq({"score", "--pred-dir", dir, "--data", ade.string(), "--json", dir + "/s.json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json s = read_json(dir + "/s.json");
  EXPECT_EQ(s.at("mean_iou").get<double>(), 1.0);
  EXPECT_EQ(s.at("mean_accuracy").get<double>(), 1.0);
  EXPECT_EQ(s.at("overall_accuracy").get<double>(), 1.0);
  EXPECT_EQ(s.at("num_images"), 3);
  EXPECT_NE(r.out.find("mean_iou: 1"), std::string::npos) << r.out;
}

// Splits a CSV line without quoted commas (what these tests read).
std::vector<std::string> csv_cells(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) out.push_back(cell);
  if (!line.empty() && line.back() == ',') out.push_back("");
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) out.push_back(line);
  return out;
}

TEST(CliEval, RunDirectoryFilesAgree) {
  const std::string out = fresh_dir("cli_files");
  const CmdResult r = segq(eval_args(out, {"--batch-size", "4"}));
  ASSERT_EQ(r.code, 0) << r.err;
  const json results = read_json(out + "/results.json");
  EXPECT_EQ(counts_of(results), counts_of(reference()));
  // The table on stdout names every method and the interval column.
  EXPECT_NE(r.out.find("dmIoU [95% CI]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("int4 "), std::string::npos) << r.out;
  // config.json: resolved settings, model config, version, CPU, threads.
  const json config = read_json(out + "/config.json");
  EXPECT_EQ(config.at("segq_version"), SEGQ_VERSION);
  EXPECT_EQ(config.at("command_settings").at("batch_size"), 4);
  EXPECT_EQ(config.at("command_settings").at("methods").size(), 2u);
  EXPECT_EQ(config.at("model_config").at("id2label").size(), 11u);
  EXPECT_TRUE(config.at("cpu").is_string());
  EXPECT_GE(config.at("threads").get<int>(), 1);
  // results.csv: one row per method with the numbers of results.json (17 significant digits).
  const std::vector<std::string> rows = lines_of(read_file(out + "/results.csv"));
  ASSERT_EQ(rows.size(), 3u);
  const std::vector<std::string> head = csv_cells(rows[0]);
  auto column = [&](const std::string& name) {
    return static_cast<size_t>(std::find(head.begin(), head.end(), name) - head.begin());
  };
  for (size_t k = 0; k < 2; ++k) {
    const std::vector<std::string> cells = csv_cells(rows[k + 1]);
    ASSERT_EQ(cells.size(), head.size());
    const json& m = results.at("methods").at(k);
    EXPECT_EQ(cells[column("method")], m.at("name"));
    EXPECT_EQ(std::stod(cells[column("mean_iou")]), m.at("metrics").at("mean_iou").get<double>());
    EXPECT_EQ(std::stod(cells[column("agreement_vs_fp32")]),
              m.at("agreement_vs_fp32").get<double>());
    EXPECT_EQ(std::stod(cells[column("delta_low")]),
              m.at("delta_miou_vs_fp32").at("low").get<double>());
    EXPECT_EQ(std::stoll(cells[column("size_bytes")]), m.at("size_bytes").get<int64_t>());
  }
  // per_class.csv: 11 classes per method, equal to per_class of results.json.
  const std::vector<std::string> pc = lines_of(read_file(out + "/per_class.csv"));
  ASSERT_EQ(pc.size(), 1u + 2 * 11);
  const std::vector<std::string> int4_c5 = csv_cells(pc[1 + 11 + 5]);
  const json& row = results.at("methods").at(1).at("per_class").at(5);
  EXPECT_EQ(int4_c5[0], "int4");
  EXPECT_EQ(int4_c5[2], row.at("name"));
  if (row.at("iou").is_number()) {
    EXPECT_EQ(std::stod(int4_c5[3]), row.at("iou").get<double>());
  }
  // Previews: RGB input, coloured label and one map per method for the first 4 samples.
  for (const json& sample : results.at("samples")) {
    EXPECT_TRUE(fs::exists(out + "/" + sample.at("image").get<std::string>()));
    EXPECT_TRUE(fs::exists(out + "/" + sample.at("label").get<std::string>()));
    for (const auto& [method, rel] : sample.at("predictions").items()) {
      EXPECT_TRUE(fs::exists(out + "/" + rel.get<std::string>())) << method;
    }
  }
  const ImageU8 img = decode_image_rgb(read_file(out + "/samples/s000/image.png"), "image.png");
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.height, 30);  // sample 0 is 30x41
  EXPECT_EQ(img.width, 41);
  // --json prints results.json; a complete run resumed recomputes nothing.
  const json before = read_json(out + "/shards/shard-0-of-1.json");
  const CmdResult again = segq(eval_args(out, {"--resume", "--json"}));
  ASSERT_EQ(again.code, 0) << again.err;
  const json printed = json::parse(again.out);
  EXPECT_EQ(counts_of(printed), counts_of(results));
  const json after = read_json(out + "/shards/shard-0-of-1.json");
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(after.at("methods").at(k).at("timings"), before.at("methods").at(k).at("timings"));
  }
}

TEST(CliEval, ConfigFileAndFlagsThatWin) {
  const std::string out = fresh_dir("cli_config");
  write_file_atomic(out + "/c.json",
                    R"({"methods": ["fp32", "int8"], "batch-size": 3, "limit": 5,
                        "skip-bad": true})");
  CmdResult r = segq(eval_args(out + "/run", {"--config", out + "/c.json", "--limit", "6"}));
  ASSERT_EQ(r.code, 0) << r.err;
  json config = read_json(out + "/run/config.json").at("command_settings");
  EXPECT_EQ(config.at("batch_size"), 3);
  EXPECT_EQ(config.at("limit"), 6);  // the flag wins
  EXPECT_EQ(config.at("skip_bad"), true);
  // eval_args names --methods fp32,int4 on the command line: it wins over the file's list.
  EXPECT_EQ(config.at("methods").at(1).at("name"), "int4");
  // TOML (CLI11's subset) works too.
  write_file_atomic(out + "/c.toml", "batch-size = 2\nlimit = 3\n");
  r = segq(eval_args(out + "/run2", {"--config", out + "/c.toml"}));
  ASSERT_EQ(r.code, 0) << r.err;
  config = read_json(out + "/run2/config.json").at("command_settings");
  EXPECT_EQ(config.at("batch_size"), 2);
  EXPECT_EQ(read_json(out + "/run2/results.json").at("methods").at(0).at("num_images"), 3);
}

TEST(CliEval, UsageErrorsGiveOneClearLineAndExitTwo) {
  const std::string out = fresh_dir("cli_usage_lines");
  auto one_line = [](const CmdResult& r) {
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    return r.err;
  };
  EXPECT_NE(one_line(segq(eval_args(out + "/a", {"--methods", "fp32,int9"}))).find("int9"),
            std::string::npos);
  EXPECT_NE(one_line(segq({"eval", "--model", fixture().model, "--data", out + "/nowhere"}))
                .find(out + "/nowhere"),
            std::string::npos);
  write_file_atomic(out + "/bad.json", R"({"batch-size": "many"})");
  EXPECT_NE(
      one_line(segq(eval_args(out + "/b", {"--config", out + "/bad.json"}))).find("batch-size"),
      std::string::npos);
  write_file_atomic(out + "/unknown.json", R"({"batch-sise": 2})");
  EXPECT_NE(
      one_line(segq(eval_args(out + "/c", {"--config", out + "/unknown.json"}))).find("batch-sise"),
      std::string::npos);
  EXPECT_NE(one_line(segq(eval_args(out + "/d", {"--config", out + "/missing.json"})))
                .find("missing.json"),
            std::string::npos);
  EXPECT_NE(one_line(segq(eval_args(out + "/e", {"--wandb", "sometimes"}))).find("sometimes"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(out + "/a"));
}

TEST(CliEval, DryRunRunsNoInference) {
  const std::string out = fresh_dir("cli_dry");
  const CmdResult r = segq(eval_args(out + "/run", {"--dry-run"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(out + "/run"));  // nothing written, nothing evaluated
  EXPECT_NE(r.out.find("22 samples"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("method int4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decode_head.classifier.weight"), std::string::npos) << r.out;
}

TEST(CliEval, NoArgumentsRunsTheDemo) {
  // The demo with a small slice: the model is found next to the binary, the data generated into
  // SEGQ_DEMO_DATA once and reused.
  const std::string out = fresh_dir("cli_demo");
  const std::vector<std::string> env = {"SEGQ_DEMO_DATA=" + out + "/data"};
  CmdResult r = segq({"eval", "--limit", "3", "--methods", "fp32,int8", "--out", out + "/a"}, env);
  ASSERT_EQ(r.code, 0) << r.err;
  const json results = read_json(out + "/a/results.json");
  EXPECT_EQ(results.at("methods").size(), 2u);
  EXPECT_EQ(results.at("num_labels"), 150);
  EXPECT_EQ(results.at("methods").at(0).at("per_class").at(0).at("name"), "wall");
  EXPECT_TRUE(fs::exists(out + "/data/synth-validation.json"));
  const auto stamp = fs::last_write_time(out + "/data/synth-validation.json");
  r = segq({"eval", "--dry-run"}, env);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("100 samples"), std::string::npos) << r.out;
  for (const char* m :
       {"fp32", "bf16", "fp8", "int8", "int4", "int2", "int4-hqq", "int2-g16-hqq"}) {
    EXPECT_NE(r.out.find(std::string("method ") + m + " "), std::string::npos) << m;
  }
  EXPECT_EQ(fs::last_write_time(out + "/data/synth-validation.json"), stamp);  // reused
}

TEST(CliEval, WandbOfflineRunPerMethodAndShardsLogOnlyOnMerge) {
  const std::string out = fresh_dir("cli_wandb");
  auto runs_in = [](const std::string& dir) {
    size_t n = 0;
    if (!fs::exists(dir + "/wandb")) return n;
    for (const auto& e : fs::directory_iterator(dir + "/wandb")) {
      if (e.path().filename().string().rfind("offline-run-", 0) == 0) ++n;
    }
    return n;
  };
  CmdResult r = segq(eval_args(out + "/run", {"--wandb", "offline"}), {"WANDB_DIR=" + out + "/w1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(runs_in(out + "/w1"), 2u);
  // WANDB_MODE alone enables it too.
  r = segq(eval_args(out + "/run2", {}), {"WANDB_DIR=" + out + "/w2", "WANDB_MODE=offline"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(runs_in(out + "/w2"), 2u);
  // Shards log nothing; the merge logs one run per method.
  for (int i = 0; i < 2; ++i) {
    r = segq(eval_args(out + "/sh", {"--shard", std::to_string(i) + "/2", "--wandb"}),
             {"WANDB_DIR=" + out + "/w3"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  EXPECT_EQ(runs_in(out + "/w3"), 0u);
  r = segq({"merge", out + "/sh/shards/shard-0-of-2.json", out + "/sh/shards/shard-1-of-2.json",
            "--out", out + "/sh", "--wandb"},
           {"WANDB_DIR=" + out + "/w3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(runs_in(out + "/w3"), 2u);
  EXPECT_TRUE(fs::exists(out + "/sh/results.csv"));
}

#else

TEST(CliEval, NeedsTheDataLayerAndTheEngine) {
  GTEST_SKIP() << "segq eval/score end-to-end tests need data/ (open_dataset) and "
                  "model/segformer.h in the build";
}

#endif

}  // namespace
}  // namespace segq
