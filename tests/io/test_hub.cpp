#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include "hub_test_server.h"
#include "io/file_util.h"
#include "io/hub.h"
#include "io/model_files.h"
#include "io_test_util.h"

namespace segq {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::fixture;
using testing::HubTestServer;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

const char* kCommit = "0123456789abcdef0123456789abcdef01234567";
const char* kRepo = "test-org/tiny-segformer";

std::map<std::string, HubTestServer::File> tiny_repo_files() {
  return {{"config.json", {read_bytes(fixture("models/tiny/config.json")), false}},
          {"model.safetensors", {read_bytes(fixture("models/tiny/model.safetensors")), true}},
          {"README.md", {"# tiny\n", false}}};
}

HubConfig test_config(const HubTestServer& server, const std::string& cache) {
  HubConfig c;
  c.endpoint = server.endpoint();
  c.cache_dir = cache;
  c.http.token_origin = url_origin(c.endpoint);
  c.http.retry_base = std::chrono::milliseconds(5);
  c.http.retry_max = std::chrono::milliseconds(20);
  c.http.max_retries = 3;
  return c;
}

std::string repo_dir(const std::string& cache) {
  return cache + "/models--test-org--tiny-segformer";
}

// Sets environment variables for the lifetime of the object (restoring the previous values).
class ScopedEnv {
 public:
  ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const auto& [k, v] : vars) {
      const char* old = std::getenv(k);
      saved_.emplace_back(k, old ? std::optional<std::string>(old) : std::nullopt);
      if (v) {
        ::setenv(k, v, 1);
      } else {
        ::unsetenv(k);
      }
    }
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : saved_) {
      if (v) {
        ::setenv(k.c_str(), v->c_str(), 1);
      } else {
        ::unsetenv(k.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// No Hub-related variable of the machine running the tests leaks in.
ScopedEnv clean_hub_env() {
  return ScopedEnv({{"HF_ENDPOINT", nullptr},
                    {"HF_HOME", nullptr},
                    {"HF_HUB_CACHE", nullptr},
                    {"HUGGINGFACE_HUB_CACHE", nullptr},
                    {"HF_TOKEN", nullptr},
                    {"HUGGING_FACE_HUB_TOKEN", nullptr},
                    {"HF_TOKEN_PATH", nullptr},
                    {"HF_HUB_OFFLINE", nullptr},
                    {"TRANSFORMERS_OFFLINE", nullptr},
                    {"XDG_CACHE_HOME", nullptr},
                    {"SEGQ_CACHE", nullptr}});
}

TEST(HubId, ParsesIdsAndRevisions) {
  auto r = parse_hub_id("nvidia/segformer-b0-finetuned-ade-512-512");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->repo_id, "nvidia/segformer-b0-finetuned-ade-512-512");
  EXPECT_EQ(r->revision, "main");
  r = parse_hub_id("org/name@v1.0");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->revision, "v1.0");
  EXPECT_EQ(r->display(), "org/name@v1.0");
  r = parse_hub_id("org/name@refs/pr/3");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->revision, "refs/pr/3");
  for (const char* bad : {"name-only", "a/b/c", "org/", "/name", "org/na me", "org/name@",
                          "org/name@../x", "org/name@a/../../b", "org/a--b", "org/..", "../x"}) {
    EXPECT_FALSE(parse_hub_id(bad)) << bad;
  }
  EXPECT_TRUE(is_commit_hash(kCommit));
  EXPECT_FALSE(is_commit_hash("main"));
}

TEST(HubConfigFromEnv, FollowsHuggingfaceHubPrecedence) {
  TempDir dir;
  auto clean = clean_hub_env();
  {
    ScopedEnv e({{"HOME", dir.path().c_str()}});
    const HubConfig c = HubConfig::from_env();
    EXPECT_EQ(c.endpoint, "https://huggingface.co");
    EXPECT_EQ(c.cache_dir, dir.path() + "/.cache/huggingface/hub");
    EXPECT_FALSE(c.offline);
    EXPECT_TRUE(c.http.bearer_token.empty());
    EXPECT_EQ(c.http.token_origin, "https://huggingface.co:443");
  }
  {
    ScopedEnv e({{"HF_HOME", (dir / "home").c_str()},
                 {"HF_ENDPOINT", "http://127.0.0.1:9/"},
                 {"HF_HUB_OFFLINE", "yes"},
                 {"HUGGING_FACE_HUB_TOKEN", "old-token"}});
    const HubConfig c = HubConfig::from_env();
    EXPECT_EQ(c.endpoint, "http://127.0.0.1:9");
    EXPECT_EQ(c.cache_dir, dir / "home/hub");
    EXPECT_TRUE(c.offline);
    EXPECT_EQ(c.http.bearer_token, "old-token");
  }
  {
    ScopedEnv e({{"HF_HOME", (dir / "home").c_str()},
                 {"HUGGINGFACE_HUB_CACHE", "/legacy"},
                 {"HF_TOKEN", "new-token"},
                 {"HUGGING_FACE_HUB_TOKEN", "old-token"},
                 {"TRANSFORMERS_OFFLINE", "1"}});
    const HubConfig c = HubConfig::from_env();
    EXPECT_EQ(c.cache_dir, "/legacy");
    EXPECT_EQ(c.http.bearer_token, "new-token");
    EXPECT_TRUE(c.offline);
    ScopedEnv e2(
        {{"HF_HUB_CACHE", "/new"}, {"HF_HUB_OFFLINE", "0"}, {"TRANSFORMERS_OFFLINE", nullptr}});
    const HubConfig c2 = HubConfig::from_env();
    EXPECT_EQ(c2.cache_dir, "/new");
    EXPECT_FALSE(c2.offline);
  }
  {  // the token file written by `huggingface-cli login`
    write_bytes(dir / "home/token", "file-token\n");
    ScopedEnv e({{"HF_HOME", (dir / "home").c_str()}});
    EXPECT_EQ(HubConfig::from_env().http.bearer_token, "file-token");
  }
}

TEST(Hub, DownloadsIntoTheHuggingfaceCacheLayout) {
  TempDir dir;
  const auto files = tiny_repo_files();
  HubTestServer server(kRepo, kCommit, files);
  const HubConfig config = test_config(server, dir / "hub");
  const HubSnapshot snap = hub_download_model(config, *parse_hub_id(kRepo));

  const std::string repo = repo_dir(dir / "hub");
  EXPECT_EQ(snap.commit, kCommit);
  EXPECT_EQ(snap.directory, repo + "/snapshots/" + kCommit);
  EXPECT_EQ(snap.config_file, snap.directory + "/config.json");
  EXPECT_EQ(snap.preprocessor_config_file, "");
  ASSERT_EQ(snap.weight_files, std::vector<std::string>{snap.directory + "/model.safetensors"});

  const std::string& weights = files.at("model.safetensors").content;
  const std::string sha = sha256_hex(weights);
  EXPECT_EQ(fs::read_symlink(snap.directory + "/model.safetensors"), "../../blobs/" + sha);
  EXPECT_EQ(read_bytes(repo + "/blobs/" + sha), weights);
  const std::string config_sha1 = testing::git_blob_sha1(files.at("config.json").content);
  EXPECT_EQ(fs::read_symlink(snap.directory + "/config.json"), "../../blobs/" + config_sha1);
  EXPECT_EQ(read_bytes(repo + "/refs/main"), kCommit);  // no newline, as huggingface_hub writes
  EXPECT_TRUE(fs::is_regular_file(repo + "/.no_exist/" + kCommit + "/preprocessor_config.json"));
  EXPECT_TRUE(fs::exists(dir / "hub/.locks/models--test-org--tiny-segformer/" + sha + ".lock"));
  for (const auto& e : fs::recursive_directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().string().find(".incomplete"), std::string::npos) << e.path();
    EXPECT_EQ(e.path().string().find(".tmp-"), std::string::npos) << e.path();
  }
  // The LFS bytes came from the redirect target (another host name), the rest from the endpoint.
  EXPECT_EQ(server.count("GET", "/lfs/"), 1);
  for (const auto& r : server.requests()) {
    if (r.path.rfind("/lfs/", 0) == 0) {
      EXPECT_EQ(r.host, "localhost:" + std::to_string(server.port()));
    }
  }
  // Only the pinned commit is asked for after the first file.
  EXPECT_EQ(server.count("HEAD", std::string("/") + kRepo + "/resolve/main/"), 1);

  // A second resolution finds everything in the cache: metadata requests only, no downloads.
  server.clear_log();
  const HubSnapshot again = hub_download_model(config, *parse_hub_id(kRepo));
  EXPECT_EQ(again.weight_files, snap.weight_files);
  EXPECT_EQ(server.count("GET", "/"), 0);

  // Offline: no request at all.
  server.clear_log();
  HubConfig offline = config;
  offline.offline = true;
  const HubSnapshot cached = hub_download_model(offline, *parse_hub_id(kRepo));
  EXPECT_EQ(cached.directory, snap.directory);
  EXPECT_EQ(cached.weight_files, snap.weight_files);
  EXPECT_TRUE(server.requests().empty());

  // A commit revision whose files are cached needs no request either, even online.
  const HubSnapshot pinned =
      hub_download_model(config, *parse_hub_id(std::string(kRepo) + "@" + kCommit));
  EXPECT_EQ(pinned.weight_files, snap.weight_files);
  EXPECT_TRUE(server.requests().empty());
}

TEST(Hub, LoadModelFilesResolvesHubIdsThroughTheEnvironment) {
  TempDir dir;
  HubTestServer server(kRepo, kCommit, tiny_repo_files());
  auto clean = clean_hub_env();
  ScopedEnv env({{"HF_ENDPOINT", server.endpoint().c_str()}, {"HF_HOME", dir.path().c_str()}});
  const ModelFiles m = load_model_files(kRepo);
  const ModelFiles local = load_model_files(fixture("models/tiny"));
  EXPECT_EQ(m.spec, kRepo);
  EXPECT_EQ(m.commit, kCommit);
  EXPECT_EQ(m.directory, repo_dir(dir / "hub") + "/snapshots/" + kCommit);
  EXPECT_EQ(m.tensors.size(), local.tensors.size());
  EXPECT_EQ(m.config, local.config);
  EXPECT_EQ(m.weights_sha256, local.weights_sha256);  // blob name == digest of the same bytes
  ScopedEnv off({{"HF_HUB_OFFLINE", "1"}});
  EXPECT_EQ(load_model_files(kRepo).weights_sha256, local.weights_sha256);
}

TEST(Hub, FallsBackToShardsThenPytorchBin) {
  TempDir dir;
  const std::string st = read_bytes(fixture("models/tiny/model.safetensors"));
  std::map<std::string, HubTestServer::File> sharded = {
      {"config.json", {read_bytes(fixture("models/tiny/config.json")), false}},
      {"preprocessor_config.json", {R"({"size": {"height": 64, "width": 64}})", false}},
      {"model.safetensors.index.json",
       {R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})",
        false}},
      {"model-00001-of-00002.safetensors", {"shard one", true}},
      {"model-00002-of-00002.safetensors", {"shard two", true}}};
  {
    HubTestServer server(kRepo, kCommit, sharded);
    const HubSnapshot s = hub_download_model(test_config(server, dir / "a"), *parse_hub_id(kRepo));
    ASSERT_EQ(s.weight_files.size(), 2u);
    EXPECT_EQ(read_bytes(s.weight_files[1]), "shard two");
    EXPECT_EQ(s.weight_index_file, s.directory + "/model.safetensors.index.json");
    EXPECT_EQ(s.preprocessor_config_file, s.directory + "/preprocessor_config.json");
    EXPECT_TRUE(fs::exists(repo_dir(dir / "a") + "/.no_exist/" + kCommit + "/model.safetensors"));
  }
  {
    HubTestServer server(
        kRepo, kCommit,
        {{"config.json", {read_bytes(fixture("models/tiny-bin/config.json")), false}},
         {"pytorch_model.bin", {read_bytes(fixture("models/tiny-bin/pytorch_model.bin")), true}}});
    const HubConfig config = test_config(server, dir / "b");
    const HubSnapshot s = hub_download_model(config, *parse_hub_id(kRepo));
    ASSERT_EQ(s.weight_files.size(), 1u);
    EXPECT_EQ(fs::path(s.weight_files[0]).filename(), "pytorch_model.bin");
    // Offline, the .no_exist markers tell which candidates the repo lacks.
    HubConfig offline = config;
    offline.offline = true;
    EXPECT_EQ(hub_download_model(offline, *parse_hub_id(kRepo)).weight_files, s.weight_files);
  }
  {
    HubTestServer server(kRepo, kCommit, {{"config.json", {"{}", false}}});
    expect_error([&] { hub_download_model(test_config(server, dir / "c"), *parse_hub_id(kRepo)); },
                 {kRepo, "has no weights", "pytorch_model.bin", kCommit});
  }
}

TEST(Hub, HttpErrorsNameTheUrlStatusAndRemedy) {
  TempDir dir;
  HubTestServer server(kRepo, kCommit, tiny_repo_files());
  const HubConfig config = test_config(server, dir / "hub");
  const std::string base = server.endpoint();
  expect_error([&] { hub_download_model(config, *parse_hub_id("other-org/missing")); },
               {"other-org/missing", "not found or not accessible",
                base + "/other-org/missing/resolve/main/config.json", "401", "HF_TOKEN"});
  expect_error([&] { hub_download_model(config, *parse_hub_id(std::string(kRepo) + "@nope")); },
               {"revision 'nope' not found", "/resolve/nope/config.json", "404"});
  server.gated = true;
  expect_error([&] { hub_download_model(config, *parse_hub_id(kRepo)); },
               {"access denied", "403", "HF_TOKEN"});
  server.gated = false;
  HubTestServer bare(kRepo, kCommit, {{"model.safetensors", {"x", true}}});
  expect_error([&] { hub_download_model(test_config(bare, dir / "h2"), *parse_hub_id(kRepo)); },
               {"has no config.json", kCommit});
}

TEST(Hub, TokenGoesToTheEndpointOnlyNeverToTheRedirectHost) {
  TempDir dir;
  HubTestServer server(kRepo, kCommit, tiny_repo_files());
  server.required_token = "hf_secret_value";
  HubConfig config = test_config(server, dir / "hub");
  expect_error([&] { hub_download_model(config, *parse_hub_id(kRepo)); },
               {"401", "no token is set", "HF_TOKEN"});
  config.http.bearer_token = "wrong";
  try {
    hub_download_model(config, *parse_hub_id(kRepo));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("wrong"), std::string::npos)
        << "token leaked: " << e.what();
    EXPECT_NE(std::string(e.what()).find("rejected"), std::string::npos) << e.what();
  }
  config.http.bearer_token = "hf_secret_value";
  server.clear_log();
  hub_download_model(config, *parse_hub_id(kRepo));
  int resolve = 0, lfs = 0;
  for (const auto& r : server.requests()) {
    if (r.path.find("/resolve/") != std::string::npos) {
      ++resolve;
      EXPECT_EQ(r.authorization, "Bearer hf_secret_value") << r.path;
    } else {
      ++lfs;
      EXPECT_EQ(r.authorization, "") << "token sent to the redirect host: " << r.path;
    }
  }
  EXPECT_GT(resolve, 2);
  EXPECT_EQ(lfs, 1);
}

TEST(Hub, RetriesServerErrors) {
  TempDir dir;
  HubTestServer server(kRepo, kCommit, tiny_repo_files());
  server.fail_next = 2;
  const HubConfig config = test_config(server, dir / "hub");
  const HubSnapshot s = hub_download_model(config, *parse_hub_id(kRepo));
  EXPECT_EQ(s.commit, kCommit);
  const auto log = server.requests();
  ASSERT_GE(log.size(), 3u);
  EXPECT_EQ(log[0].status, 503);
  EXPECT_EQ(log[1].status, 503);
  EXPECT_EQ(log[2].status, 200);

  server.fail_next = 1000;
  expect_error(
      [&] { hub_download_model(test_config(server, dir / "other"), *parse_hub_id(kRepo)); },
      {"/resolve/main/config.json", "503"});
  server.fail_next = 0;
}

TEST(Hub, ResumesADroppedDownload) {
  TempDir dir;
  const auto files = tiny_repo_files();
  const std::string& weights = files.at("model.safetensors").content;
  HubTestServer server(kRepo, kCommit, files);
  server.drop_lfs_after = 100000;
  server.drop_lfs_count = 2;  // two drops in a row, each after 100 kB
  const HubSnapshot s = hub_download_model(test_config(server, dir / "hub"), *parse_hub_id(kRepo));
  EXPECT_EQ(read_bytes(s.weight_files[0]), weights);
  std::vector<std::string> ranges;
  for (const auto& r : server.requests()) {
    if (r.path.rfind("/lfs/", 0) == 0) ranges.push_back(r.range);
  }
  EXPECT_EQ(ranges, (std::vector<std::string>{"", "bytes=100000-", "bytes=200000-"}));
}

TEST(Hub, ResumesTheIncompleteFileOfAnEarlierRun) {
  TempDir dir;
  const auto files = tiny_repo_files();
  const std::string& weights = files.at("model.safetensors").content;
  HubTestServer server(kRepo, kCommit, files);
  const std::string blob = repo_dir(dir / "hub") + "/blobs/" + sha256_hex(weights);
  write_bytes(blob + ".incomplete", weights.substr(0, 5000));  // what huggingface_hub leaves too
  const HubSnapshot s = hub_download_model(test_config(server, dir / "hub"), *parse_hub_id(kRepo));
  EXPECT_EQ(read_bytes(blob), weights);
  EXPECT_FALSE(fs::exists(blob + ".incomplete"));
  int gets = 0;
  for (const auto& r : server.requests()) {
    if (r.path.rfind("/lfs/", 0) == 0) {
      ++gets;
      EXPECT_EQ(r.range, "bytes=5000-");
    }
  }
  EXPECT_EQ(gets, 1);
}

TEST(Hub, CorruptDownloadIsRejectedAndDiscarded) {
  TempDir dir;
  HubTestServer server(kRepo, kCommit, tiny_repo_files());
  server.corrupt_lfs = true;
  expect_error([&] { hub_download_model(test_config(server, dir / "hub"), *parse_hub_id(kRepo)); },
               {"model.safetensors", "corrupt", "sha256"});
  for (const auto& e : fs::recursive_directory_iterator(repo_dir(dir / "hub") + "/blobs")) {
    EXPECT_EQ(e.path().filename().string().size(), 40u) << "only config.json's blob may remain";
  }
}

TEST(Hub, OfflineWithAColdCacheSaysSo) {
  TempDir dir;
  HubConfig config;
  config.endpoint = "http://127.0.0.1:9";
  config.cache_dir = dir / "hub";
  config.offline = true;
  expect_error([&] { hub_download_model(config, *parse_hub_id(kRepo)); },
               {"offline", "HF_HUB_OFFLINE", "config.json", kRepo, "refs/main"});
  // Warm refs but the weights were never fetched.
  write_bytes(repo_dir(dir / "hub") + "/refs/main", kCommit);
  write_bytes(repo_dir(dir / "hub") + "/snapshots/" + kCommit + "/config.json", "{}");
  expect_error([&] { hub_download_model(config, *parse_hub_id(kRepo)); },
               {"offline", "no weights", "model.safetensors", kCommit});
}

TEST(Hub, UnreachableHubFallsBackToTheCache) {
  TempDir dir;
  std::string endpoint;
  HubConfig config;
  {
    HubTestServer server(kRepo, kCommit, tiny_repo_files());
    config = test_config(server, dir / "hub");
    hub_download_model(config, *parse_hub_id(kRepo));
  }  // the server is gone: connections are refused
  const HubSnapshot s = hub_download_model(config, *parse_hub_id(kRepo));
  EXPECT_EQ(s.commit, kCommit);
  HubConfig cold = config;
  cold.cache_dir = dir / "cold";
  try {
    hub_download_model(cold, *parse_hub_id(kRepo));
    ADD_FAILURE() << "expected a NetworkError";
  } catch (const NetworkError& e) {
    EXPECT_NE(std::string(e.what()).find("not in the cache"), std::string::npos) << e.what();
  }
}

TEST(Hub, UrlModels) {
  TempDir dir;
  auto clean = clean_hub_env();
  HubTestServer server(kRepo, kCommit, tiny_repo_files());
  server.static_files["models/tiny/config.json"] = read_bytes(fixture("models/tiny/config.json"));
  server.static_files["models/tiny/model.safetensors"] =
      read_bytes(fixture("models/tiny/model.safetensors"));
  ScopedEnv env({{"SEGQ_CACHE", (dir / "segq").c_str()},
                 {"HF_HOME", (dir / "hf").c_str()},
                 {"HF_ENDPOINT", server.endpoint().c_str()}});
  const std::string url = server.endpoint() + "/static/models/tiny/model.safetensors";
  const ModelFiles m = load_model_files(url);
  EXPECT_EQ(m.tensors.size(), load_model_files(fixture("models/tiny")).tensors.size());
  EXPECT_EQ(fs::path(m.directory).parent_path(), fs::path(dir / "segq/urls"));
  EXPECT_TRUE(m.preprocessor_config.is_null());
  // Revalidated by ETag: no second download.
  server.clear_log();
  load_model_files(url);
  EXPECT_EQ(server.count("GET", "/"), 0);
  {
    ScopedEnv off({{"HF_HUB_OFFLINE", "1"}});
    EXPECT_EQ(load_model_files(url).weights_sha256, m.weights_sha256);
    expect_error([&] { load_model_files(server.endpoint() + "/static/other/model.safetensors"); },
                 {"offline", "config.json", "not in the cache"});
  }
  expect_error([&] { load_model_files(server.endpoint() + "/static/nothing/model.safetensors"); },
               {"/static/nothing/config.json", "404"});
  // A Hub resolve URL goes through the Hub cache.
  const ModelFiles hub =
      load_model_files(server.endpoint() + "/" + kRepo + "/resolve/main/model.safetensors");
  EXPECT_EQ(hub.commit, kCommit);
  EXPECT_EQ(hub.directory, repo_dir(dir / "hf/hub") + "/snapshots/" + kCommit);
}

// `segq download` prints the snapshot directory; offline with a cold cache it fails clearly.
TEST(Hub, DownloadCommand) {
  TempDir dir;
  HubTestServer server(kRepo, kCommit, tiny_repo_files());
  auto run = [&](const std::string& env, const std::string& args, std::string* out) {
    const std::string cmd =
        "env -u HF_TOKEN -u HUGGING_FACE_HUB_TOKEN -u HF_TOKEN_PATH -u HF_HUB_CACHE "
        "-u HUGGINGFACE_HUB_CACHE -u HF_HUB_OFFLINE -u TRANSFORMERS_OFFLINE " +
        env + " " + SEGQ_EXE + " download " + args + " 2>" + (dir / "stderr");
    FILE* p = ::popen(cmd.c_str(), "r");
    std::array<char, 4096> buf;
    out->clear();
    while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out->append(buf.data(), n);
    const int status = ::pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  const std::string env = "HF_ENDPOINT=" + server.endpoint() + " HF_HOME=" + dir.path();
  std::string out;
  ASSERT_EQ(run(env, std::string("--model ") + kRepo, &out), 0) << read_bytes(dir / "stderr");
  EXPECT_EQ(out, repo_dir(dir / "hub") + "/snapshots/" + kCommit + "\n");
  EXPECT_EQ(
      run(env + " HF_HUB_OFFLINE=1", std::string("--model ") + kRepo + " --revision main", &out),
      0);
  EXPECT_EQ(run(env + " HF_HUB_OFFLINE=1", "--model other-org/cold", &out), 1);
  const std::string err = read_bytes(dir / "stderr");
  EXPECT_NE(err.find("HF_HUB_OFFLINE=1"), std::string::npos) << err;
  EXPECT_NE(err.find("config.json"), std::string::npos) << err;
  EXPECT_EQ(run(env, "--model not-a-model", &out), 2);
  EXPECT_EQ(run(env, std::string("--model ") + kRepo + "@v1 --revision v2", &out), 2);
}

}  // namespace
}  // namespace segq
