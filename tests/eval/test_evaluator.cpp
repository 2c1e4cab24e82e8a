// The evaluation loop end to end with the fake model and data (tests/eval/fakes.h): sharded runs
// merge to the unsharded run bit for bit whatever the batch size and thread counts, merge refuses
// inconsistent shard sets, interrupted and SIGKILLed runs resume to identical results, bad samples
// are skipped and recorded, saved predictions score the same through `score`, memory does not grow
// with the dataset.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "core/thread_pool.h"
#include "eval/evaluator.h"
#include "eval/fakes.h"
#include "eval/index_png.h"
#include "eval/score.h"
#include "eval/temp_dirs.h"
#include "io/file_util.h"

extern char** environ;

namespace segq {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string temp_dir(const std::string& name) { return testing_dirs::make_temp_dir(name); }

EvalJob make_job(const WeightSet& weights, size_t n, bool varying, const std::string& methods,
                 PrepareFn prepare = nullptr) {
  EvalJob job;
  job.num_labels = fake::kNumLabels;
  job.methods = resolve_methods(methods, fake::resolve_method);
  job.fp32_weights = &weights;
  job.make_model = [](const WeightSet& w) { return std::make_unique<fake::Model>(w); };
  FingerprintInputs fi;
  fi.model_sha256 = "fake-model";
  fi.dataset_description = "fake";
  for (size_t i = 0; i < n; ++i) {
    job.sample_ids.push_back(fake::prepare(i, varying).id);
    fi.sample_keys.push_back(job.sample_ids.back());
  }
  fi.protocol = "hf";
  fi.num_labels = fake::kNumLabels;
  fi.methods = job.methods;
  job.fingerprint = make_fingerprint(fi);
  job.prepare = prepare ? prepare : [varying](size_t i) { return fake::prepare(i, varying); };
  return job;
}

EvalOptions options(const std::string& out, ShardSpec shard, int batch, int workers) {
  EvalOptions o;
  o.out_dir = out;
  o.shard = shard;
  o.batch_size = batch;
  o.data_workers = workers;
  return o;
}

// results.json without what legitimately differs between runs (timings, info).
json comparable(const ShardState& s) {
  json r = results_json(s);
  r.erase("info");
  r.erase("num_shards");
  for (json& m : r.at("methods")) {
    m.erase("timings");
    m.erase("ms_per_image");
    m.erase("images_per_s");
  }
  return r;
}

ShardState run_unsharded(const EvalJob& job, const std::string& out, int batch, int workers,
                         int threads) {
  set_num_threads(threads);
  return run_evaluation(job, options(out, ShardSpec{}, batch, workers));
}

ShardState run_sharded(const EvalJob& job, const std::string& out, int shards, int batch,
                       int workers, int threads) {
  set_num_threads(threads);
  std::vector<std::pair<std::string, ShardState>> parts;
  for (int i = shards - 1; i >= 0; --i) {  // any order
    run_evaluation(job, options(out, ShardSpec{i, shards, "--shard"}, batch, workers));
    const std::string path = shard_file_path(out, ShardSpec{i, shards, ""});
    parts.emplace_back(path, read_shard_file(path));
  }
  return merge_shards(parts);
}

TEST(Methods, ListAlwaysStartsWithFp32AndDropsRepeats) {
  const std::vector<EvalMethod> m =
      resolve_methods(" shift3,fp32, shift3 ,shift14,,", fake::resolve_method);
  ASSERT_EQ(m.size(), 2u);  // shift14 resolves to the spec of shift3 (class 14 % 11 = 3)
  EXPECT_EQ(m[0].name, "fp32");
  EXPECT_EQ(m[1].name, "shift3");
  EXPECT_THROW(resolve_methods("fp32,int4", fake::resolve_method), UsageError);
  EXPECT_THROW(resolve_methods("int4"), UsageError);
  EXPECT_EQ(resolve_methods("").size(), 1u);
}

TEST(Evaluator, ShardedRunsMergeToTheUnshardedRunBitForBit) {
  const WeightSet w = fake::fp32_weights();
  const EvalJob job = make_job(w, 37, /*varying=*/true, "fp32,shift3");
  const std::string dir = temp_dir("sharded");
  const ShardState ref = run_unsharded(job, dir + "/ref", 1, 1, 1);
  ASSERT_TRUE(ref.complete());
  ASSERT_EQ(ref.methods.size(), 2u);
  for (const MethodResult& m : ref.methods) {
    EXPECT_EQ(m.counts.num_images(), 37u);
    EXPECT_GT(m.counts.num_pixels(), 10000u);
    EXPECT_EQ(m.per_image.size(), 37u);
  }
  EXPECT_FALSE(ref.methods[0].counts == ref.methods[1].counts);  // the methods differ
  const SegmentationMetrics m0 = compute_metrics(ref.methods[0].counts);
  EXPECT_GT(m0.overall_accuracy, 0.5);  // the fake model sees the classes
  EXPECT_LT(m0.overall_accuracy, 1.0);
  // The unsharded run wrote results.json, and it is results_json() of its state.
  const json on_disk = json::parse(read_file(dir + "/ref/results.json"));
  EXPECT_EQ(on_disk.at("methods").at(0).at("confusion_matrix"),
            results_json(ref).at("methods").at(0).at("confusion_matrix"));

  struct Config {
    int shards, batch, workers, threads;
  };
  for (const Config c : {Config{4, 8, 2, 2}, Config{4, 1, 1, 2}, Config{4, 8, 2, 1},
                         Config{1, 8, 2, 2}, Config{3, 3, 1, 1}}) {
    SCOPED_TRACE(::testing::Message() << c.shards << " shards, batch " << c.batch << ", "
                                      << c.workers << " workers, " << c.threads << " threads");
    const std::string out =
        str_cat(dir, "/s", c.shards, "b", c.batch, "w", c.workers, "t", c.threads);
    const ShardState merged = c.shards == 1
                                  ? run_unsharded(job, out, c.batch, c.workers, c.threads)
                                  : run_sharded(job, out, c.shards, c.batch, c.workers, c.threads);
    for (size_t k = 0; k < ref.methods.size(); ++k) {
      EXPECT_TRUE(merged.methods[k].counts == ref.methods[k].counts) << ref.methods[k].name;
    }
    EXPECT_EQ(comparable(merged), comparable(ref));
  }
  set_num_threads(0);
}

// The fp32 baseline is its own reference: one forward per batch for it, whether or not later
// methods use its cached logits; a method compared with an uncached baseline pays one more.
TEST(Evaluator, ForwardPassesPerBatch) {
  const WeightSet weights = fake::fp32_weights();
  struct Case {
    std::string methods;
    size_t cache_bytes;
    int want;  // forwards for 10 images in batches of 2
  };
  for (const Case& c : {Case{"fp32", size_t{256} << 20, 5},
                        Case{"fp32,shift3", size_t{256} << 20, 10}, Case{"fp32,shift3", 0, 15}}) {
    auto forwards = std::make_shared<std::atomic<int>>(0);
    EvalJob job = make_job(weights, 10, false, c.methods);
    job.make_model = [forwards](const WeightSet& w) {
      struct Counting : fake::Model {
        Counting(const WeightSet& w, std::shared_ptr<std::atomic<int>> n)
            : fake::Model(w), n_(std::move(n)) {}
        Tensor forward(const Tensor& pixels) override {
          ++*n_;
          return fake::Model::forward(pixels);
        }
        std::shared_ptr<std::atomic<int>> n_;
      };
      return std::make_unique<Counting>(w, forwards);
    };
    EvalOptions o = options(temp_dir("eval_forwards"), ShardSpec{}, 2, 1);
    o.reference_cache_bytes = c.cache_bytes;
    run_evaluation(job, o);
    EXPECT_EQ(forwards->load(), c.want) << c.methods << ", cache " << c.cache_bytes;
  }
}

TEST(Evaluator, MergeRefusesMissingDuplicateMismatchedAndIncompleteShards) {
  const WeightSet w = fake::fp32_weights();
  const EvalJob job = make_job(w, 13, false, "fp32");
  const std::string dir = temp_dir("merge");
  std::vector<std::pair<std::string, ShardState>> parts;
  for (int i = 0; i < 3; ++i) {
    run_evaluation(job, options(dir + "/a", ShardSpec{i, 3, ""}, 2, 1));
    const std::string p = shard_file_path(dir + "/a", ShardSpec{i, 3, ""});
    parts.emplace_back(p, read_shard_file(p));
  }
  EXPECT_NO_THROW(merge_shards(parts));
  auto expect_error = [](const std::vector<std::pair<std::string, ShardState>>& set,
                         const std::vector<std::string>& fragments) {
    try {
      merge_shards(set);
      ADD_FAILURE() << "merge accepted an inconsistent set";
    } catch (const Error& e) {
      for (const std::string& f : fragments) {
        EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what() << " / " << f;
      }
    }
  };
  // Missing shard 1.
  expect_error({parts[0], parts[2]}, {"missing 1 of 3", "shard-1-of-3.json"});
  // Duplicate.
  expect_error({parts[0], parts[1], parts[1], parts[2]}, {"both shard 1 of 3"});
  // A shard of another run (other method list): the differing field is named.
  const EvalJob other = make_job(w, 13, false, "fp32,shift2", nullptr);
  run_evaluation(other, options(dir + "/b", ShardSpec{1, 3, ""}, 2, 1));
  const std::string pb = shard_file_path(dir + "/b", ShardSpec{1, 3, ""});
  expect_error({parts[0], {pb, read_shard_file(pb)}, parts[2]},
               {"come from different runs", "methods", pb});
  // Another sample list.
  const EvalJob fewer = make_job(w, 12, false, "fp32");
  run_evaluation(fewer, options(dir + "/c", ShardSpec{1, 3, ""}, 2, 1));
  const std::string pc = shard_file_path(dir + "/c", ShardSpec{1, 3, ""});
  expect_error({parts[0], {pc, read_shard_file(pc)}, parts[2]}, {"dataset.num_samples"});
  // Shards of a 3-way and a 2-way split.
  run_evaluation(job, options(dir + "/d", ShardSpec{1, 2, ""}, 2, 1));
  const std::string pd = shard_file_path(dir + "/d", ShardSpec{1, 2, ""});
  expect_error({parts[0], {pd, read_shard_file(pd)}}, {"shard 1 of 2", "shard 0 of 3"});
  // An incomplete shard.
  ShardState cut = parts[1].second;
  cut.methods[0].complete = false;
  expect_error({parts[0], {"cut.json", cut}, parts[2]}, {"cut.json", "incomplete"});
  // A file whose counts were edited no longer parses.
  json j = shard_to_json(parts[0].second);
  j["methods"][0]["num_pixels"] = 1;
  EXPECT_THROW(shard_from_json(j, "edited.json"), Error);
}

// Sets the interrupt flag once `after` images of method `method` are done.
class InterruptAfter : public EvalObserver {
 public:
  InterruptAfter(std::string method, uint64_t after, std::atomic<bool>* flag)
      : method_(std::move(method)), after_(after), flag_(flag) {}
  void progress(const MethodResult& r, uint64_t) override {
    if (r.name == method_ && r.counts.num_images() >= after_) flag_->store(true);
  }

 private:
  std::string method_;
  uint64_t after_;
  std::atomic<bool>* flag_;
};

TEST(Evaluator, InterruptedRunResumesToIdenticalResults) {
  const WeightSet w = fake::fp32_weights();
  std::atomic<int> prepared{0};
  const EvalJob job = make_job(w, 29, true, "fp32,shift3,shift5", [&](size_t i) {
    ++prepared;
    return fake::prepare(i, true);
  });
  const std::string dir = temp_dir("interrupt");
  set_num_threads(2);
  const ShardState ref = run_evaluation(job, options(dir + "/ref", ShardSpec{}, 4, 2));

  std::atomic<bool> flag{false};
  EvalOptions o = options(dir + "/run", ShardSpec{}, 4, 2);
  o.interrupt = &flag;
  InterruptAfter obs("shift3", 9, &flag);
  EXPECT_THROW(run_evaluation(job, o, &obs), Interrupted);
  const ShardState partial = read_shard_file(shard_file_path(o.out_dir, o.shard));
  ASSERT_EQ(partial.methods.size(), 2u);
  EXPECT_TRUE(partial.methods[0].complete);
  EXPECT_FALSE(partial.methods[1].complete);
  const uint64_t done = partial.methods[1].counts.num_images();
  EXPECT_GE(done, 9u);
  EXPECT_LT(done, 29u);
  EXPECT_FALSE(fs::exists(o.out_dir + "/results.json"));

  // Without --resume the directory is refused; with it, only the rest is computed.
  flag = false;
  o.interrupt = nullptr;
  EXPECT_THROW(run_evaluation(job, o), UsageError);
  o.resume = true;
  prepared = 0;
  const ShardState resumed = run_evaluation(job, o);
  EXPECT_EQ(prepared.load(), static_cast<int>((29 - done) + 29));  // rest of shift3 + shift5
  EXPECT_EQ(comparable(resumed), comparable(ref));
  EXPECT_TRUE(fs::exists(o.out_dir + "/results.json"));
  // Resuming a finished run recomputes nothing.
  prepared = 0;
  run_evaluation(job, o);
  EXPECT_EQ(prepared.load(), 0);
  // Resuming with other settings is refused, naming the field.
  const EvalJob other = make_job(w, 29, true, "fp32,shift4");
  try {
    run_evaluation(other, o);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("methods"), std::string::npos) << e.what();
  }
  set_num_threads(0);
}

// --- SIGKILL: a child process (this test binary, another filter) is killed mid-run.

pid_t spawn_self(const std::string& filter, const std::vector<std::string>& extra_env) {
  std::vector<std::string> env_strings(extra_env);
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = fs::read_symlink("/proc/self/exe").string();
  std::string arg = "--gtest_filter=" + filter;
  char* argv[] = {exe.data(), arg.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data());
  EXPECT_EQ(rc, 0);
  return pid;
}

constexpr size_t kKillSamples = 40;
constexpr size_t kStallFrom = 22;  // the child's data workers hang from this sample on

TEST(EvalChild, RunUntilKilled) {
  const char* out = std::getenv("SEGQ_TEST_CHILD_OUT");
  if (!out) GTEST_SKIP() << "runs only as the child of Evaluator.KilledRunResumes";
  const WeightSet w = fake::fp32_weights();
  const EvalJob job = make_job(w, kKillSamples, true, "fp32,shift3", [](size_t i) {
    if (i >= kStallFrom) std::this_thread::sleep_for(std::chrono::seconds(120));
    return fake::prepare(i, true);
  });
  EvalOptions o = options(out, ShardSpec{1, 2, "--shard"}, 2, 2);
  o.checkpoint_every_images = 2;
  run_evaluation(job, o);
  ADD_FAILURE() << "the child should have been killed";
}

TEST(Evaluator, KilledRunResumes) {
  const WeightSet w = fake::fp32_weights();
  const EvalJob job = make_job(w, kKillSamples, true, "fp32,shift3");
  const std::string dir = temp_dir("killed");
  const ShardSpec shard{1, 2, "--shard"};
  const std::string path = shard_file_path(dir + "/run", shard);
  const pid_t pid = spawn_self("EvalChild.RunUntilKilled", {"SEGQ_TEST_CHILD_OUT=" + dir + "/run"});
  ASSERT_GT(pid, 0);
  // Wait for a checkpoint with progress (the child then stalls, never finishing on its own).
  uint64_t done = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(path)) {
      const ShardState s = read_shard_file(path);  // atomic renames: never a torn file
      if (!s.methods.empty() && s.methods[0].counts.num_images() >= 4) {
        done = s.methods[0].counts.num_images();
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child exited on its own";
  ASSERT_GE(done, 4u);

  const ShardState killed = read_shard_file(path);
  EXPECT_FALSE(killed.complete());
  EvalOptions o = options(dir + "/run", shard, 3, 2);
  o.resume = true;
  set_num_threads(2);
  const ShardState resumed = run_evaluation(job, o);
  const ShardState ref = run_evaluation(job, options(dir + "/ref", shard, 1, 1));
  EXPECT_TRUE(resumed.complete());
  for (size_t k = 0; k < ref.methods.size(); ++k) {
    EXPECT_TRUE(resumed.methods[k].counts == ref.methods[k].counts);
  }
  EXPECT_EQ(shard_to_json(resumed).at("methods").at(1).at("per_image"),
            shard_to_json(ref).at("methods").at(1).at("per_image"));
  set_num_threads(0);
}

TEST(Evaluator, BadSamplesAreSkippedAndRecordedOrStopTheRun) {
  const WeightSet w = fake::fp32_weights();
  auto prepare = [](size_t i) {
    if (i == 4 || i == 11) throw Error("img_" + std::to_string(100000 + i) + ".jpg: corrupt JPEG");
    return fake::prepare(i, false);
  };
  const EvalJob job = make_job(w, 15, false, "fp32,shift1", prepare);
  const std::string dir = temp_dir("bad");
  EvalOptions o = options(dir + "/skip", ShardSpec{}, 2, 2);
  o.skip_bad = true;
  const ShardState s = run_evaluation(job, o);
  ASSERT_TRUE(s.complete());
  const json r = json::parse(read_file(dir + "/skip/results.json"));
  for (const json& m : r.at("methods")) {
    EXPECT_EQ(m.at("num_images"), 13);
    EXPECT_EQ(m.at("num_skipped"), 2);
    EXPECT_EQ(m.at("skipped").at(0).at("id"), "img_100004");
    EXPECT_NE(m.at("skipped").at(1).at("reason").get<std::string>().find("corrupt JPEG"),
              std::string::npos);
  }
  // Without --skip-bad the run stops with the file's message, keeping its progress.
  EvalOptions strict = options(dir + "/strict", ShardSpec{}, 1, 1);
  try {
    run_evaluation(job, strict);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("img_100004.jpg: corrupt JPEG"), std::string::npos);
  }
  const ShardState partial = read_shard_file(shard_file_path(strict.out_dir, strict.shard));
  EXPECT_FALSE(partial.complete());
  // ... and finishes with --resume --skip-bad.
  strict.resume = true;
  strict.skip_bad = true;
  EXPECT_EQ(comparable(run_evaluation(job, strict)), comparable(s));
}

TEST(Evaluator, SavedPredictionsScoreLikeTheRun) {
  const WeightSet w = fake::fp32_weights();
  const EvalJob job = make_job(w, 11, true, "fp32,shift3");
  const std::string dir = temp_dir("preds");
  EvalOptions o = options(dir + "/run", ShardSpec{}, 3, 2);
  o.save_preds_dir = dir + "/preds";
  const ShardState s = run_evaluation(job, o);
  const fake::Dataset data(11, true);
  ScoreOptions so;
  so.num_labels = fake::kNumLabels;
  for (size_t k = 0; k < 2; ++k) {
    const ScoreResult r = score_prediction_dir(data, dir + "/preds/" + s.methods[k].name, so);
    EXPECT_TRUE(r.counts == s.methods[k].counts) << s.methods[k].name;
    const json js = score_json(r);
    const SegmentationMetrics m = compute_metrics(s.methods[k].counts);
    EXPECT_EQ(js.at("mean_iou").get<double>(), m.mean_iou);
    EXPECT_EQ(js.at("num_images"), 11);
  }
  // A missing prediction is named (all of them, before any scoring).
  fs::remove(dir + "/preds/fp32/img_100003.png");
  fs::remove(dir + "/preds/fp32/img_100007.png");
  try {
    score_prediction_dir(data, dir + "/preds/fp32", so);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 of 11 predictions are missing"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("img_100007.png"), std::string::npos);
  }
  // A prediction of the wrong size is named.
  const std::vector<uint8_t> tiny(6, 1);
  write_file_atomic(dir + "/preds/fp32/img_100003.png", encode_index_png(tiny.data(), 2, 3));
  write_file_atomic(dir + "/preds/fp32/img_100007.png", encode_index_png(tiny.data(), 2, 3));
  try {
    score_prediction_dir(data, dir + "/preds/fp32", so);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("prediction is 3x2"), std::string::npos) << e.what();
  }
}

// The real ADE20K sample: annotations read straight from the folder (the data layer's Dataset
// implementations live elsewhere; this one is just enough for score()).
class AdeSampleAnnotations : public Dataset {
 public:
  explicit AdeSampleAnnotations(std::string dir) : dir_(std::move(dir)) {
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string stem = e.path().stem().string();
      samples_.push_back({stem, stem + ".jpg", e.path().filename().string()});
    }
    std::sort(samples_.begin(), samples_.end(),
              [](const Sample& a, const Sample& b) { return a.id < b.id; });
  }
  const std::vector<Sample>& samples() const override { return samples_; }
  std::string read_image_bytes(size_t) const override { return {}; }
  std::string read_label_bytes(size_t i) const override { return read_file(label_location(i)); }
  std::string image_location(size_t i) const override { return samples_[i].image_name; }
  std::string label_location(size_t i) const override {
    return dir_ + "/" + samples_[i].label_name;
  }
  std::string description() const override { return "ade20k-sample"; }

 private:
  std::string dir_;
  std::vector<Sample> samples_;
};

TEST(Score, AdeSamplePerfectPredictionsScoreOne) {
  const std::string ann =
      std::string(SEGQ_SOURCE_DIR) +
      "/../shared/data/ade20k-sample/ADEChallengeData2016/annotations/validation";
  if (!fs::exists(ann)) GTEST_SKIP() << ann << " not present";
  const AdeSampleAnnotations data(ann);
  ASSERT_EQ(data.samples().size(), 3u);
  const std::string dir = temp_dir("ade_score");
  ScoreOptions so;  // 150 classes, reduced labels
  for (size_t i = 0; i < data.samples().size(); ++i) {
    int h = 0, w = 0;
    std::vector<uint8_t> labels =
        decode_annotation(data.read_label_bytes(i), data.label_location(i), so, &h, &w);
    for (uint8_t& v : labels) {
      if (v == kIgnoreLabel) v = static_cast<uint8_t>(i * 37 % 150);  // anything where ignored
    }
    write_file_atomic(dir + "/" + data.samples()[i].id + ".png",
                      encode_index_png(labels.data(), h, w));
  }
  const ScoreResult r = score_prediction_dir(data, dir, so);
  const json j = score_json(r);
  EXPECT_EQ(j.at("mean_iou").get<double>(), 1.0);
  EXPECT_EQ(j.at("mean_accuracy").get<double>(), 1.0);
  EXPECT_EQ(j.at("overall_accuracy").get<double>(), 1.0);
  EXPECT_EQ(j.at("num_images"), 3);
  EXPECT_GT(j.at("num_pixels").get<uint64_t>(), 300000u);
  EXPECT_EQ(j.at("per_class_iou").size(), 150u);
  // Annotation values that are no class of the label space are an error naming the file.
  ScoreOptions raw = so;
  raw.reduce_labels = false;
  raw.num_labels = 10;
  try {
    score_prediction_dir(data, dir, raw);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("annotations/validation/ADE_val_0000000"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("is neither a class in [0, 10)"), std::string::npos);
  }
}

// --- Memory: peak RSS over 2000 images vs 20 (child processes, so each has its own VmHWM).

uint64_t vm_hwm_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

TEST(EvalChild, MemoryRun) {
  const char* n_env = std::getenv("SEGQ_TEST_MEMORY_IMAGES");
  const char* report = std::getenv("SEGQ_TEST_MEMORY_REPORT");
  if (!n_env || !report) GTEST_SKIP() << "runs only as a child of Evaluator.MemoryIsFlat";
  const size_t n = std::stoul(n_env);
  const WeightSet w = fake::fp32_weights();
  const EvalJob job = make_job(w, n, false, "fp32", [](size_t i) {
    PreparedSample s = fake::prepare(i, false);
    // 128x128 inputs and labels, as in the acceptance measurement.
    s.pixels = Tensor::zeros(DType::F32, {3, 128, 128});
    s.labels.assign(128 * 128, static_cast<uint8_t>(i % fake::kNumLabels));
    s.label_h = s.label_w = 128;
    s.logits_resize_chain = {{128, 128}};
    return s;
  });
  set_num_threads(2);
  const std::string out = std::string(report) + ".run";
  fs::remove_all(out);
  run_evaluation(job, options(out, ShardSpec{}, 8, 2));
  std::ofstream(report) << vm_hwm_bytes() << "\n";
}

TEST(Evaluator, MemoryIsFlat) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's quarantine and shadow memory make RSS meaningless";
#endif
  const std::string dir = temp_dir("memory");
  uint64_t rss[2] = {0, 0};
  const size_t counts[2] = {20, 2000};
  for (int k = 0; k < 2; ++k) {
    const std::string report = dir + "/rss" + std::to_string(counts[k]);
    const pid_t pid =
        spawn_self("EvalChild.MemoryRun", {"SEGQ_TEST_MEMORY_IMAGES=" + std::to_string(counts[k]),
                                           "SEGQ_TEST_MEMORY_REPORT=" + report});
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    std::ifstream(report) >> rss[k];
    ASSERT_GT(rss[k], 0u);
  }
  std::printf("peak RSS: %zu images %.1f MB, %zu images %.1f MB\n", counts[0], rss[0] / 1048576.0,
              counts[1], rss[1] / 1048576.0);
  EXPECT_LE(static_cast<double>(rss[1]), static_cast<double>(rss[0]) + 50.0 * 1048576.0);
}

}  // namespace
}  // namespace segq
