// `segq inspect` and `segq bench` end to end (the built binary, SEGQ_EXE).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace {

const std::string kFixtures = std::string(SEGQ_SOURCE_DIR) + "/tests/fixtures/models/";

// Runs a command, returns (exit status, stdout).
std::pair<int, std::string> run(const std::string& args) {
  const std::string cmd = std::string(SEGQ_EXE) + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(CliInspect, B0NumbersAsJson) {
  const auto [rc, out] = run("inspect --model " + kFixtures + "b0 --json");
  ASSERT_EQ(rc, 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["parameters"].get<int64_t>(), 3752694);
  EXPECT_EQ(j["macs"].get<int64_t>(), 8387821568);
  EXPECT_EQ(j["macs_without_attention"].get<int64_t>(), 7347634176);
  EXPECT_EQ(j["logits"]["height"].get<int>(), 128);
  EXPECT_EQ(j["checkpoint_bytes_by_dtype"]["F16"].get<int64_t>(), 2 * (3752694 + 2 * 256));
  EXPECT_EQ(j["weight_bytes_by_format"]["f32"].get<int64_t>(), 4 * (3752694 + 2 * 256));
  EXPECT_EQ(j["modules"].size(), 19u);
}

TEST(CliInspect, TextAndSize) {
  const auto [rc, out] = run("inspect --model " + kFixtures + "b0");
  ASSERT_EQ(rc, 0);
  EXPECT_NE(out.find("parameters: 3,752,694"), std::string::npos) << out;
  EXPECT_NE(out.find("GMAC at 512x512: 8.39 (7.35 without attention matmuls)"), std::string::npos)
      << out;
  const auto odd = run("inspect --model " + kFixtures + "tiny --size 67x93");
  EXPECT_EQ(odd.first, 0);
  EXPECT_NE(odd.second.find("logits 17x24x11"), std::string::npos) << odd.second;
}

TEST(CliInspect, Errors) {
  EXPECT_EQ(run("inspect --model " + kFixtures + "b0 --size 12xq").first, 2);
  EXPECT_EQ(run("inspect --model /nonexistent/model").first, 2);
  EXPECT_NE(run("inspect").first, 0);
}

TEST(CliBench, ReportsMedianPerImage) {
  const auto [rc, out] =
      run("bench --model " + kFixtures + "tiny --size 64x64 --batch 2 --warmup 0 --repeats 2");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\nmedian_ms_per_image: "), std::string::npos) << out;
  EXPECT_NE(out.find("images_per_s: "), std::string::npos);
  EXPECT_NE(out.find("peak_rss_mb: "), std::string::npos);
  const auto js = run("bench --model " + kFixtures +
                      "tiny --size 40x56 --threads 1 --warmup 1 "
                      "--repeats 3 --json");
  ASSERT_EQ(js.first, 0) << js.second;
  const auto j = nlohmann::json::parse(js.second);
  EXPECT_GT(j["median_ms_per_image"].get<double>(), 0.0);
  EXPECT_EQ(j["ms_per_batch"].size(), 3u);
  EXPECT_EQ(j["threads"].get<int>(), 1);
  EXPECT_GT(j["peak_rss_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(run("bench --model " + kFixtures + "tiny --size 64x64 --batch 0").first, 2);
  const auto folded = run("bench --model " + kFixtures +
                          "tiny --size 64x64 --warmup 0 --repeats 1 "
                          "--fold-decode-head --json");
  ASSERT_EQ(folded.first, 0);
  EXPECT_TRUE(nlohmann::json::parse(folded.second)["fold_decode_head"].get<bool>());
}

}  // namespace
