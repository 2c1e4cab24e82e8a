#include "track/mlflow_client.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <thread>

#include "core/log.h"

namespace segq::track {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

double env_number(const EnvLookup& env, const char* name, double fallback) {
  const std::optional<std::string> v = env(name);
  if (!v || v->empty()) return fallback;
  try {
    size_t used = 0;
    const double x = std::stod(*v, &used);
    if (used == v->size() && std::isfinite(x) && x >= 0) return x;
  } catch (const std::exception&) {
  }
  throw UsageError(str_cat(name, "=\"", *v, "\" is not a non-negative number"));
}

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

size_t entity_bytes(const std::string& key, const std::string& value) {
  return key.size() + value.size() + 64;  // JSON punctuation, timestamp, step
}

MlflowRunInfo run_info_from(const nlohmann::json& run) {
  MlflowRunInfo info;
  const nlohmann::json& i = run.value("info", nlohmann::json::object());
  info.run_id = i.value("run_id", i.value("run_uuid", ""));
  info.artifact_uri = i.value("artifact_uri", "");
  info.status = i.value("status", "");
  const nlohmann::json& data = run.value("data", nlohmann::json::object());
  for (const auto& t : data.value("tags", nlohmann::json::array())) {
    info.tags.push_back({t.value("key", ""), t.value("value", "")});
  }
  return info;
}

}  // namespace

MlflowSettings resolve_mlflow_settings(const std::optional<std::string>& flag_uri,
                                       const EnvLookup& env) {
  MlflowSettings s;
  const auto get = [&](const char* name) { return env(name).value_or(""); };
  s.tracking_uri = flag_uri.has_value() ? *flag_uri : get("MLFLOW_TRACKING_URI");
  while (!s.tracking_uri.empty() && s.tracking_uri.back() == '/') s.tracking_uri.pop_back();
  if (s.tracking_uri.empty()) return s;
  const std::string scheme = lower(s.tracking_uri.substr(0, s.tracking_uri.find("://")));
  if (s.tracking_uri.find("://") == std::string::npos || (scheme != "http" && scheme != "https")) {
    throw UsageError(str_cat("MLflow tracking URI \"", redact_url(s.tracking_uri),
                             "\": segq logs to an MLflow tracking server over http(s) (e.g. "
                             "http://127.0.0.1:5000); file stores and databricks URIs are not "
                             "supported"));
  }
  if (!get("MLFLOW_EXPERIMENT_NAME").empty()) s.experiment_name = get("MLFLOW_EXPERIMENT_NAME");
  s.http.bearer_token = get("MLFLOW_TRACKING_TOKEN");
  s.http.basic_username = get("MLFLOW_TRACKING_USERNAME");
  s.http.basic_password = get("MLFLOW_TRACKING_PASSWORD");
  const std::string insecure = lower(get("MLFLOW_TRACKING_INSECURE_TLS"));
  s.http.verify_tls = !(insecure == "true" || insecure == "1");
  s.http.ca_file = get("MLFLOW_TRACKING_SERVER_CERT_PATH");
  s.max_retries =
      static_cast<int>(env_number(env, "MLFLOW_HTTP_REQUEST_MAX_RETRIES", s.max_retries));
  s.backoff_s = env_number(env, "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", s.backoff_s);
  s.http.timeout_s = env_number(env, "MLFLOW_HTTP_REQUEST_TIMEOUT", s.http.timeout_s);
  return s;
}

std::string mlflow_key(const std::string& key) {
  std::string cleaned = key;
  for (char& c : cleaned) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ' ' || c == '/' || c == ':';
    if (!ok) c = '_';
  }
  // MLflow rejects names that a path normalisation would change: no empty, "." or ".."
  // components, no leading or trailing '/'.
  std::string out;
  size_t start = 0;
  while (start <= cleaned.size()) {
    size_t end = cleaned.find('/', start);
    if (end == std::string::npos) end = cleaned.size();
    std::string part = cleaned.substr(start, end - start);
    if (part == "." || part == "..") part = std::string(part.size(), '_');
    if (!part.empty()) {
      if (!out.empty()) out += '/';
      out += part;
    }
    start = end + 1;
  }
  if (out.size() > kMlflowMaxKeyChars) out.resize(kMlflowMaxKeyChars);
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out.empty() ? std::string("_") : out;
}

std::string truncate_utf8(const std::string& s, size_t max_chars) {
  if (s.size() <= max_chars) return s;
  size_t cut = max_chars;
  // Step back over continuation bytes (10xxxxxx) so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

std::vector<MlflowParam> flatten_params(const nlohmann::json& object, const std::string& prefix) {
  std::vector<MlflowParam> out;
  std::set<std::string> seen;
  std::function<void(const nlohmann::json&, const std::string&)> walk =
      [&](const nlohmann::json& j, const std::string& path) {
        if (j.is_object() && !j.empty()) {
          for (const auto& [k, v] : j.items()) walk(v, path.empty() ? k : path + "." + k);
          return;
        }
        std::string key = mlflow_key(path);
        for (int n = 2; seen.count(key); ++n) {
          key = mlflow_key(truncate_utf8(path, kMlflowMaxKeyChars - 8) + "_" + std::to_string(n));
        }
        seen.insert(key);
        const std::string value = j.is_string() ? j.get<std::string>() : dump_json(j);
        out.push_back({key, truncate_utf8(value, kMlflowMaxParamValueChars)});
      };
  if (object.is_object()) {
    for (const auto& [k, v] : object.items()) walk(v, prefix.empty() ? k : prefix + "." + k);
  } else if (!object.is_null()) {
    walk(object, prefix.empty() ? std::string("value") : prefix);
  }
  return out;
}

std::vector<MlflowBatch> split_mlflow_batch(const MlflowBatch& all) {
  std::vector<MlflowBatch> batches(1);
  size_t bytes = 0;
  // Headroom below the server's 1 MB request limit for the run id and JSON framing.
  constexpr size_t kBudgetBytes = kMlflowMaxBatchBytes - 4096;
  const auto room = [&](size_t add_bytes, size_t metrics, size_t params, size_t tags) {
    const MlflowBatch& b = batches.back();
    return b.metrics.size() + metrics <= kMlflowMaxMetricsPerBatch &&
           b.params.size() + params <= kMlflowMaxParamsPerBatch &&
           b.tags.size() + tags <= kMlflowMaxTagsPerBatch &&
           b.metrics.size() + b.params.size() + b.tags.size() + 1 <= kMlflowMaxEntitiesPerBatch &&
           bytes + add_bytes <= kBudgetBytes;
  };
  const auto next_batch = [&] {
    batches.emplace_back();
    bytes = 0;
  };
  for (const MlflowParam& p : all.params) {
    const size_t b = entity_bytes(p.key, p.value);
    if (!room(b, 0, 1, 0)) next_batch();
    batches.back().params.push_back(p);
    bytes += b;
  }
  for (const MlflowTag& t : all.tags) {
    const size_t b = entity_bytes(t.key, t.value);
    if (!room(b, 0, 0, 1)) next_batch();
    batches.back().tags.push_back(t);
    bytes += b;
  }
  for (const MlflowMetric& m : all.metrics) {
    if (!std::isfinite(m.value)) continue;
    const size_t b = entity_bytes(m.key, "");
    if (!room(b, 1, 0, 0)) next_batch();
    batches.back().metrics.push_back(m);
    bytes += b;
  }
  if (batches.back().metrics.empty() && batches.back().params.empty() &&
      batches.back().tags.empty()) {
    batches.pop_back();
  }
  return batches;
}

std::string mlflow_error_code(const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error_code") && j["error_code"].is_string()) {
    return j["error_code"].get<std::string>();
  }
  return "";
}

MlflowClient::MlflowClient(MlflowSettings settings) : settings_(std::move(settings)) {
  base_url_ = settings_.tracking_uri;
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  sleep_ = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
}

HttpResponse MlflowClient::send_with_retries(HttpRequest request) {
  std::string last_problem;
  for (int attempt = 0;; ++attempt) {
    try {
      HttpResponse r = http_send(request, settings_.http);
      const bool retryable = r.status >= 500 || r.status == 429;
      if (!retryable) return r;
      last_problem = str_cat("HTTP ", r.status, " ", truncate_utf8(r.body, 300));
      if (attempt >= settings_.max_retries) {
        throw MlflowApiError(str_cat("MLflow: ", request.method, " ", redact_url(request.url),
                                     " failed after ", attempt + 1, " attempts: ", last_problem),
                             r.status, mlflow_error_code(r.body));
      }
    } catch (const HttpTransportError& e) {
      last_problem = e.what();
      if (attempt >= settings_.max_retries) {
        throw HttpTransportError(str_cat("MLflow: server at ", redact_url(base_url_),
                                         " unreachable after ", attempt + 1,
                                         " attempts: ", last_problem));
      }
    }
    const double wait_s = std::min(30.0, settings_.backoff_s * std::ldexp(1.0, attempt));
    log_debug("MLflow: ", last_problem, "; retrying in ", wait_s, " s");
    sleep_(wait_s);
  }
}

nlohmann::json MlflowClient::call(const std::string& method, const std::string& path,
                                  const nlohmann::json& body) {
  HttpRequest request;
  request.method = method;
  request.url = base_url_ + "/api/2.0/" + path;
  request.headers = {"Content-Type: application/json", "Accept: application/json"};
  if (method != "GET") request.body = dump_json(body);
  const HttpResponse r = send_with_retries(request);
  if (r.status < 200 || r.status >= 300) {
    const nlohmann::json err = nlohmann::json::parse(r.body, nullptr, false);
    std::string code, message = truncate_utf8(r.body, 500);
    if (err.is_object()) {
      code = err.value("error_code", "");
      message = err.value("message", message);
    }
    throw MlflowApiError(str_cat("MLflow: ", method, " /api/2.0/", path, " answered HTTP ",
                                 r.status, code.empty() ? "" : " " + code, ": ", message),
                         r.status, code);
  }
  if (r.body.empty()) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) {
    throw Error(str_cat("MLflow: ", method, " /api/2.0/", path,
                        " answered something that is not JSON (is ", redact_url(base_url_),
                        " an MLflow tracking server?)"));
  }
  return j;
}

std::string MlflowClient::get_or_create_experiment(const std::string& name) {
  const auto get = [&]() -> std::optional<std::string> {
    try {
      const nlohmann::json r =
          call("GET", "mlflow/experiments/get-by-name?experiment_name=" + url_encode_segment(name),
               nullptr);
      return r.at("experiment").at("experiment_id").get<std::string>();
    } catch (const MlflowApiError& e) {
      if (e.error_code() == "RESOURCE_DOES_NOT_EXIST" || e.status() == 404) return std::nullopt;
      throw;
    }
  };
  if (auto id = get()) return *id;
  try {
    const nlohmann::json r = call("POST", "mlflow/experiments/create", {{"name", name}});
    return r.at("experiment_id").get<std::string>();
  } catch (const MlflowApiError& e) {
    // Another process created it between our get and create.
    if (e.error_code() != "RESOURCE_ALREADY_EXISTS") throw;
  }
  if (auto id = get()) return *id;
  throw Error(str_cat("MLflow: experiment \"", name, "\" exists but cannot be read"));
}

MlflowRunInfo MlflowClient::create_run(const std::string& experiment_id,
                                       const std::string& run_name, int64_t start_time_ms,
                                       const std::vector<MlflowTag>& tags) {
  nlohmann::json tag_list = nlohmann::json::array();
  for (const MlflowTag& t : tags) {
    tag_list.push_back(
        {{"key", t.key}, {"value", truncate_utf8(t.value, kMlflowMaxTagValueChars)}});
  }
  const nlohmann::json r = call("POST", "mlflow/runs/create",
                                {{"experiment_id", experiment_id},
                                 {"run_name", run_name},
                                 {"start_time", start_time_ms},
                                 {"tags", tag_list}});
  return run_info_from(r.at("run"));
}

MlflowRunInfo MlflowClient::get_run(const std::string& run_id) {
  const nlohmann::json r =
      call("GET", "mlflow/runs/get?run_id=" + url_encode_segment(run_id), nullptr);
  return run_info_from(r.at("run"));
}

std::vector<MlflowRunInfo> MlflowClient::search_runs(const std::string& experiment_id,
                                                     const std::string& filter) {
  std::vector<MlflowRunInfo> runs;
  std::string page_token;
  do {
    nlohmann::json body = {
        {"experiment_ids", {experiment_id}}, {"filter", filter}, {"max_results", 1000}};
    if (!page_token.empty()) body["page_token"] = page_token;
    const nlohmann::json r = call("POST", "mlflow/runs/search", body);
    for (const auto& run : r.value("runs", nlohmann::json::array())) {
      runs.push_back(run_info_from(run));
    }
    page_token = r.value("next_page_token", "");
  } while (!page_token.empty());
  return runs;
}

void MlflowClient::log_batch(const std::string& run_id, const MlflowBatch& batch) {
  for (const MlflowBatch& part : split_mlflow_batch(batch)) {
    nlohmann::json body = {{"run_id", run_id},
                           {"metrics", nlohmann::json::array()},
                           {"params", nlohmann::json::array()},
                           {"tags", nlohmann::json::array()}};
    for (const MlflowMetric& m : part.metrics) {
      body["metrics"].push_back(
          {{"key", m.key}, {"value", m.value}, {"timestamp", m.timestamp_ms}, {"step", m.step}});
    }
    for (const MlflowParam& p : part.params) {
      body["params"].push_back({{"key", p.key}, {"value", p.value}});
    }
    for (const MlflowTag& t : part.tags) {
      body["tags"].push_back(
          {{"key", t.key}, {"value", truncate_utf8(t.value, kMlflowMaxTagValueChars)}});
    }
    call("POST", "mlflow/runs/log-batch", body);
  }
}

void MlflowClient::set_status(const std::string& run_id, const std::string& status,
                              int64_t end_time_ms) {
  nlohmann::json body = {{"run_id", run_id}, {"status", status}};
  if (end_time_ms > 0) body["end_time"] = end_time_ms;
  call("POST", "mlflow/runs/update", body);
}

void MlflowClient::upload_artifact(const MlflowRunInfo& run, const std::string& relative_path,
                                   const std::string& bytes) {
  // mlflow-artifacts:/<exp>/<run>/artifacts or mlflow-artifacts://host:port/<exp>/...
  const std::string scheme = "mlflow-artifacts:";
  SEGQ_CHECK(run.artifact_uri.starts_with(scheme), "MLflow: run ", run.run_id,
             " stores artifacts at \"", run.artifact_uri,
             "\", which the tracking server does not proxy (start it with artifact serving, "
             "the default); artifacts not uploaded");
  std::string path = run.artifact_uri.substr(scheme.size());
  if (path.starts_with("//")) {
    const size_t slash = path.find('/', 2);
    path = slash == std::string::npos ? std::string() : path.substr(slash);
  }
  std::string url = base_url_ + "/api/2.0/mlflow-artifacts/artifacts";
  const auto append_segments = [&](const std::string& p) {
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find('/', start);
      if (end == std::string::npos) end = p.size();
      if (end > start) {
        url += '/';
        url += url_encode_segment(p.substr(start, end - start));
      }
      start = end + 1;
    }
  };
  append_segments(path);
  append_segments(relative_path);
  HttpRequest request;
  request.method = "PUT";
  request.url = url;
  request.headers = {"Content-Type: application/octet-stream"};
  request.body = bytes;
  const HttpResponse r = send_with_retries(request);
  if (r.status < 200 || r.status >= 300) {
    throw MlflowApiError(str_cat("MLflow: uploading artifact ", relative_path, " answered HTTP ",
                                 r.status, ": ", truncate_utf8(r.body, 300)),
                         r.status, mlflow_error_code(r.body));
  }
}

}  // namespace segq::track
