// MLflow REST client against a loopback fake server: retries and backoff on 5xx and connection
// errors, clear 4xx errors, auth headers, experiment creation races, batching under the
// server's limits, key and value rules.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <map>

#include "fake_http_server.h"
#include "track/mlflow_client.h"

namespace segq::track {
namespace {

using segq::testing::FakeHttpServer;
using segq::testing::FakeRequest;
using segq::testing::FakeResponse;

MlflowSettings settings_for(const std::string& uri) {
  MlflowSettings s;
  s.tracking_uri = uri;
  s.max_retries = 3;
  s.backoff_s = 0.25;
  s.http.timeout_s = 10;
  return s;
}

MlflowClient client_for(const std::string& uri, std::vector<double>* sleeps) {
  MlflowClient c(settings_for(uri));
  c.set_sleep_for_test([sleeps](double s) { sleeps->push_back(s); });
  return c;
}

TEST(MlflowClient, RetriesServerErrorsWithExponentialBackoff) {
  std::atomic<int> calls{0};
  FakeHttpServer server([&](const FakeRequest&) {
    if (calls++ < 2) return FakeResponse{503, "busy"};
    return FakeResponse{200, R"({"experiment_id": "7"})"};
  });
  std::vector<double> sleeps;
  MlflowClient c = client_for(server.url(), &sleeps);
  const nlohmann::json r = c.call("POST", "mlflow/experiments/create", {{"name", "x"}});
  EXPECT_EQ(r["experiment_id"], "7");
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(sleeps, (std::vector<double>{0.25, 0.5}));
}

TEST(MlflowClient, GivesUpAfterMaxRetriesNamingTheProblem) {
  std::atomic<int> calls{0};
  FakeHttpServer server([&](const FakeRequest&) {
    ++calls;
    return FakeResponse{500, R"({"error_code": "INTERNAL_ERROR", "message": "db down"})"};
  });
  std::vector<double> sleeps;
  MlflowClient c = client_for(server.url(), &sleeps);
  try {
    c.call("POST", "mlflow/runs/log-batch", {{"run_id", "r"}});
    FAIL() << "expected an error";
  } catch (const MlflowApiError& e) {
    EXPECT_EQ(e.status(), 500);
    EXPECT_NE(std::string(e.what()).find("4 attempts"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("db down"), std::string::npos) << e.what();
  }
  EXPECT_EQ(calls.load(), 4);
  EXPECT_EQ(sleeps.size(), 3u);
}

TEST(MlflowClient, ClientErrorsAreNotRetriedAndSayWhatTheServerSaid) {
  std::atomic<int> calls{0};
  FakeHttpServer server([&](const FakeRequest&) {
    ++calls;
    return FakeResponse{
        400, R"({"error_code": "INVALID_PARAMETER_VALUE", "message": "Param value too long"})"};
  });
  std::vector<double> sleeps;
  MlflowClient c = client_for(server.url(), &sleeps);
  try {
    c.call("POST", "mlflow/runs/log-batch", {{"run_id", "r"}});
    FAIL() << "expected an error";
  } catch (const MlflowApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.error_code(), "INVALID_PARAMETER_VALUE");
    const std::string what = e.what();
    EXPECT_NE(what.find("mlflow/runs/log-batch"), std::string::npos) << what;
    EXPECT_NE(what.find("Param value too long"), std::string::npos) << what;
  }
  EXPECT_EQ(calls.load(), 1);
  EXPECT_TRUE(sleeps.empty());
}

TEST(MlflowClient, TooManyRequestsIsRetried) {
  std::atomic<int> calls{0};
  FakeHttpServer server([&](const FakeRequest&) {
    return calls++ == 0 ? FakeResponse{429, "slow down"} : FakeResponse{200, "{}"};
  });
  std::vector<double> sleeps;
  MlflowClient c = client_for(server.url(), &sleeps);
  c.call("POST", "mlflow/runs/update", {{"run_id", "r"}});
  EXPECT_EQ(calls.load(), 2);
}

TEST(MlflowClient, UnreachableServerIsATransportErrorAfterRetries) {
  int port;
  {
    FakeHttpServer closed([](const FakeRequest&) { return FakeResponse{}; });
    port = closed.port();
  }
  std::vector<double> sleeps;
  MlflowClient c = client_for("http://127.0.0.1:" + std::to_string(port), &sleeps);
  EXPECT_THROW(c.call("GET", "mlflow/experiments/get-by-name?experiment_name=x", nullptr),
               HttpTransportError);
  EXPECT_EQ(sleeps.size(), 3u);
}

TEST(MlflowClient, BearerTokenAndBasicAuth) {
  FakeHttpServer server([](const FakeRequest&) { return FakeResponse{200, "{}"}; });
  std::vector<double> sleeps;
  MlflowSettings s = settings_for(server.url());
  s.http.bearer_token = "tok123";
  MlflowClient bearer(s);
  bearer.call("POST", "mlflow/runs/update", {});
  s.http.bearer_token.clear();
  s.http.basic_username = "alice";
  s.http.basic_password = "s3cret";
  MlflowClient basic(s);
  basic.call("POST", "mlflow/runs/update", {});
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].headers.at("authorization"), "Bearer tok123");
  EXPECT_EQ(requests[1].headers.at("authorization"), "Basic YWxpY2U6czNjcmV0");
  EXPECT_EQ(requests[0].headers.at("content-type"), "application/json");
  EXPECT_EQ(requests[0].target, "/api/2.0/mlflow/runs/update");
}

TEST(MlflowClient, ExperimentCreatedWhenMissingAndRaceTolerated) {
  std::atomic<int> gets{0};
  FakeHttpServer server([&](const FakeRequest& r) {
    if (r.method == "GET") {
      // Missing on the first look; present once "another process" created it.
      if (gets++ == 0) {
        return FakeResponse{404, R"({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"})"};
      }
      return FakeResponse{200, R"({"experiment": {"experiment_id": "42", "name": "segq"}})"};
    }
    return FakeResponse{400, R"({"error_code": "RESOURCE_ALREADY_EXISTS", "message": "exists"})"};
  });
  std::vector<double> sleeps;
  MlflowClient c = client_for(server.url(), &sleeps);
  EXPECT_EQ(c.get_or_create_experiment("segq"), "42");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].target, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=segq");
  EXPECT_EQ(requests[1].target, "/api/2.0/mlflow/experiments/create");
  EXPECT_EQ(nlohmann::json::parse(requests[1].body)["name"], "segq");
}

TEST(MlflowClient, ArtifactUploadGoesThroughTheProxyPath) {
  FakeHttpServer server([](const FakeRequest&) { return FakeResponse{200, ""}; });
  std::vector<double> sleeps;
  MlflowClient c = client_for(server.url() + "/", &sleeps);
  MlflowRunInfo run;
  run.run_id = "abc";
  run.artifact_uri = "mlflow-artifacts:/3/abc/artifacts";
  c.upload_artifact(run, "results.json", "{\"a\": 1}");
  run.artifact_uri = "mlflow-artifacts://host:5000/3/abc/artifacts";
  c.upload_artifact(run, "report.html", "<html>");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts/results.json");
  EXPECT_EQ(requests[0].body, "{\"a\": 1}");
  EXPECT_EQ(requests[1].target, "/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts/report.html");
  run.artifact_uri = "s3://bucket/3/abc/artifacts";
  EXPECT_THROW(c.upload_artifact(run, "x", "y"), Error);
}

TEST(MlflowBatching, SplitsUnderEveryLimit) {
  MlflowBatch all;
  for (int i = 0; i < 250; ++i) all.params.push_back({str_cat("p", i), "v"});
  for (int i = 0; i < 130; ++i) all.tags.push_back({str_cat("t", i), "v"});
  for (int i = 0; i < 2500; ++i) all.metrics.push_back({"m", 1.0 * i, 0, i});
  all.metrics.push_back({"nan", std::nan(""), 0, 0});
  const auto batches = split_mlflow_batch(all);
  size_t params = 0, tags = 0, metrics = 0;
  for (const MlflowBatch& b : batches) {
    EXPECT_LE(b.params.size(), kMlflowMaxParamsPerBatch);
    EXPECT_LE(b.tags.size(), kMlflowMaxTagsPerBatch);
    EXPECT_LE(b.metrics.size(), kMlflowMaxMetricsPerBatch);
    EXPECT_LE(b.params.size() + b.tags.size() + b.metrics.size(), kMlflowMaxEntitiesPerBatch);
    params += b.params.size();
    tags += b.tags.size();
    metrics += b.metrics.size();
  }
  EXPECT_EQ(params, 250u);
  EXPECT_EQ(tags, 130u);
  EXPECT_EQ(metrics, 2500u) << "the NaN metric is dropped";
  EXPECT_TRUE(split_mlflow_batch({}).empty());
}

TEST(MlflowBatching, SplitsByRequestBytes) {
  MlflowBatch all;
  for (int i = 0; i < 400; ++i) {
    all.params.push_back({str_cat("p", i), std::string(kMlflowMaxParamValueChars, 'x')});
  }
  const auto batches = split_mlflow_batch(all);
  for (const MlflowBatch& b : batches) {
    size_t bytes = 0;
    for (const auto& p : b.params) bytes += p.key.size() + p.value.size();
    EXPECT_LT(bytes, kMlflowMaxBatchBytes);
  }
  EXPECT_GE(batches.size(), 4u);
}

TEST(MlflowKeys, KeysAreMadeValid) {
  EXPECT_EQ(mlflow_key("running/mean_iou"), "running/mean_iou");
  EXPECT_EQ(mlflow_key("class_iou/person;individual"), "class_iou/person_individual");
  EXPECT_EQ(mlflow_key("a//b/"), "a/b");
  EXPECT_EQ(mlflow_key("/lead"), "lead");
  EXPECT_EQ(mlflow_key("x/../y"), "x/__/y");
  EXPECT_EQ(mlflow_key("x/./y"), "x/_/y");
  EXPECT_EQ(mlflow_key("caf\xC3\xA9"), "caf__");
  EXPECT_EQ(mlflow_key(std::string(300, 'k')).size(), kMlflowMaxKeyChars);
}

TEST(MlflowKeys, TruncationKeepsUtf8Whole) {
  const std::string s = "ab\xC3\xA9";  // "abé": 4 bytes
  EXPECT_EQ(truncate_utf8(s, 3), "ab");
  EXPECT_EQ(truncate_utf8(s, 4), s);
}

TEST(MlflowParams, FlattenNestedConfig) {
  const nlohmann::json config = {{"data", {{"path", "/d"}, {"size", 512}}},
                                 {"methods", {"fp32", "int8"}},
                                 {"long", std::string(7000, 'v')},
                                 {"flag", true}};
  const auto params = flatten_params(config, "");
  std::map<std::string, std::string> m;
  for (const auto& p : params) m[p.key] = p.value;
  EXPECT_EQ(m["data.path"], "/d");
  EXPECT_EQ(m["data.size"], "512");
  EXPECT_EQ(m["methods"], R"(["fp32","int8"])");
  EXPECT_EQ(m["flag"], "true");
  EXPECT_EQ(m["long"].size(), kMlflowMaxParamValueChars);
  const auto prefixed = flatten_params({{"a", 1}}, "method_spec");
  EXPECT_EQ(prefixed.at(0).key, "method_spec.a");
}

TEST(MlflowSettings, FromFlagAndEnvironment) {
  const auto env = [](std::map<std::string, std::string> vars) -> EnvLookup {
    return [vars](const std::string& n) -> std::optional<std::string> {
      auto it = vars.find(n);
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  };
  EXPECT_FALSE(resolve_mlflow_settings(std::nullopt, env({})).enabled());
  const MlflowSettings s =
      resolve_mlflow_settings(std::nullopt, env({{"MLFLOW_TRACKING_URI", "http://h:5000/"},
                                                 {"MLFLOW_TRACKING_TOKEN", "t"},
                                                 {"MLFLOW_EXPERIMENT_NAME", "exp"},
                                                 {"MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"}}));
  EXPECT_EQ(s.tracking_uri, "http://h:5000");
  EXPECT_EQ(s.http.bearer_token, "t");
  EXPECT_EQ(s.experiment_name, "exp");
  EXPECT_EQ(s.max_retries, 2);
  EXPECT_EQ(
      resolve_mlflow_settings("https://x", env({{"MLFLOW_TRACKING_URI", "http://h"}})).tracking_uri,
      "https://x");
  EXPECT_THROW(resolve_mlflow_settings("./mlruns", env({})), UsageError);
  EXPECT_THROW(resolve_mlflow_settings("databricks", env({})), UsageError);
  EXPECT_THROW(
      resolve_mlflow_settings("http://h", env({{"MLFLOW_HTTP_REQUEST_MAX_RETRIES", "many"}})),
      UsageError);
}

TEST(HttpClient, RedactsCredentialsInUrls) {
  EXPECT_EQ(redact_url("http://user:pw@host:5000/x"), "http://host:5000/x");
  EXPECT_EQ(redact_url("https://host/a@b"), "https://host/a@b");
  EXPECT_EQ(url_encode_segment("a b/c"), "a%20b%2Fc");
}

}  // namespace
}  // namespace segq::track
