// The fan-out: a failing sink is dropped with a warning and the others keep receiving events;
// history thinning; the MLflow sink's failure on an unreachable server goes through the same path.
#include <gtest/gtest.h>

#include "fake_http_server.h"
#include "track/history_throttle.h"
#include "track/mlflow_sink.h"
#include "track/sink.h"

namespace segq::track {
namespace {

class RecordingSink : public Sink {
 public:
  explicit RecordingSink(std::string name, std::string fail_on = "")
      : name_(std::move(name)), fail_on_(std::move(fail_on)) {}
  std::string_view name() const override { return name_; }
  void on_run_started(const TrackingRun&) override { hit("run_started"); }
  void on_method_started(const MethodStarted&) override { hit("method_started"); }
  void on_progress(const Progress&) override { hit("progress"); }
  void on_method_finished(const MethodFinished&) override { hit("method_finished"); }
  void on_run_finished(const RunFinished&) override { hit("run_finished"); }
  std::vector<std::string>* log = nullptr;

 private:
  void hit(const std::string& event) {
    if (log) log->push_back(name_ + ":" + event);
    if (event == fail_on_) throw Error("boom at " + event);
  }
  std::string name_, fail_on_;
};

TEST(Tracker, FailingSinkIsDroppedOthersContinue) {
  std::vector<std::string> log;
  auto bad = std::make_unique<RecordingSink>("bad", "method_started");
  auto good = std::make_unique<RecordingSink>("good");
  bad->log = &log;
  good->log = &log;
  Tracker t;
  t.add(std::move(bad));
  t.add(std::move(good));
  t.on_run_started({});
  EXPECT_NO_THROW(t.on_method_started({}));
  t.on_progress({});
  t.on_method_finished({});
  t.on_run_finished({});
  EXPECT_EQ(
      log, (std::vector<std::string>{"bad:run_started", "good:run_started", "bad:method_started",
                                     "good:method_started", "good:progress", "good:method_finished",
                                     "good:run_finished"}));
  EXPECT_EQ(t.failed(), std::vector<std::string>{"bad"});
}

TEST(Tracker, UnreachableMlflowIsDroppedAndLocalSinkStillFinishes) {
  int port;
  {
    segq::testing::FakeHttpServer s(
        [](const segq::testing::FakeRequest&) { return segq::testing::FakeResponse{}; });
    port = s.port();
  }
  MlflowSettings settings;
  settings.tracking_uri = "http://127.0.0.1:" + std::to_string(port);
  settings.max_retries = 1;
  settings.backoff_s = 0.01;
  std::vector<std::string> log;
  auto local = std::make_unique<RecordingSink>("local");
  local->log = &log;
  Tracker t;
  t.add(std::make_unique<MlflowSink>(settings));
  t.add(std::move(local));
  TrackingRun run;
  run.eval_id = "e";
  t.on_run_started(run);
  t.on_method_finished({});
  t.on_run_finished({});
  EXPECT_EQ(t.failed(), std::vector<std::string>{"MLflow"});
  EXPECT_EQ(log.back(), "local:run_finished");
}

TEST(HistoryThrottle, BoundedEvenAndIncludesTheLastImage) {
  HistoryThrottle t(2000, 50);
  int taken = 0;
  int64_t last = -1;
  for (int64_t done = 3; done <= 2000; done += 3) {
    if (t.take(done)) {
      ++taken;
      last = done;
    }
  }
  if (t.take(2000)) {
    ++taken;
    last = 2000;
  }
  EXPECT_LE(taken, 50);
  EXPECT_GE(taken, 40);
  EXPECT_EQ(last, 2000);
  EXPECT_FALSE(t.take(2000)) << "steps strictly increase";
}

TEST(HistoryThrottle, EveryEventWhenFewerThanTheBound) {
  HistoryThrottle t(5, 100);
  for (int64_t done = 1; done <= 5; ++done) EXPECT_TRUE(t.take(done));
  EXPECT_FALSE(t.take(3));
}

}  // namespace
}  // namespace segq::track
