// A small blocking HTTP client over libcurl for the tracker REST APIs (MLflow). One request at a
// time; no redirects to other hosts; credentials only through HttpOptions, never logged.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"

namespace segq::track {

struct HttpOptions {
  double timeout_s = 120;
  bool verify_tls = true;
  std::string ca_file;         // extra CA bundle (PEM); empty: the system's
  std::string bearer_token;    // Authorization: Bearer
  std::string basic_username;  // Authorization: Basic (when no bearer token)
  std::string basic_password;
};

struct HttpRequest {
  std::string method = "GET";  // GET, POST, PUT, ...
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
};

struct HttpResponse {
  long status = 0;
  std::string body;
};

// The request never reached a server or got no answer (connection refused, DNS, timeout, TLS).
class HttpTransportError : public Error {
 public:
  explicit HttpTransportError(const std::string& what) : Error(what) {}
};

// Sends the request; returns any HTTP status (4xx/5xx included). Throws HttpTransportError.
HttpResponse http_send(const HttpRequest& request, const HttpOptions& options);

// The URL without user:password@ (for messages).
std::string redact_url(const std::string& url);
// Percent-encodes one path segment (RFC 3986 unreserved characters kept).
std::string url_encode_segment(const std::string& segment);

}  // namespace segq::track
