// A loopback HTTP/1.1 server that imitates the Hugging Face Hub for one repository, for the hub
// tests. It listens on 127.0.0.1 (port chosen by the kernel) and answers, like the Hub:
//   HEAD/GET /{repo}/resolve/{rev}/{file}
//     regular file: 200, ETag "<git blob sha1>", X-Repo-Commit, Content-Length
//     LFS file:     302 to http://localhost:{port}/lfs/{sha256} (another host name, as a CDN),
//                   X-Linked-Etag "<sha256>", X-Linked-Size, X-Repo-Commit, ETag of the redirect
//     missing file: 404, X-Error-Code: EntryNotFound, X-Repo-Commit
//     unknown rev:  404, X-Error-Code: RevisionNotFound; unknown repo: 401, RepoNotFound
//   GET /lfs/{sha256}, GET /static/{path}: the bytes, honouring "Range: bytes=N-" (206)
// Fault knobs: answer 503 to the next N requests; drop LFS connections after K body bytes; serve
// corrupted LFS bytes; require a bearer token; gate the repo (403).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "io/file_util.h"

namespace segq::testing {

inline std::string git_blob_sha1(const std::string& content) {
  const std::string data =
      "blob " + std::to_string(content.size()) + std::string(1, '\0') + content;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha1(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) {
    s.push_back(hex[md[i] >> 4]);
    s.push_back(hex[md[i] & 15]);
  }
  return s;
}

class HubTestServer {
 public:
  struct File {
    std::string content;
    bool lfs = false;
  };
  struct Request {
    std::string method, path, host, range, authorization;
    int status = 0;
  };

  HubTestServer(std::string repo_id, std::string commit, std::map<std::string, File> files)
      : repo_(std::move(repo_id)), commit_(std::move(commit)), files_(std::move(files)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0) {
      throw std::runtime_error("test server: cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~HubTestServer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  HubTestServer(const HubTestServer&) = delete;
  HubTestServer& operator=(const HubTestServer&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& commit() const { return commit_; }

  // Knobs (set before the requests they affect).
  std::atomic<int> fail_next{0};         // answer 503 to this many requests
  std::atomic<int> drop_lfs_after{-1};   // send only this many body bytes of LFS GETs, then close
  std::atomic<int> drop_lfs_count{0};    // ... for this many LFS GETs
  std::atomic<bool> corrupt_lfs{false};  // flip a byte of LFS bodies
  std::atomic<bool> gated{false};        // 403 GatedRepo on resolve
  std::string required_token;            // "Bearer <token>" required on resolve when set
  std::map<std::string, std::string> static_files;  // /static/<path>

  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }
  void clear_log() {
    std::lock_guard<std::mutex> lock(mutex_);
    log_.clear();
  }
  int count(const std::string& method, const std::string& path_prefix) const {
    int n = 0;
    for (const Request& r : requests()) {
      n += r.method == method && r.path.rfind(path_prefix, 0) == 0;
    }
    return n;
  }

 private:
  struct Reply {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    long drop_after = -1;
  };

  void serve() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      handle(fd);
      ::close(fd);
    }
  }

  static std::string header_of(const std::string& head, const std::string& name) {
    size_t pos = 0;
    while ((pos = head.find("\r\n", pos)) != std::string::npos) {
      pos += 2;
      const size_t colon = head.find(':', pos);
      const size_t eol = head.find("\r\n", pos);
      if (colon == std::string::npos || eol == std::string::npos || colon > eol) continue;
      std::string key = head.substr(pos, colon - pos);
      for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (key == name) {
        size_t b = colon + 1;
        while (b < eol && head[b] == ' ') ++b;
        return head.substr(b, eol - b);
      }
    }
    return "";
  }

  void handle(int fd) {
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      head.append(buf, static_cast<size_t>(n));
    }
    Request req;
    const size_t sp1 = head.find(' ');
    const size_t sp2 = head.find(' ', sp1 + 1);
    req.method = head.substr(0, sp1);
    req.path = head.substr(sp1 + 1, sp2 - sp1 - 1);
    req.host = header_of(head, "host");
    req.range = header_of(head, "range");
    req.authorization = header_of(head, "authorization");
    Reply reply = route(req);
    req.status = reply.status;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      log_.push_back(req);
    }
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\n";
    bool has_length = false;
    for (const auto& [k, v] : reply.headers) {
      out += k + ": " + v + "\r\n";
      has_length |= k == "Content-Length";
    }
    if (!has_length) out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    out += "Connection: close\r\n\r\n";
    if (req.method != "HEAD") {
      out += reply.drop_after >= 0 ? reply.body.substr(0, static_cast<size_t>(reply.drop_after))
                                   : reply.body;
    }
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::send(fd, out.data() + done, out.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

  static Reply with_range(const Request& req, const std::string& content, Reply r) {
    r.body = content;
    if (req.range.rfind("bytes=", 0) == 0) {
      const uint64_t start = std::stoull(req.range.substr(6));
      if (start >= content.size()) {
        r.status = 416;
        r.body.clear();
        r.headers.push_back({"Content-Range", "bytes */" + std::to_string(content.size())});
        return r;
      }
      r.status = 206;
      r.body = content.substr(start);
      r.headers.push_back({"Content-Range", "bytes " + std::to_string(start) + "-" +
                                                std::to_string(content.size() - 1) + "/" +
                                                std::to_string(content.size())});
    }
    return r;
  }

  Reply route(const Request& req) {
    Reply r;
    if (fail_next > 0) {
      --fail_next;
      r.status = 503;
      r.body = "try again";
      return r;
    }
    if (req.path.rfind("/lfs/", 0) == 0) {
      const std::string sha = req.path.substr(5);
      for (const auto& [name, f] : files_) {
        if (f.lfs && sha256_hex(f.content) == sha) {
          std::string content = f.content;
          if (corrupt_lfs) content[content.size() / 2] ^= 1;
          r = with_range(req, content, r);
          if (req.method == "GET" && drop_lfs_count > 0 && drop_lfs_after >= 0) {
            --drop_lfs_count;
            r.headers.push_back({"Content-Length", std::to_string(r.body.size())});
            r.drop_after = drop_lfs_after;
          }
          return r;
        }
      }
      r.status = 404;
      return r;
    }
    if (req.path.rfind("/static/", 0) == 0) {
      const auto it = static_files.find(req.path.substr(8));
      if (it == static_files.end()) {
        r.status = 404;
        return r;
      }
      r.headers.push_back({"ETag", "\"" + git_blob_sha1(it->second) + "\""});
      return with_range(req, it->second, r);
    }
    const std::string prefix = "/" + repo_ + "/resolve/";
    if (req.path.rfind(prefix, 0) != 0) {
      r.status = 401;  // the Hub answers unknown (or private) repos with 401
      r.headers.push_back({"X-Error-Code", "RepoNotFound"});
      return r;
    }
    if (!required_token.empty() && req.authorization != "Bearer " + required_token) {
      r.status = 401;
      r.headers.push_back({"X-Error-Code", "RepoNotFound"});
      r.headers.push_back({"X-Error-Message", "Invalid credentials in Authorization header"});
      return r;
    }
    if (gated) {
      r.status = 403;
      r.headers.push_back({"X-Error-Code", "GatedRepo"});
      return r;
    }
    const std::string rest = req.path.substr(prefix.size());
    const size_t slash = rest.find('/');
    const std::string rev = rest.substr(0, slash);
    const std::string file = rest.substr(slash + 1);
    if (rev != "main" && rev != commit_) {
      r.status = 404;
      r.headers.push_back({"X-Error-Code", "RevisionNotFound"});
      return r;
    }
    r.headers.push_back({"X-Repo-Commit", commit_});
    const auto it = files_.find(file);
    if (it == files_.end()) {
      r.status = 404;
      r.headers.push_back({"X-Error-Code", "EntryNotFound"});
      r.body = "Entry not found";
      return r;
    }
    const File& f = it->second;
    if (f.lfs) {
      const std::string sha = sha256_hex(f.content);
      r.status = 302;
      r.headers.push_back(
          {"Location", "http://localhost:" + std::to_string(port_) + "/lfs/" + sha});
      r.headers.push_back({"X-Linked-Etag", "\"" + sha + "\""});
      r.headers.push_back({"X-Linked-Size", std::to_string(f.content.size())});
      r.headers.push_back({"ETag", "W/\"redirect-etag\""});
      r.body = "Found. Redirecting to the CDN";
      return r;
    }
    r.headers.push_back({"ETag", "\"" + git_blob_sha1(f.content) + "\""});
    r.body = f.content;
    return r;
  }

  std::string repo_, commit_;
  std::map<std::string, File> files_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<Request> log_;
};

}  // namespace segq::testing
