#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "io/file_util.h"
#include "io/model_files.h"
#include "io/safetensors.h"
#include "io_test_util.h"

namespace segq {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::fixture;
using testing::TempDir;
using testing::write_bytes;

void copy_file(const std::string& from, const std::string& to) {
  fs::create_directories(fs::path(to).parent_path());
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

// tiny's tensors split over two safetensors shards plus an index, in `dir`.
void write_sharded(const std::string& dir) {
  const SafetensorsFile f = read_safetensors(fixture("models/tiny/model.safetensors"));
  std::vector<std::pair<std::string, Tensor>> a, b;
  nlohmann::json map = nlohmann::json::object();
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    const bool first = i % 2 == 0;
    (first ? a : b).push_back(f.tensors[i]);
    map[f.tensors[i].first] =
        first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  write_safetensors(dir + "/model-00001-of-00002.safetensors", a, {{"format", "pt"}});
  write_safetensors(dir + "/model-00002-of-00002.safetensors", b, {{"format", "pt"}});
  write_bytes(dir + "/model.safetensors.index.json",
              nlohmann::json{{"metadata", {{"total_size", 1}}}, {"weight_map", map}}.dump());
  copy_file(fixture("models/tiny/config.json"), dir + "/config.json");
}

void expect_same_tensors(const ModelFiles& a, const ModelFiles& b, bool bitwise) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].first, b.tensors[i].first);
    const Tensor x = bitwise || a.tensors[i].second.dtype() == DType::I64
                         ? a.tensors[i].second
                         : a.tensors[i].second.to_f32();
    const Tensor y = bitwise || b.tensors[i].second.dtype() == DType::I64
                         ? b.tensors[i].second
                         : b.tensors[i].second.to_f32();
    ASSERT_EQ(x.shape(), y.shape()) << a.tensors[i].first;
    ASSERT_EQ(x.dtype(), y.dtype()) << a.tensors[i].first;
    EXPECT_EQ(std::memcmp(x.raw(), y.raw(), x.nbytes()), 0) << a.tensors[i].first;
  }
}

TEST(ModelFiles, LoadsASafetensorsDirectory) {
  const std::string dir = fixture("models/tiny");
  const ModelFiles m = load_model_files(dir);
  EXPECT_EQ(m.directory, dir);
  EXPECT_EQ(m.format, "safetensors");
  EXPECT_TRUE(m.config.is_object());
  EXPECT_EQ(m.config["model_type"], "segformer");
  EXPECT_TRUE(m.preprocessor_config.is_null());
  ASSERT_EQ(m.weight_files.size(), 1u);
  EXPECT_TRUE(std::is_sorted(m.tensors.begin(), m.tensors.end(),
                             [](const auto& x, const auto& y) { return x.first < y.first; }));
  EXPECT_EQ(m.weights_sha256, sha256_file_hex(dir + "/model.safetensors"));
  EXPECT_EQ(m.weight_file_sha256, std::vector<std::string>{m.weights_sha256});
  EXPECT_TRUE(m.commit.empty());
}

TEST(ModelFiles, PytorchBinDirectoryGivesTheSameValues) {
  const ModelFiles st = load_model_files(fixture("models/tiny"));
  const ModelFiles bin = load_model_files(fixture("models/tiny-bin"));
  EXPECT_EQ(bin.format, "pytorch_bin");
  expect_same_tensors(st, bin, /*bitwise=*/false);
  EXPECT_NE(bin.weights_sha256, st.weights_sha256);
}

TEST(ModelFiles, PrefersSafetensorsAndReadsPreprocessorConfig) {
  TempDir dir;
  copy_file(fixture("models/tiny/config.json"), dir / "config.json");
  copy_file(fixture("models/tiny/model.safetensors"), dir / "model.safetensors");
  copy_file(fixture("models/tiny-bin/pytorch_model.bin"), dir / "pytorch_model.bin");
  write_bytes(dir / "preprocessor_config.json", R"({"do_resize": true, "size": {"height": 512}})");
  const ModelFiles m = load_model_files(dir.path());
  EXPECT_EQ(m.format, "safetensors");
  EXPECT_EQ(m.preprocessor_config["size"]["height"], 512);
  // A weights file inside a model directory is a valid spec too.
  const ModelFiles bin = load_model_files(dir / "pytorch_model.bin");
  EXPECT_EQ(bin.format, "pytorch_bin");
  EXPECT_EQ(bin.config, m.config);
}

TEST(ModelFiles, ShardedSafetensorsEqualTheSingleFile) {
  TempDir dir;
  write_sharded(dir.path());
  const ModelFiles sharded = load_model_files(dir.path());
  const ModelFiles single = load_model_files(fixture("models/tiny"));
  expect_same_tensors(sharded, single, /*bitwise=*/true);
  ASSERT_EQ(sharded.weight_files.size(), 2u);
  EXPECT_EQ(sharded.metadata.at("format"), "pt");
  const std::string lines = "model-00001-of-00002.safetensors " + sharded.weight_file_sha256[0] +
                            "\nmodel-00002-of-00002.safetensors " + sharded.weight_file_sha256[1] +
                            "\n";
  EXPECT_EQ(sharded.weights_sha256, sha256_hex(lines));
  EXPECT_EQ(load_model_files(dir.path()).weights_sha256, sharded.weights_sha256);  // stable
}

TEST(ModelFiles, ShardedPytorchBin) {
  TempDir dir;
  copy_file(fixture("models/tiny-bin/config.json"), dir / "config.json");
  copy_file(fixture("models/tiny-bin/pytorch_model.bin"), dir / "pytorch_model-00001.bin");
  const ModelFiles whole = load_model_files(fixture("models/tiny-bin"));
  nlohmann::json map;
  for (const auto& [name, t] : whole.tensors) map[name] = "pytorch_model-00001.bin";
  write_bytes(dir / "pytorch_model.bin.index.json", nlohmann::json{{"weight_map", map}}.dump());
  const ModelFiles m = load_model_files(dir.path());
  EXPECT_EQ(m.format, "pytorch_bin");
  expect_same_tensors(m, whole, /*bitwise=*/true);
}

TEST(ModelFiles, BadIndexesAreNamed) {
  TempDir dir;
  write_sharded(dir.path());
  const std::string index = dir / "model.safetensors.index.json";
  const std::string good = testing::read_bytes(index);
  auto with_map = [&](const nlohmann::json& extra) {
    nlohmann::json j = nlohmann::json::parse(good);
    for (auto it = extra.begin(); it != extra.end(); ++it) j["weight_map"][it.key()] = it.value();
    write_bytes(index, j.dump());
  };
  with_map({{"evil", "../../etc/passwd"}});
  expect_error([&] { load_model_files(dir.path()); },
               {index, "'../../etc/passwd'", "not a file inside"});
  with_map({{"ghost.weight", "model-00001-of-00002.safetensors"}});
  expect_error([&] { load_model_files(dir.path()); },
               {index, "'ghost.weight'", "does not contain it"});
  with_map({{"x", "model-00003-of-00003.safetensors"}});
  expect_error([&] { load_model_files(dir.path()); },
               {index, "model-00003-of-00003.safetensors", "missing"});
  write_bytes(index, R"({"metadata": {}})");
  expect_error([&] { load_model_files(dir.path()); }, {index, "weight_map"});
  write_bytes(index, "{not json");
  expect_error([&] { load_model_files(dir.path()); }, {index, "malformed JSON"});
  // The same tensor in two shards.
  write_bytes(index, good);
  const SafetensorsFile a = read_safetensors(dir / "model-00001-of-00002.safetensors");
  const SafetensorsFile b = read_safetensors(dir / "model-00002-of-00002.safetensors");
  std::vector<std::pair<std::string, Tensor>> b2 = b.tensors;
  b2.push_back(a.tensors[0]);
  write_safetensors(dir / "model-00002-of-00002.safetensors", b2);
  expect_error([&] { load_model_files(dir.path()); },
               {"'" + a.tensors[0].first + "'", "appears in both"});
}

TEST(ModelFiles, ConfigAndWeightProblemsAreNamed) {
  TempDir dir;
  copy_file(fixture("models/tiny/model.safetensors"), dir / "model.safetensors");
  expect_error([&] { load_model_files(dir.path()); }, {dir / "config.json", "missing"});
  write_bytes(dir / "config.json", R"({"model_type": "segformer", )");
  expect_error([&] { load_model_files(dir.path()); }, {dir / "config.json", "malformed JSON"});
  write_bytes(dir / "config.json", "[1, 2]");
  expect_error([&] { load_model_files(dir.path()); },
               {dir / "config.json", "expected a JSON object"});
  copy_file(fixture("models/tiny/config.json"), dir / "config.json");
  write_bytes(dir / "preprocessor_config.json", "{");
  expect_error([&] { load_model_files(dir.path()); },
               {dir / "preprocessor_config.json", "malformed"});
  fs::remove(dir / "preprocessor_config.json");
  fs::remove(dir / "model.safetensors");
  expect_error([&] { load_model_files(dir.path()); },
               {dir.path(), "no weights found", "pytorch_model.bin"});
  // A damaged weights file surfaces the format's own error.
  const std::string bytes = testing::read_bytes(fixture("models/tiny/model.safetensors"));
  write_bytes(dir / "model.safetensors", bytes.substr(0, 100));
  expect_error([&] { load_model_files(dir.path()); }, {dir / "model.safetensors", "truncated"});
}

TEST(ModelFiles, UnknownSpecIsAUsageError) {
  EXPECT_THROW(load_model_files("definitely not a model"), UsageError);
  EXPECT_THROW(load_model_files("/no/such/dir/anywhere"), UsageError);
}

TEST(ModelFiles, HubBlobNamesStandInForTheirDigest) {
  TempDir dir;
  const std::string content = "pretend weights";
  const std::string digest = sha256_hex(content);
  write_bytes(dir / ("blobs/" + digest), content);
  fs::create_directories(dir / "snapshots/abc");
  fs::create_symlink("../../blobs/" + digest, dir / "snapshots/abc/model.safetensors");
  EXPECT_EQ(weight_file_sha256(dir / "snapshots/abc/model.safetensors"), digest);
  // Elsewhere the file is hashed (and the result memoized until the file changes).
  write_bytes(dir / "plain.bin", content);
  EXPECT_EQ(weight_file_sha256(dir / "plain.bin"), digest);
  ::usleep(20000);
  write_bytes(dir / "plain.bin", content + "!");
  EXPECT_EQ(weight_file_sha256(dir / "plain.bin"), sha256_hex(content + "!"));
}

}  // namespace
}  // namespace segq
