// Hugging Face Hub downloads into the Hub's own cache layout, so files huggingface_hub/transformers
// already fetched are reused and files fetched here are found by them:
//
//   {cache}/models--{org}--{name}/blobs/{etag}                 file contents (etag: the LFS sha256
//                                                              or the git blob sha1)
//   {cache}/models--{org}--{name}/snapshots/{commit}/{file}    relative symlink to
//   ../../blobs/{etag} {cache}/models--{org}--{name}/refs/{revision}              the commit hash
//   the revision names {cache}/models--{org}--{name}/.no_exist/{commit}/{file}    empty marker: the
//   repo lacks {file} {cache}/.locks/models--{org}--{name}/{etag}.lock           flock() while a
//   blob is written
//
// Protocol (as huggingface_hub 0.35): HEAD {endpoint}/{repo}/resolve/{revision}/{file} without
// following cross-host redirects gives X-Repo-Commit, the etag (X-Linked-Etag, else ETag, quotes
// and W/ removed), the size (X-Linked-Size, else Content-Length) and, for LFS files, a 302 to the
// blob URL; the blob is then fetched (Authorization only to the endpoint's host) into
// blobs/{etag}.incomplete, resumed with Range after interruptions, checked (size; sha256 when the
// etag is one) and renamed into place.
//
// Environment: HF_ENDPOINT (default https://huggingface.co), HF_HUB_CACHE / HUGGINGFACE_HUB_CACHE /
// HF_HOME (default ~/.cache/huggingface, hub/ below it), HF_TOKEN / HUGGING_FACE_HUB_TOKEN / the
// token file of `huggingface-cli login`, HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE (cache only),
// HF_HUB_ETAG_TIMEOUT and HF_HUB_DOWNLOAD_TIMEOUT (seconds).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/http_client.h"

namespace segq {

struct HubConfig {
  std::string endpoint;   // no trailing slash
  std::string cache_dir;  // the hub cache ({HF_HOME}/hub)
  bool offline = false;
  HttpOptions http;  // bearer_token / token_origin: HF token for the endpoint only
  static HubConfig from_env();
};

struct HubRepo {
  std::string repo_id;            // "org/name"
  std::string revision = "main";  // branch, tag or commit hash
  std::string display() const { return revision == "main" ? repo_id : repo_id + "@" + revision; }
};

// "org/name" or "org/name@revision" (name characters as the Hub allows: letters, digits, - _ .).
std::optional<HubRepo> parse_hub_id(std::string_view spec);
bool is_commit_hash(std::string_view s);  // 40 lower-case hex digits

// {cache}/models--org--name
std::string hub_repo_dir(const HubConfig& config, const std::string& repo_id);

struct HubFile {
  enum class Status {
    kFound,      // path holds the file
    kNotInRepo,  // the repo has no such file at this revision (HTTP 404 or a .no_exist marker)
    kNotCached,  // offline (or the Hub unreachable) and the cache does not know the file
  };
  Status status = Status::kNotCached;
  std::string path;              // snapshots/{commit}/{file} when found
  std::string commit;            // when known
  bool hub_unreachable = false;  // served from the cache because the Hub could not be reached
};

// Resolves one file of `repo` into the cache (downloading it when needed). Throws segq::Error
// naming the URL and HTTP status for failures other than "no such file" (401/403 mention HF_TOKEN;
// 404 of the repo or revision says which), NetworkError when the Hub is unreachable and the cache
// cannot stand in.
HubFile hub_fetch_file(const HubConfig& config, const HubRepo& repo, const std::string& filename);

struct HubSnapshot {
  HubRepo repo;
  std::string commit;
  std::string directory;                  // {cache}/models--org--name/snapshots/{commit}
  std::string config_file;                // config.json
  std::string preprocessor_config_file;   // "" when the repo has none
  std::vector<std::string> weight_files;  // model.safetensors, its shards, or pytorch_model.bin(s)
  std::string weight_index_file;          // the shard index, when the weights are sharded
};

// config.json, preprocessor_config.json (optional), then the weights: model.safetensors, else
// model.safetensors.index.json and its shards, else pytorch_model.bin, else
// pytorch_model.bin.index.json and its shards. All from one commit. Offline with a cold cache: an
// error saying so and naming the missing file.
HubSnapshot hub_download_model(const HubConfig& config, const HubRepo& repo);

// A model given as the URL of one weights file with config.json (and optionally
// preprocessor_config.json) beside it. URLs under the Hub endpoint's /{org}/{name}/resolve/{rev}/
// go through the Hub cache; any other URL is cached under {SEGQ_CACHE or ~/.cache/segq}/urls/.
HubSnapshot download_url_model(const HubConfig& config, const std::string& url);

}  // namespace segq
