#include "io/hub.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/log.h"
#include "io/file_util.h"
#include "io/model_files.h"

namespace segq {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool env_true(const char* name) {
  std::string v = env(name);
  for (char& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::string expand_user(const std::string& p) {
  if (p.empty() || p[0] != '~' || (p.size() > 1 && p[1] != '/')) return p;
  return env("HOME") + p.substr(1);
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

long env_seconds(const char* name, long fallback) {
  const std::string v = env(name);
  if (v.empty()) return fallback;
  try {
    return std::max(1L, static_cast<long>(std::stod(v)));
  } catch (const std::exception&) {
    throw UsageError(str_cat(name, "='", v, "' is not a number of seconds"));
  }
}

// Python's urllib.parse.quote: everything but letters, digits and "_.-~" (and `safe`) is escaped.
std::string url_quote(std::string_view s, std::string_view safe) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' ||
        safe.find(ch) != std::string_view::npos) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string url_unquote(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool is_hex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// W/"abc" or "abc" -> abc
std::string normalize_etag(std::string etag) {
  if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
  while (!etag.empty() && etag.front() == '"') etag.erase(etag.begin());
  while (!etag.empty() && etag.back() == '"') etag.pop_back();
  return etag;
}

// Etags become file names under blobs/: accept only what the Hub produces.
bool safe_etag(std::string_view e) {
  if (e.empty() || e.size() > 200 || e == "." || e == "..") return false;
  for (char c : e) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

bool name_component_ok(std::string_view s) {
  if (s.empty() || s == "." || s == ".." || s.size() > 96) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return s.find("--") == std::string_view::npos && s.find("..") == std::string_view::npos;
}

std::optional<uint64_t> parse_u64(const std::optional<std::string>& v) {
  if (!v || v->empty()) return std::nullopt;
  uint64_t out = 0;
  for (char c : *v) {
    if (c < '0' || c > '9' || out > (UINT64_MAX - 9) / 10) return std::nullopt;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return out;
}

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::app);
}

void write_ref(const fs::path& repo_dir, const std::string& revision, const std::string& commit) {
  if (revision == commit) return;
  const fs::path ref = repo_dir / "refs" / revision;
  std::error_code ec;
  if (fs::exists(ref, ec)) {
    try {
      if (trim(read_file(ref.string())) == commit) return;
    } catch (const Error&) {
    }
  }
  write_file_atomic(ref.string(), commit);
}

// snapshots/{commit}/{file} -> ../../blobs/{etag}, replaced atomically.
void link_pointer(const fs::path& pointer, const std::string& etag, const std::string& filename) {
  std::string target;
  const size_t depth = 2 + static_cast<size_t>(std::count(filename.begin(), filename.end(), '/'));
  for (size_t i = 0; i < depth; ++i) target += "../";
  target += "blobs/" + etag;
  fs::create_directories(pointer.parent_path());
  const std::string tmp = pointer.string() + ".tmp-" + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0) {
    throw Error(str_cat(pointer.string(), ": cannot create symlink: ", std::strerror(errno)));
  }
  if (::rename(tmp.c_str(), pointer.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error(str_cat(pointer.string(), ": cannot rename symlink: ", std::strerror(err)));
  }
}

// An exclusive flock() held for the lifetime of the object; huggingface_hub's filelock takes the
// same lock on the same file, so the two never write one blob at the same time.
class FileLock {
 public:
  explicit FileLock(const fs::path& path) {
    fs::create_directories(path.parent_path());
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd_ < 0)
      throw Error(str_cat(path.string(), ": cannot open lock file: ", std::strerror(errno)));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const int err = errno;
        ::close(fd_);
        throw Error(str_cat(path.string(), ": cannot lock: ", std::strerror(err)));
      }
    }
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

void check_filename(const std::string& filename) {
  if (filename.empty() || filename[0] == '/' || filename.find('\\') != std::string::npos) {
    throw Error(str_cat("invalid repository file name '", filename, "'"));
  }
  size_t start = 0;
  while (start <= filename.size()) {
    const size_t end = std::min(filename.find('/', start), filename.size());
    const std::string_view part(filename.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") {
      throw Error(str_cat("invalid repository file name '", filename, "'"));
    }
    start = end + 1;
  }
}

HubFile lookup_cache(const HubConfig& config, const HubRepo& repo, const std::string& filename) {
  const fs::path dir = hub_repo_dir(config, repo.repo_id);
  HubFile f;
  f.status = HubFile::Status::kNotCached;
  if (is_commit_hash(repo.revision)) {
    f.commit = repo.revision;
  } else {
    const fs::path ref = dir / "refs" / repo.revision;
    std::error_code ec;
    if (!fs::is_regular_file(ref, ec)) return f;
    f.commit = trim(read_file(ref.string()));
    if (!is_commit_hash(f.commit)) {
      throw Error(str_cat(ref.string(), ": does not hold a commit hash"));
    }
  }
  const fs::path pointer = dir / "snapshots" / f.commit / filename;
  std::error_code ec;
  if (fs::is_regular_file(pointer, ec)) {  // follows the symlink: a dangling one does not count
    f.status = HubFile::Status::kFound;
    f.path = pointer.string();
  } else if (fs::exists(dir / ".no_exist" / f.commit / filename, ec)) {
    f.status = HubFile::Status::kNotInRepo;
  }
  return f;
}

std::string offline_reason(const HubConfig& config) {
  return config.offline ? "offline mode (HF_HUB_OFFLINE=1)" : "the Hub is unreachable";
}

[[noreturn]] void throw_not_cached(const HubConfig& config, const HubRepo& repo,
                                   const std::string& filename, const HubFile& f) {
  const fs::path dir = hub_repo_dir(config, repo.repo_id);
  const std::string where =
      f.commit.empty()
          ? str_cat("not in the cache: ", config.cache_dir, " has no revision '", repo.revision,
                    "' of ", repo.repo_id, " (no ", (dir / "refs" / repo.revision).string(), ")")
          : str_cat("not in the cache (no ", (dir / "snapshots" / f.commit / filename).string(),
                    ")");
  throw Error(str_cat(offline_reason(config), ": ", filename, " of ", repo.display(), " is ", where,
                      ". Fetch it first where the Hub is reachable (segq download --model ",
                      repo.display(), ")", config.offline ? ", or unset HF_HUB_OFFLINE" : ""));
}

std::string status_problem(const HubConfig& config, const HubRepo& repo, const std::string& url,
                           const HttpResponse& r) {
  const std::string code = r.header("X-Error-Code").value_or("");
  const std::string request = str_cat("HEAD ", url, ": HTTP ", http_status_text(r.status));
  const std::string token_hint =
      config.http.bearer_token.empty()
          ? "no token is set: if the repository is private or gated, set HF_TOKEN"
          : "the token in HF_TOKEN was rejected or has no access to it";
  if (code == "RevisionNotFound") {
    return str_cat(repo.repo_id, ": revision '", repo.revision, "' not found (", request, ")");
  }
  if (code == "GatedRepo" || r.status == 403) {
    return str_cat(repo.repo_id, ": access denied (", request,
                   "); for a gated repository accept its conditions on the Hub and set HF_TOKEN");
  }
  if (code == "RepoNotFound" || r.status == 401) {
    return str_cat(repo.repo_id, ": repository not found or not accessible (", request, "); ",
                   token_hint);
  }
  if (r.status == 404) {
    return str_cat(repo.display(), ": not found (", request,
                   "): the repository, revision or file does not exist");
  }
  const std::string msg = r.header("X-Error-Message").value_or("");
  return str_cat(repo.display(), ": ", request, msg.empty() ? "" : " (" + msg + ")");
}

}  // namespace

HubConfig HubConfig::from_env() {
  HubConfig c;
  c.endpoint = env("HF_ENDPOINT");
  if (c.endpoint.empty()) c.endpoint = "https://huggingface.co";
  while (!c.endpoint.empty() && c.endpoint.back() == '/') c.endpoint.pop_back();
  std::string home = env("HF_HOME");
  if (home.empty()) {
    std::string xdg = env("XDG_CACHE_HOME");
    home = (xdg.empty() ? expand_user("~/.cache") : xdg) + "/huggingface";
  }
  home = expand_user(home);
  c.cache_dir = env("HF_HUB_CACHE");
  if (c.cache_dir.empty()) c.cache_dir = env("HUGGINGFACE_HUB_CACHE");
  if (c.cache_dir.empty()) c.cache_dir = home + "/hub";
  c.cache_dir = expand_user(c.cache_dir);
  c.offline = env_true("HF_HUB_OFFLINE") || env_true("TRANSFORMERS_OFFLINE");

  std::string token = env("HF_TOKEN");
  if (token.empty()) token = env("HUGGING_FACE_HUB_TOKEN");
  if (token.empty()) {  // written by `huggingface-cli login`
    std::string token_path = env("HF_TOKEN_PATH");
    if (token_path.empty()) token_path = home + "/token";
    std::error_code ec;
    if (fs::is_regular_file(expand_user(token_path), ec)) {
      try {
        token = read_file(expand_user(token_path));
      } catch (const Error&) {
      }
    }
  }
  c.http.bearer_token = trim(token);
  c.http.token_origin = url_origin(c.endpoint);
  if (c.http.token_origin.empty()) {
    throw UsageError(str_cat("HF_ENDPOINT='", c.endpoint, "' is not a valid URL"));
  }
  c.http.user_agent = str_cat("segq/", SEGQ_VERSION);
  c.http.request_timeout_s = env_seconds("HF_HUB_ETAG_TIMEOUT", 10);
  c.http.stall_timeout_s = env_seconds("HF_HUB_DOWNLOAD_TIMEOUT", 10);
  return c;
}

bool is_commit_hash(std::string_view s) { return is_hex(s, 40); }

std::optional<HubRepo> parse_hub_id(std::string_view spec) {
  HubRepo repo;
  const size_t at = spec.find('@');
  std::string_view id = spec.substr(0, at);
  if (at != std::string_view::npos) {
    repo.revision = std::string(spec.substr(at + 1));
    if (repo.revision.empty() || repo.revision.front() == '/' || repo.revision.back() == '/') {
      return std::nullopt;
    }
    for (char c : repo.revision) {
      if (std::isspace(static_cast<unsigned char>(c)) || c == '\\') return std::nullopt;
    }
    for (size_t start = 0; start <= repo.revision.size();) {
      const size_t end = std::min(repo.revision.find('/', start), repo.revision.size());
      const std::string_view part(repo.revision.data() + start, end - start);
      if (part.empty() || part == "." || part == "..") return std::nullopt;
      start = end + 1;
    }
  }
  const size_t slash = id.find('/');
  if (slash == std::string_view::npos || id.find('/', slash + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  if (!name_component_ok(id.substr(0, slash)) || !name_component_ok(id.substr(slash + 1))) {
    return std::nullopt;
  }
  repo.repo_id = std::string(id);
  return repo;
}

std::string hub_repo_dir(const HubConfig& config, const std::string& repo_id) {
  std::string folder = "models--" + repo_id;
  for (size_t pos = folder.find('/'); pos != std::string::npos; pos = folder.find('/', pos)) {
    folder.replace(pos, 1, "--");
  }
  return (fs::path(config.cache_dir) / folder).string();
}

HubFile hub_fetch_file(const HubConfig& config, const HubRepo& repo, const std::string& filename) {
  check_filename(filename);
  const fs::path dir = hub_repo_dir(config, repo.repo_id);
  if (config.offline) return lookup_cache(config, repo, filename);
  if (is_commit_hash(repo.revision)) {  // a commit's files never change: no request needed
    HubFile cached = lookup_cache(config, repo, filename);
    if (cached.status != HubFile::Status::kNotCached) return cached;
  }

  const std::string url = str_cat(config.endpoint, "/", repo.repo_id, "/resolve/",
                                  url_quote(repo.revision, ""), "/", url_quote(filename, "/"));
  HttpResponse head;
  try {
    head =
        http_request("HEAD", url, config.http, Redirects::kSameHost, {"Accept-Encoding: identity"});
  } catch (const NetworkError& e) {
    HubFile cached = lookup_cache(config, repo, filename);
    if (cached.status == HubFile::Status::kNotCached) {
      throw NetworkError(str_cat(e.what(), "; and ", filename, " of ", repo.display(),
                                 " is not in the cache ", config.cache_dir));
    }
    log_warn(e.what(), "; using the cached copy of ", filename, " (commit ", cached.commit, ")");
    cached.hub_unreachable = true;
    return cached;
  }
  if (head.status >= 500) {
    HubFile cached = lookup_cache(config, repo, filename);
    if (cached.status != HubFile::Status::kNotCached) {
      log_warn("HEAD ", url, ": HTTP ", http_status_text(head.status),
               "; using the cached copy of ", filename);
      cached.hub_unreachable = true;
      return cached;
    }
  }
  if (head.status == 404 && head.header("X-Error-Code").value_or("") == "EntryNotFound") {
    HubFile f;
    f.status = HubFile::Status::kNotInRepo;
    const std::string commit = head.header("X-Repo-Commit").value_or("");
    if (is_commit_hash(commit)) {
      f.commit = commit;
      touch(dir / ".no_exist" / commit / filename);
      write_ref(dir, repo.revision, commit);
    }
    return f;
  }
  if (head.status >= 400 || head.status < 200) {
    throw Error(status_problem(config, repo, url, head));
  }

  const std::string commit = head.header("X-Repo-Commit").value_or("");
  if (!is_commit_hash(commit)) {
    throw Error(str_cat("HEAD ", url, ": no valid X-Repo-Commit header (got '", commit,
                        "'); is HF_ENDPOINT a Hugging Face Hub?"));
  }
  const std::string etag =
      normalize_etag(head.header("X-Linked-Etag").value_or(head.header("ETag").value_or("")));
  if (!safe_etag(etag)) {
    throw Error(str_cat("HEAD ", url, ": missing or invalid ETag/X-Linked-Etag ('", etag, "')"));
  }
  const auto size =
      parse_u64(head.header("X-Linked-Size").has_value() ? head.header("X-Linked-Size")
                                                         : head.header("Content-Length"));
  if (!size) throw Error(str_cat("HEAD ", url, ": no X-Linked-Size or Content-Length header"));
  const bool redirected = head.status >= 300 && head.status < 400;
  if (redirected && head.location.empty()) {
    throw Error(str_cat("HEAD ", url, ": HTTP ", head.status, " without a Location"));
  }
  const std::string download_url = redirected ? head.location : head.url;

  write_ref(dir, repo.revision, commit);
  HubFile f;
  f.status = HubFile::Status::kFound;
  f.commit = commit;
  const fs::path pointer = dir / "snapshots" / commit / filename;
  f.path = pointer.string();
  std::error_code ec;
  if (fs::is_regular_file(pointer, ec)) return f;

  const fs::path blob = dir / "blobs" / etag;
  fs::create_directories(blob.parent_path());
  if (!fs::exists(blob, ec)) {
    FileLock lock(fs::path(config.cache_dir) / ".locks" / fs::path(dir).filename() /
                  (etag + ".lock"));
    if (!fs::exists(blob, ec)) {  // another process may have finished it while we waited
      const std::string partial = blob.string() + ".incomplete";
      log_info("downloading ", filename, " of ", repo.display(), " (", *size, " bytes)");
      http_download(download_url, partial, config.http, *size);
      if (is_hex(etag, 64)) {  // LFS files: the etag is the content's sha256
        const std::string digest = sha256_file_hex(partial);
        if (digest != etag) {
          ::unlink(partial.c_str());
          throw Error(str_cat("GET ", download_url, ": downloaded ", filename,
                              " is corrupt: sha256 ", digest, ", expected ", etag));
        }
      }
      if (::rename(partial.c_str(), blob.c_str()) != 0) {
        throw Error(
            str_cat(blob.string(), ": cannot rename from ", partial, ": ", std::strerror(errno)));
      }
    }
  }
  link_pointer(pointer, etag, filename);
  return f;
}

namespace {

// The weight files of a model, in the order transformers prefers them.
constexpr const char* kWeightCandidates[] = {"model.safetensors", "model.safetensors.index.json",
                                             "pytorch_model.bin", "pytorch_model.bin.index.json"};

class SnapshotFetcher {
 public:
  SnapshotFetcher(const HubConfig& config, const HubRepo& repo) : config_(config), pinned_(repo) {
    offline_requested_ = config.offline;
    snap_.repo = repo;
  }

  // Pins the revision to the first commit seen, so every file comes from the same commit. Once
  // the Hub proved unreachable, the remaining files come from the cache without more retries.
  HubFile fetch(const std::string& filename) {
    HubFile f = config_.offline ? lookup_cache(config_, pinned_, filename)
                                : hub_fetch_file(config_, pinned_, filename);
    if (f.hub_unreachable) {
      config_.offline = true;
      unreachable_ = true;
    }
    if (!f.commit.empty() && snap_.commit.empty()) {
      snap_.commit = f.commit;
      pinned_.revision = f.commit;
    }
    return f;
  }

  std::string require(const std::string& filename) {
    HubFile f = fetch(filename);
    if (f.status == HubFile::Status::kFound) return f.path;
    if (f.status == HubFile::Status::kNotCached)
      throw_not_cached(reason(), snap_.repo, filename, f);
    throw Error(str_cat(snap_.repo.display(), ": the repository has no ", filename,
                        snap_.commit.empty() ? "" : " at commit " + snap_.commit));
  }

  // A weights file or shard index: fetches the shards an index names.
  void add_weights(const std::string& path, const std::string& filename) {
    if (filename.size() > 11 && filename.compare(filename.size() - 11, 11, ".index.json") == 0) {
      const std::string base = filename.find('/') == std::string::npos
                                   ? std::string()
                                   : filename.substr(0, filename.rfind('/') + 1);
      snap_.weight_index_file = path;
      for (const std::string& shard : shard_files_from_index(path)) {
        snap_.weight_files.push_back(require(base + shard));
      }
    } else {
      snap_.weight_files.push_back(path);
    }
  }

  void fetch_model_files() {
    snap_.config_file = require("config.json");
    const HubFile pre = fetch("preprocessor_config.json");
    if (pre.status == HubFile::Status::kFound) snap_.preprocessor_config_file = pre.path;
    std::vector<std::string> uncached;
    for (const char* candidate : kWeightCandidates) {
      const HubFile f = fetch(candidate);
      if (f.status == HubFile::Status::kFound) {
        add_weights(f.path, candidate);
        return;
      }
      if (f.status == HubFile::Status::kNotCached) uncached.push_back(candidate);
    }
    if (!uncached.empty()) {
      throw Error(
          str_cat(offline_reason(reason()), ": no weights of ", snap_.repo.display(),
                  " are in the cache (looked for model.safetensors, "
                  "model.safetensors.index.json, pytorch_model.bin, "
                  "pytorch_model.bin.index.json in ",
                  (fs::path(hub_repo_dir(config_, snap_.repo.repo_id)) / "snapshots" / snap_.commit)
                      .string(),
                  ")"));
    }
    throw Error(str_cat(snap_.repo.display(),
                        ": the repository has no weights (none of model.safetensors, "
                        "model.safetensors.index.json, pytorch_model.bin, "
                        "pytorch_model.bin.index.json at commit ",
                        snap_.commit, ")"));
  }

  // The files of a model given by one weights file (or shard index) of the repo.
  void fetch_model_files_for(const std::string& weights_file) {
    const std::string folder = weights_file.find('/') == std::string::npos
                                   ? std::string()
                                   : weights_file.substr(0, weights_file.rfind('/') + 1);
    const std::string weights = require(weights_file);  // pins the commit first
    snap_.config_file = require(folder + "config.json");
    const HubFile pre = fetch(folder + "preprocessor_config.json");
    if (pre.status == HubFile::Status::kFound) snap_.preprocessor_config_file = pre.path;
    add_weights(weights, weights_file);
  }

  HubSnapshot finish() {
    snap_.directory =
        (fs::path(hub_repo_dir(config_, snap_.repo.repo_id)) / "snapshots" / snap_.commit).string();
    return snap_;
  }

 private:
  // The config errors should describe: offline as requested, or online with the Hub unreachable.
  HubConfig reason() const {
    HubConfig c = config_;
    c.offline = offline_requested_ || !unreachable_;
    return c;
  }

  HubConfig config_;
  HubRepo pinned_;
  HubSnapshot snap_;
  bool offline_requested_ = false;
  bool unreachable_ = false;
};

// Generic URL: files cached under {SEGQ_CACHE}/urls/{hash of the folder URL}/, revalidated by
// ETag when online. Returns false when an optional file does not exist (HTTP 404).
bool fetch_url_file(const HubConfig& config, const std::string& url, const fs::path& dest,
                    bool optional) {
  std::error_code ec;
  const bool cached = fs::is_regular_file(dest, ec);
  if (config.offline) {
    if (cached) return true;
    if (optional) return false;
    throw Error(str_cat(offline_reason(config), ": ", url, " is not in the cache (no ",
                        dest.string(),
                        "); fetch it first where the network is reachable, or "
                        "unset HF_HUB_OFFLINE"));
  }
  HttpResponse head;
  try {
    head = http_request("HEAD", url, config.http, Redirects::kAll, {"Accept-Encoding: identity"});
  } catch (const NetworkError& e) {
    if (!cached) throw;
    log_warn(e.what(), "; using the cached copy ", dest.string());
    return true;
  }
  if (head.status == 404 && optional) return false;
  if (head.status < 200 || head.status >= 300) {
    if (head.status >= 500 && cached) {
      log_warn("HEAD ", url, ": HTTP ", http_status_text(head.status), "; using the cached copy");
      return true;
    }
    const std::string hint = head.status == 401 || head.status == 403
                                 ? " (a token is only sent to HF_ENDPOINT's host; set HF_TOKEN)"
                                 : "";
    throw Error(str_cat("HEAD ", url, ": HTTP ", http_status_text(head.status), hint));
  }
  const std::string etag = normalize_etag(head.header("ETag").value_or(""));
  const auto size = parse_u64(head.header("Content-Length"));
  const std::string meta = dest.string() + ".etag";
  if (cached && !etag.empty()) {
    std::string stored;
    try {
      stored = read_file(meta);
    } catch (const Error&) {
    }
    if (stored == etag && (!size || fs::file_size(dest, ec) == *size)) return true;
  }
  fs::create_directories(dest.parent_path());
  const std::string partial = dest.string() + ".incomplete";
  const std::string partial_meta = partial + ".etag";
  std::string partial_etag;
  try {
    partial_etag = read_file(partial_meta);
  } catch (const Error&) {
  }
  if (etag.empty() || partial_etag != etag) ::unlink(partial.c_str());  // cannot resume safely
  write_file_atomic(partial_meta, etag);
  log_info("downloading ", url);
  http_download(url, partial, config.http, size);
  if (::rename(partial.c_str(), dest.c_str()) != 0) {
    throw Error(
        str_cat(dest.string(), ": cannot rename from ", partial, ": ", std::strerror(errno)));
  }
  write_file_atomic(meta, etag);
  ::unlink(partial_meta.c_str());
  return true;
}

}  // namespace

HubSnapshot hub_download_model(const HubConfig& config, const HubRepo& repo) {
  SnapshotFetcher fetcher(config, repo);
  fetcher.fetch_model_files();
  return fetcher.finish();
}

HubSnapshot download_url_model(const HubConfig& config, const std::string& url) {
  const size_t query = url.find_first_of("?#");
  const std::string path_url = url.substr(0, query);
  const size_t slash = path_url.rfind('/');
  if (slash == std::string::npos || slash + 1 == path_url.size() ||
      path_url.find("://") == std::string::npos || slash < path_url.find("://") + 3) {
    throw UsageError(str_cat(url, ": expected the URL of a weights file (…/model.safetensors)"));
  }
  const std::string weights_name = url_unquote(path_url.substr(slash + 1));

  // A Hub resolve URL: {endpoint}/{org}/{name}/resolve/{rev}/{file}
  const std::string hub_prefix = config.endpoint + "/";
  if (path_url.rfind(hub_prefix, 0) == 0) {
    const std::string rest = path_url.substr(hub_prefix.size());
    const size_t p1 = rest.find('/');
    const size_t p2 = p1 == std::string::npos ? p1 : rest.find('/', p1 + 1);
    const size_t p3 = p2 == std::string::npos ? p2 : rest.find('/', p2 + 1);
    if (p3 != std::string::npos && rest.compare(p2 + 1, p3 - p2 - 1, "resolve") == 0) {
      const size_t p4 = rest.find('/', p3 + 1);
      if (p4 != std::string::npos) {
        const std::string id = rest.substr(0, p2);
        const std::string rev = url_unquote(rest.substr(p3 + 1, p4 - p3 - 1));
        const std::string file = url_unquote(rest.substr(p4 + 1));
        if (auto repo = parse_hub_id(id + "@" + rev)) {
          SnapshotFetcher fetcher(config, *repo);
          fetcher.fetch_model_files_for(file);
          HubSnapshot snap = fetcher.finish();
          return snap;
        }
      }
    }
  }

  std::string cache_root = env("SEGQ_CACHE");
  if (cache_root.empty()) {
    const std::string xdg = env("XDG_CACHE_HOME");
    cache_root = (xdg.empty() ? expand_user("~/.cache") : xdg) + "/segq";
  }
  const std::string base = path_url.substr(0, slash + 1);
  const fs::path dir = fs::path(expand_user(cache_root)) / "urls" / sha256_hex(base).substr(0, 16);
  HubSnapshot snap;
  snap.repo.repo_id.clear();
  snap.repo.revision.clear();
  snap.directory = dir.string();
  check_filename(weights_name);
  if (weights_name.find('/') != std::string::npos)
    throw UsageError(str_cat(url, ": bad file name"));
  fetch_url_file(config, base + "config.json", dir / "config.json", false);
  snap.config_file = (dir / "config.json").string();
  if (fetch_url_file(config, base + "preprocessor_config.json", dir / "preprocessor_config.json",
                     true)) {
    snap.preprocessor_config_file = (dir / "preprocessor_config.json").string();
  }
  fetch_url_file(config, url, dir / weights_name, false);
  if (weights_name.size() > 11 &&
      weights_name.compare(weights_name.size() - 11, 11, ".index.json") == 0) {
    snap.weight_index_file = (dir / weights_name).string();
    for (const std::string& shard : shard_files_from_index((dir / weights_name).string())) {
      fetch_url_file(config, base + url_quote(shard, "/"), dir / shard, false);
      snap.weight_files.push_back((dir / shard).string());
    }
  } else {
    snap.weight_files.push_back((dir / weights_name).string());
  }
  return snap;
}

}  // namespace segq
