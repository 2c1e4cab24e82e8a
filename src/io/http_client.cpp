#include "io/http_client.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "core/log.h"

namespace segq {

namespace {

constexpr int kMaxRedirects = 10;
constexpr size_t kMaxErrorBody = 4096;

void ensure_curl_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) throw Error("libcurl initialization failed");
  });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool retryable_status(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

bool retryable_curl_code(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

// Where the body of the response goes while a transfer runs.
struct Transfer {
  HttpResponse response;
  int fd = -1;               // download target (appending), or -1
  uint64_t resume_from = 0;  // bytes already in the file when the request was made
  bool body_started = false;
  uint64_t appended = 0;    // bytes written to fd by this transfer
  std::string write_error;  // why the write callback stopped the transfer
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100-continue or similar)
    t->response.headers.clear();
    const size_t sp = line.find(' ');
    t->response.status =
        sp == std::string_view::npos ? 0 : std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    return line.size();
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    t->response.headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return line.size();
}

// "bytes 100-199/200" -> 100
std::optional<uint64_t> content_range_start(const HttpResponse& r) {
  const auto v = r.header("Content-Range");
  if (!v) return std::nullopt;
  const size_t sp = v->find(' ');
  const size_t dash = v->find('-');
  if (sp == std::string::npos || dash == std::string::npos || dash < sp) return std::nullopt;
  try {
    return std::stoull(v->substr(sp + 1, dash - sp - 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  const long status = t->response.status;
  if (t->fd < 0 || (status != 200 && status != 206)) {
    if (t->response.body.size() < kMaxErrorBody) {
      t->response.body.append(data, std::min(n, kMaxErrorBody - t->response.body.size()));
    }
    return n;
  }
  if (!t->body_started) {
    t->body_started = true;
    if (status == 200 && t->resume_from > 0) {
      // The server ignored the Range header and sends the whole file: start over.
      if (::ftruncate(t->fd, 0) != 0) {
        t->write_error = str_cat("cannot truncate the partial file: ", std::strerror(errno));
        return 0;
      }
    } else if (status == 206 && content_range_start(t->response) != t->resume_from) {
      t->write_error =
          str_cat("server resumed at the wrong offset (asked for byte ", t->resume_from,
                  ", got Content-Range '", t->response.header("Content-Range").value_or(""), "')");
      return 0;
    }
  }
  if (!write_all(t->fd, data, n)) {
    t->write_error = str_cat("cannot write the partial file: ", std::strerror(errno));
    return 0;
  }
  t->appended += n;
  return n;
}

struct CurlDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct Outcome {
  CURLcode code = CURLE_OK;
  std::string error;  // curl's message when code != CURLE_OK
};

// One HTTP exchange without following redirects.
Outcome perform(const std::string& method, const std::string& url, const HttpOptions& options,
                const std::string& token_origin, const std::vector<std::string>& extra_headers,
                bool download, Transfer* t) {
  ensure_curl_initialized();
  std::unique_ptr<CURL, CurlDeleter> h(curl_easy_init());
  if (!h) throw Error("libcurl: cannot create a handle");
  char errbuf[CURL_ERROR_SIZE] = {0};
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (!next) throw Error("libcurl: out of memory");
    headers.release();
    headers.reset(next);
  };
  for (const std::string& line : extra_headers) add_header(line);
  if (!options.bearer_token.empty() && url_origin(url) == token_origin) {
    add_header("Authorization: Bearer " + options.bearer_token);
  }
  CURL* c = h.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (download) {
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, options.stall_timeout_s);
  } else {
    curl_easy_setopt(c, CURLOPT_TIMEOUT, options.request_timeout_s);
  }
  t->response.url = url;
  Outcome out;
  out.code = curl_easy_perform(c);
  if (out.code != CURLE_OK) {
    out.error = errbuf[0] ? errbuf : curl_easy_strerror(out.code);
  } else {
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    t->response.status = status;
    if (status >= 300 && status < 400) {
      char* target = nullptr;
      curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &target);
      if (target) t->response.location = target;
    }
  }
  return out;
}

std::chrono::milliseconds backoff_delay(const HttpOptions& o, int attempt, const HttpResponse* r) {
  auto d = o.retry_base;
  for (int i = 0; i < attempt && d < o.retry_max; ++i) d *= 2;
  d = std::min(d, o.retry_max);
  if (r && r->status == 429) {  // honour Retry-After (seconds), within retry_max
    if (const auto after = r->header("Retry-After")) {
      try {
        d = std::max(d,
                     std::min(o.retry_max, std::chrono::milliseconds(1000 * std::stoll(*after))));
      } catch (const std::exception&) {
      }
    }
  }
  return d;
}

std::string origin_or(const HttpOptions& o, const std::string& url) {
  return o.token_origin.empty() ? url_origin(url) : o.token_origin;
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

std::string url_origin(const std::string& url) {
  ensure_curl_initialized();
  CURLU* u = curl_url();
  if (!u) return "";
  std::string out;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* scheme = nullptr;
    char* host = nullptr;
    char* port = nullptr;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
      std::string h = host;
      std::transform(h.begin(), h.end(), h.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      out = str_cat(scheme, "://", h, ":", port);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return out;
}

std::string http_status_text(long status) {
  const char* reason = "";
  switch (status) {
    case 200:
      reason = "OK";
      break;
    case 206:
      reason = "Partial Content";
      break;
    case 301:
      reason = "Moved Permanently";
      break;
    case 302:
      reason = "Found";
      break;
    case 307:
      reason = "Temporary Redirect";
      break;
    case 400:
      reason = "Bad Request";
      break;
    case 401:
      reason = "Unauthorized";
      break;
    case 403:
      reason = "Forbidden";
      break;
    case 404:
      reason = "Not Found";
      break;
    case 416:
      reason = "Range Not Satisfiable";
      break;
    case 429:
      reason = "Too Many Requests";
      break;
    case 500:
      reason = "Internal Server Error";
      break;
    case 502:
      reason = "Bad Gateway";
      break;
    case 503:
      reason = "Service Unavailable";
      break;
    case 504:
      reason = "Gateway Timeout";
      break;
    default:
      break;
  }
  return *reason ? str_cat(status, " ", reason) : std::to_string(status);
}

HttpResponse http_request(const std::string& method, const std::string& url,
                          const HttpOptions& options, Redirects redirects,
                          const std::vector<std::string>& extra_headers) {
  const std::string token_origin = origin_or(options, url);
  std::string current = url;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    HttpResponse response;
    std::string last_error;
    for (int attempt = 0;; ++attempt) {
      Transfer t;
      const Outcome o = perform(method, current, options, token_origin, extra_headers, false, &t);
      if (o.code == CURLE_OK && !retryable_status(t.response.status)) {
        response = std::move(t.response);
        break;
      }
      if (o.code != CURLE_OK && !retryable_curl_code(o.code)) {
        throw NetworkError(str_cat(method, " ", current, ": ", o.error));
      }
      last_error = o.code == CURLE_OK ? "HTTP " + http_status_text(t.response.status) : o.error;
      if (attempt >= options.max_retries) {
        if (o.code == CURLE_OK) {  // a 5xx after all retries: let the caller report the status
          response = std::move(t.response);
          break;
        }
        throw NetworkError(str_cat(method, " ", current, ": ", last_error, " (gave up after ",
                                   attempt + 1, " attempts)"));
      }
      const auto delay =
          backoff_delay(options, attempt, o.code == CURLE_OK ? &t.response : nullptr);
      log_warn(method, " ", current, ": ", last_error, "; retrying in ", delay.count(), " ms");
      std::this_thread::sleep_for(delay);
    }
    const bool redirect =
        response.status >= 300 && response.status < 400 && !response.location.empty();
    const bool follow = redirect && (redirects == Redirects::kAll ||
                                     (redirects == Redirects::kSameHost &&
                                      url_origin(response.location) == url_origin(current)));
    if (!follow) return response;
    current = response.location;
  }
  throw NetworkError(str_cat(method, " ", url, ": more than ", kMaxRedirects, " redirects"));
}

uint64_t http_download(const std::string& url, const std::string& partial_path,
                       const HttpOptions& options, std::optional<uint64_t> expected_size) {
  const std::string token_origin = origin_or(options, url);
  const int fd = ::open(partial_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd < 0) throw Error(str_cat(partial_path, ": cannot create: ", std::strerror(errno)));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  auto file_size = [&]() -> uint64_t {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw Error(str_cat(partial_path, ": cannot stat"));
    return static_cast<uint64_t>(st.st_size);
  };
  auto truncate_file = [&]() {
    if (::ftruncate(fd, 0) != 0) {
      throw Error(str_cat(partial_path, ": cannot truncate: ", std::strerror(errno)));
    }
  };

  std::string current = url;
  int hops = 0;
  int failures = 0;  // consecutive attempts that brought no new data
  while (true) {
    uint64_t have = file_size();
    if (expected_size && have > *expected_size) {
      truncate_file();  // a stale or foreign partial file: start over
      have = 0;
    }
    if (expected_size && have == *expected_size) break;
    Transfer t;
    t.fd = fd;
    t.resume_from = have;
    std::vector<std::string> headers;
    if (have > 0) headers.push_back(str_cat("Range: bytes=", have, "-"));
    const Outcome o = perform("GET", current, options, token_origin, headers, true, &t);
    const HttpResponse& r = t.response;
    if (!t.write_error.empty()) {
      throw Error(str_cat("GET ", current, ": ", t.write_error));
    }
    std::string problem;
    const HttpResponse* retry_response = nullptr;
    if (o.code == CURLE_OK) {
      if (r.status >= 300 && r.status < 400 && !r.location.empty()) {
        if (++hops > kMaxRedirects) {
          throw NetworkError(str_cat("GET ", url, ": more than ", kMaxRedirects, " redirects"));
        }
        current = r.location;
        continue;
      }
      if (r.status == 200 || r.status == 206) {
        const uint64_t size = file_size();
        if (!expected_size || size == *expected_size) break;
        if (size > *expected_size) {
          truncate_file();
          throw Error(
              str_cat("GET ", current, ": received ", size, " bytes, expected ", *expected_size));
        }
        problem = str_cat("transfer ended at ", size, " of ", *expected_size, " bytes");
      } else if (r.status == 416) {
        // Nothing left to send from `have` on: either the file is complete or it is foreign.
        if (!expected_size) break;
        truncate_file();
        problem = "server rejected the resume range";
      } else if (retryable_status(r.status)) {
        problem = "HTTP " + http_status_text(r.status);
        retry_response = &r;
      } else {
        throw Error(str_cat("GET ", current, ": HTTP ", http_status_text(r.status)));
      }
    } else if (retryable_curl_code(o.code)) {
      problem = o.error;
    } else {
      throw NetworkError(str_cat("GET ", current, ": ", o.error));
    }
    // Retry. A transfer that made progress resumes at once; one that did not backs off.
    if (t.appended > 0) {
      failures = 0;
      log_warn("GET ", current, ": ", problem, " after ", t.appended, " new bytes; resuming");
      continue;
    }
    if (failures >= options.max_retries) {
      throw NetworkError(
          str_cat("GET ", current, ": ", problem, " (gave up after ", failures + 1, " attempts)"));
    }
    const auto delay = backoff_delay(options, failures, retry_response);
    ++failures;
    log_warn("GET ", current, ": ", problem, "; retrying in ", delay.count(), " ms");
    std::this_thread::sleep_for(delay);
  }
  if (::fsync(fd) != 0) throw Error(str_cat(partial_path, ": cannot flush to disk"));
  return file_size();
}

}  // namespace segq
