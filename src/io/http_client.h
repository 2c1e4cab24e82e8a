// Minimal HTTP(S) client over libcurl for model downloads: HEAD/GET with explicit redirect policy,
// retries with exponential backoff on connection errors and 5xx/429, and resumable downloads into a
// partial file (Range requests), with the size checked at the end.
//
// Authorization: a bearer token is sent only to HttpOptions::token_origin; redirects to another
// host (a CDN) never see it. Tokens never appear in errors or logs.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace segq {

// The server could not be reached or the transfer kept failing (after all retries). HTTP error
// statuses are not exceptions: they come back in HttpResponse::status.
class NetworkError : public Error {
 public:
  explicit NetworkError(const std::string& what) : Error(what) {}
};

struct HttpOptions {
  std::string bearer_token;  // empty: no Authorization header
  // scheme://host:port the token may be sent to (see url_origin); every other host, e.g. a CDN a
  // redirect points to, gets no Authorization header. Empty: the origin of the request's URL.
  std::string token_origin;
  std::string user_agent = "segq";
  int max_retries = 5;                         // extra attempts after the first, per request
  std::chrono::milliseconds retry_base{1000};  // first backoff; doubles up to retry_max
  std::chrono::milliseconds retry_max{8000};
  long connect_timeout_s = 10;
  long request_timeout_s = 10;  // whole HEAD / small GET
  long stall_timeout_s = 10;    // a download with no data for this long is retried
};

enum class Redirects {
  kNone,      // return the 3xx response itself
  kSameHost,  // follow only redirects to the same scheme://host:port (huggingface_hub's HEAD)
  kAll,       // follow every redirect (dropping Authorization when the host changes)
};

struct HttpResponse {
  long status = 0;
  std::string url;       // the URL that produced this response
  std::string location;  // for a 3xx: the absolute redirect target
  std::vector<std::pair<std::string, std::string>> headers;  // of this response, in order
  std::string body;                                          // error bodies only, at most a few KiB
  // Case-insensitive header lookup; the first occurrence.
  std::optional<std::string> header(std::string_view name) const;
};

// scheme://host:port of an absolute URL (lower-cased host, default ports filled in); "" if invalid.
std::string url_origin(const std::string& url);

// One request (plus redirects per `redirects`), retried on connection errors and on 500, 502, 503,
// 504 and 429. Throws NetworkError when every attempt failed to produce a response.
HttpResponse http_request(const std::string& method, const std::string& url,
                          const HttpOptions& options, Redirects redirects,
                          const std::vector<std::string>& extra_headers = {});

// Downloads `url` (following redirects) by appending to `partial_path`: if the file already holds
// bytes, asks for the rest with a Range header (a server that ignores it restarts the file); a
// dropped connection resumes from where it stopped. When expected_size is given, the final size
// must match. Throws NetworkError on connection failures, segq::Error naming the URL and status on
// an HTTP error. Returns the final size in bytes.
uint64_t http_download(const std::string& url, const std::string& partial_path,
                       const HttpOptions& options, std::optional<uint64_t> expected_size);

// Text for an HTTP status, e.g. "404 Not Found".
std::string http_status_text(long status);

}  // namespace segq
