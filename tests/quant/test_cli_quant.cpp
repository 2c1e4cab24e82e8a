// `segq methods` and `segq quantize` end to end through the binary: exit codes, messages, and a
// written checkpoint that loads back bit-identical to quantizing in memory.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "io/file_util.h"
#include "io/safetensors.h"
#include "quant/size_report.h"
#include "quant_test_util.h"

namespace segq {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int code = -1;
  std::string out;
};

CliRun run(const std::string& args) {
  const std::string cmd = std::string(SEGQ_EXE) + " " + args + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

fs::path scratch(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("segq_test_cli_quant_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  return d;
}

const std::string kTiny = test::fixture_path("models/tiny");

TEST(CliQuant, Methods) {
  const CliRun r = run("methods");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("int4-g32-hqq-s16"), std::string::npos);
  EXPECT_NE(r.out.find("g<N>"), std::string::npos);
  const CliRun j = run("methods --json");
  EXPECT_EQ(j.code, 0);
  const nlohmann::json catalog = nlohmann::json::parse(j.out);
  ASSERT_TRUE(catalog.is_array());
  EXPECT_GT(catalog.size(), 10u);
}

TEST(CliQuant, QuantizeWritesACheckpointThatLoadsBackIdentically) {
  const fs::path out = scratch("int2-g16-mse-sym");
  const CliRun r = run("quantize --model " + kTiny + " --method int2-sym-mse-g16 --out " +
                       out.string() + " --exclude '*.classifier.weight'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("int2-g16-mse-sym+custom"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(out / "config.json"));
  EXPECT_EQ(read_file((out / "config.json").string()), read_file(kTiny + "/config.json"));

  const ModelFiles files = load_model_files(out.string());
  const CheckpointWeights loaded = weights_from_checkpoint(files.tensors, files.metadata, out);
  EXPECT_TRUE(loaded.quantized);
  EXPECT_EQ(loaded.method, "int2-g16-mse-sym+custom");

  PlanOptions o;
  o.method = parse_method("int2-g16-mse-sym");
  o.exclude = {"*.classifier.weight"};
  const WeightSet dense = test::fixture_weights("tiny");
  const QuantizedModel mem = quantize_model(dense, o);
  ASSERT_EQ(mem.weights.size(), loaded.weights.size());
  int quantized = 0;
  for (const auto& [name, w] : mem.weights) {
    const Weight& b = loaded.weights.at(name);
    ASSERT_EQ(b.is_quantized(), w.is_quantized()) << name;
    if (!w.is_quantized()) continue;
    ++quantized;
    const QTensor &x = w.qtensor(), &y = b.qtensor();
    EXPECT_EQ(0, std::memcmp(x.codes.raw(), y.codes.raw(), x.codes.nbytes())) << name;
    EXPECT_EQ(0, std::memcmp(x.scales.raw(), y.scales.raw(), x.scales.nbytes())) << name;
  }
  EXPECT_EQ(quantized, 71);
  EXPECT_FALSE(loaded.weights.at("decode_head.classifier.weight").is_quantized());

  // Quantizing a quantized checkpoint again is a usage error.
  const CliRun again =
      run("quantize --model " + out.string() + " --method int4 --out " + scratch("again").string());
  EXPECT_EQ(again.code, 2) << again.out;
  EXPECT_NE(again.out.find("already quantized (int2-g16-mse-sym+custom)"), std::string::npos)
      << again.out;
  fs::remove_all(out.parent_path());
}

TEST(CliQuant, JsonReportAndPlanFile) {
  const fs::path dir = scratch("plan");
  fs::create_directories(dir);
  write_file_atomic((dir / "plan.json").string(), R"({"*.dwconv.weight": "fp32", "*": "int8"})");
  const CliRun r = run("quantize --model " + kTiny + " --method int4 --plan " +
                       (dir / "plan.json").string() + " --out " + (dir / "q").string() + " --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["totals"]["quantized_tensors"], 64);
  EXPECT_EQ(j["file_bytes"].get<uint64_t>(), fs::file_size(dir / "q" / "model.safetensors"));
  fs::remove_all(dir.parent_path());
}

TEST(CliQuant, UsageErrors) {
  const std::string out = " --out " + scratch("bad").string();
  CliRun r = run("quantize --model " + kTiny + " --method int4-g33" + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("33"), std::string::npos) << r.out;
  r = run("quantize --model " + kTiny + " --method fp32" + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("nothing to quantize"), std::string::npos) << r.out;
  r = run("quantize --model " + kTiny + " --method int4 --plan /nonexistent/plan.json" + out);
  EXPECT_EQ(r.code, 2);
  r = run("quantize --model /nonexistent/model --method int4" + out);
  EXPECT_EQ(r.code, 2) << r.out;
  r = run("quantize --model " + kTiny + " --out x");
  EXPECT_EQ(r.code, 2) << "--method is required";
}

// A quantized checkpoint inspects as stored: method from its quantization map, the bytes the file
// holds (file size = reported bytes + safetensors header), distortion only against --baseline,
// and no second quantization.
TEST(CliQuant, InspectQuantizedCheckpoint) {
  const fs::path out = scratch("inspect_int4");
  ASSERT_EQ(run("quantize --model " + kTiny + " --method int4-g32 --out " + out.string()).code, 0);
  CliRun r = run("inspect --model " + out.string() + " --json");
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  const nlohmann::json& q = j.at("quantization");
  EXPECT_EQ(q.at("method"), "int4-g32");
  EXPECT_TRUE(q.at("stored_quantized").get<bool>());
  EXPECT_EQ(q.at("totals").at("quantized_tensors"), 72);
  const SafetensorsFile f = read_safetensors((out / "model.safetensors").string());
  EXPECT_EQ(fs::file_size(out / "model.safetensors"),
            f.header_bytes + q.at("totals").at("bytes").get<uint64_t>());
  PlanOptions o;
  o.method = parse_method("int4-g32");
  const WeightSet mem = quantize_model(test::fixture_weights("tiny"), o).weights;
  EXPECT_EQ(q.at("totals").at("bytes").get<int64_t>(),
            make_size_report(mem, "int4-g32").total_bytes);
  for (const auto& t : q.at("tensors")) EXPECT_FALSE(t.contains("sqnr_db")) << t.at("name");

  r = run("inspect --model " + out.string() + " --baseline " + kTiny + " --json");
  ASSERT_EQ(r.code, 0) << r.out;
  j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  int with_sqnr = 0;
  for (const auto& t : j.at("quantization").at("tensors")) with_sqnr += t.contains("sqnr_db");
  EXPECT_EQ(with_sqnr, 72);

  r = run("inspect --model " + out.string() + " --method int8");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("already quantized (int4-g32)"), std::string::npos) << r.out;
  r = run("inspect --model " + kTiny + " --baseline " + kTiny);
  EXPECT_EQ(r.code, 2) << "--baseline needs a quantized checkpoint";
  fs::remove_all(out.parent_path());
}

// segq bench runs a quantized checkpoint as stored (its method from the quantization map) and
// refuses to quantize it again.
TEST(CliQuant, BenchRunsAQuantizedCheckpointAsStored) {
  const fs::path out = scratch("bench_int4");
  ASSERT_EQ(run("quantize --model " + kTiny + " --method int4 --out " + out.string()).code, 0);
  CliRun r = run("bench --model " + out.string() + " --size 64x64 --warmup 0 --repeats 1 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(j.at("method"), "int4");
  EXPECT_GT(j.at("median_ms_per_image").get<double>(), 0.0);
  r = run("bench --model " + out.string() + " --size 64x64 --method int8");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--method does not apply"), std::string::npos) << r.out;
  fs::remove_all(out.parent_path());
}

}  // namespace
}  // namespace segq
