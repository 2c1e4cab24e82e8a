// MLflow tracking over its public REST API 2.0 (shared/spec/tracking.md): experiments, runs,
// batched params/metrics/tags within the server's limits, run status, and artifact upload
// through the tracking server's artifacts proxy. Retries with exponential backoff on 5xx, 429
// and connection errors; any other 4xx is an error naming the call and the server's message.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "track/env.h"
#include "track/http_client.h"

namespace segq::track {

// Limits checked by MLflow's server (mlflow/utils/validation.py).
inline constexpr size_t kMlflowMaxMetricsPerBatch = 1000;
inline constexpr size_t kMlflowMaxParamsPerBatch = 100;
inline constexpr size_t kMlflowMaxTagsPerBatch = 100;
inline constexpr size_t kMlflowMaxEntitiesPerBatch = 1000;
inline constexpr size_t kMlflowMaxBatchBytes = 1000000;
inline constexpr size_t kMlflowMaxKeyChars = 250;
inline constexpr size_t kMlflowMaxParamValueChars = 6000;
inline constexpr size_t kMlflowMaxTagValueChars = 8000;

struct MlflowSettings {
  std::string tracking_uri;  // http(s)://host[:port][/prefix]; empty: MLflow disabled
  std::string experiment_name = "segq";
  HttpOptions http;         // auth and TLS
  int max_retries = 5;      // after the first attempt
  double backoff_s = 0.5;   // wait before retry k (k = 0, 1, ...): backoff_s * 2^k, at most 30 s
  bool log_shards = false;  // log the partial runs of a sharded evaluation too
  int max_history_points = 100;  // per method

  bool enabled() const { return !tracking_uri.empty(); }
};

// `flag_uri`: --mlflow's value (nullopt when not given); else MLFLOW_TRACKING_URI. Also reads
// MLFLOW_EXPERIMENT_NAME, MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME/_PASSWORD,
// MLFLOW_TRACKING_INSECURE_TLS, MLFLOW_TRACKING_SERVER_CERT_PATH,
// MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR (seconds),
// MLFLOW_HTTP_REQUEST_TIMEOUT (seconds). Throws segq::UsageError for a URI that is not an
// http(s) tracking server (file stores and databricks are not supported).
MlflowSettings resolve_mlflow_settings(const std::optional<std::string>& flag_uri,
                                       const EnvLookup& env);

struct MlflowMetric {
  std::string key;
  double value = 0;
  int64_t timestamp_ms = 0;
  int64_t step = 0;
};
struct MlflowParam {
  std::string key;
  std::string value;
};
using MlflowTag = MlflowParam;

struct MlflowRunInfo {
  std::string run_id;
  std::string artifact_uri;
  std::string status;  // RUNNING, FINISHED, FAILED, KILLED, SCHEDULED
  std::vector<MlflowTag> tags;
};

// One log-batch request body's contents.
struct MlflowBatch {
  std::vector<MlflowMetric> metrics;
  std::vector<MlflowParam> params;
  std::vector<MlflowTag> tags;
};

// Splits into requests within the server's limits (counts and bytes). Non-finite metric values
// are dropped (MLflow's JSON cannot carry them); keys and values must already be valid.
std::vector<MlflowBatch> split_mlflow_batch(const MlflowBatch& all);

// A metric/param/tag key MLflow accepts: characters outside [A-Za-z0-9_-. /:] become '_',
// path components "." and ".." and empty ones are avoided, at most 250 characters.
std::string mlflow_key(const std::string& key);
// Truncates to at most `max_chars` bytes at a UTF-8 character boundary.
std::string truncate_utf8(const std::string& s, size_t max_chars);
// Flattens a JSON object to params: nested objects join keys with '.', arrays and other values
// become their JSON text (strings without quotes); values truncated to MLflow's limit. Keys
// that collide after mlflow_key() get a numeric suffix.
std::vector<MlflowParam> flatten_params(const nlohmann::json& object, const std::string& prefix);

// A 4xx answer (or a 5xx after the last retry) from the server.
class MlflowApiError : public Error {
 public:
  MlflowApiError(const std::string& what, long status, std::string error_code)
      : Error(what), status_(status), error_code_(std::move(error_code)) {}
  long status() const { return status_; }
  const std::string& error_code() const { return error_code_; }  // e.g. RESOURCE_DOES_NOT_EXIST

 private:
  long status_;
  std::string error_code_;
};

class MlflowClient {
 public:
  explicit MlflowClient(MlflowSettings settings);
  // Test hook: replaces the sleep between retries.
  void set_sleep_for_test(std::function<void(double seconds)> sleep) { sleep_ = std::move(sleep); }

  // Experiment id for `name`, created when missing (a concurrent creation is tolerated).
  std::string get_or_create_experiment(const std::string& name);
  MlflowRunInfo create_run(const std::string& experiment_id, const std::string& run_name,
                           int64_t start_time_ms, const std::vector<MlflowTag>& tags);
  MlflowRunInfo get_run(const std::string& run_id);
  // Runs of the experiment matching an MLflow filter string (all pages).
  std::vector<MlflowRunInfo> search_runs(const std::string& experiment_id,
                                         const std::string& filter);
  void log_batch(const std::string& run_id, const MlflowBatch& batch);
  void set_status(const std::string& run_id, const std::string& status, int64_t end_time_ms);
  // Uploads `bytes` as artifact `relative_path` of the run, through the server's artifacts
  // proxy (artifact_uri mlflow-artifacts:/...). Throws when the run's artifacts are not served
  // by the tracking server.
  void upload_artifact(const MlflowRunInfo& run, const std::string& relative_path,
                       const std::string& bytes);

  // One API call with retries; returns the parsed JSON body. `path` is below /api/2.0/.
  nlohmann::json call(const std::string& method, const std::string& path,
                      const nlohmann::json& body);

  const MlflowSettings& settings() const { return settings_; }

 private:
  HttpResponse send_with_retries(HttpRequest request);

  MlflowSettings settings_;
  std::string base_url_;  // tracking_uri without a trailing '/'
  std::function<void(double)> sleep_;
};

// The server's error_code from an error response body, or "".
std::string mlflow_error_code(const std::string& body);

}  // namespace segq::track
