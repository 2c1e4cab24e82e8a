// W&B settings from the flag and the environment; run ids; the sync command line.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/file_util.h"
#include "track/wandb_settings.h"
#include "track_test_util.h"

namespace segq::track {
namespace {

namespace fs = std::filesystem;
using segq::testing::items_json;
using segq::testing::read_wandb_records;
using segq::testing::record_kinds;
using segq::testing::TempDir;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(WandbSettings, ModeFromFlagAndEnvironment) {
  EXPECT_EQ(resolve_wandb_settings(std::nullopt, env_of({})).mode, WandbMode::kDisabled);
  EXPECT_EQ(resolve_wandb_settings("", env_of({})).mode, WandbMode::kOffline);
  EXPECT_EQ(resolve_wandb_settings("", env_of({{"WANDB_MODE", "online"}})).mode,
            WandbMode::kOnline);
  EXPECT_EQ(resolve_wandb_settings(std::nullopt, env_of({{"WANDB_MODE", "offline"}})).mode,
            WandbMode::kOffline);
  EXPECT_EQ(resolve_wandb_settings("offline", env_of({{"WANDB_MODE", "online"}})).mode,
            WandbMode::kOffline);
  EXPECT_EQ(resolve_wandb_settings("", env_of({{"WANDB_MODE", "disabled"}})).mode,
            WandbMode::kDisabled);
  EXPECT_EQ(resolve_wandb_settings(std::nullopt,
                                   env_of({{"WANDB_MODE", "online"}, {"WANDB_DISABLED", "true"}}))
                .mode,
            WandbMode::kDisabled);
  EXPECT_THROW(resolve_wandb_settings("sometimes", env_of({})), UsageError);
  EXPECT_THROW(resolve_wandb_settings("", env_of({{"WANDB_RUN_ID", "a/b"}})), UsageError);
}

TEST(WandbSettings, EnvironmentVariables) {
  const WandbSettings s =
      resolve_wandb_settings("", env_of({{"WANDB_DIR", "/tmp/x"},
                                         {"WANDB_PROJECT", "p"},
                                         {"WANDB_ENTITY", "e"},
                                         {"WANDB_RUN_GROUP", "g"},
                                         {"WANDB_TAGS", "a, b,,c "},
                                         {"WANDB_NOTES", "n"},
                                         {"WANDB_NAME", "pre"},
                                         {"WANDB_RUN_ID", "myrun"},
                                         {"WANDB_BASE_URL", "http://h"},
                                         {"WANDB_API_KEY", "must-not-be-read"}}));
  EXPECT_EQ(s.wandb_dir(), "/tmp/x/wandb");
  EXPECT_EQ(s.project, "p");
  EXPECT_EQ(s.entity, "e");
  EXPECT_EQ(s.group, "g");
  EXPECT_EQ(s.tags, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(s.notes, "n");
  EXPECT_EQ(s.name_prefix, "pre");
  EXPECT_EQ(s.run_id, "myrun");
  EXPECT_EQ(resolve_wandb_settings("", env_of({})).project, "segq");
}

TEST(WandbSettings, SettingsNeverAskForTheApiKey) {
  std::vector<std::string> asked;
  const EnvLookup spy = [&](const std::string& name) -> std::optional<std::string> {
    asked.push_back(name);
    return std::nullopt;
  };
  resolve_wandb_settings("", spy);
  for (const std::string& name : asked) {
    EXPECT_EQ(name.find("API_KEY"), std::string::npos) << name;
    EXPECT_EQ(name.find("NETRC"), std::string::npos) << name;
  }
}

TEST(WandbSettings, RunIdsAreStableDistinctAndWellFormed) {
  const std::string a = wandb_run_id_for("eval-1", "fp32");
  EXPECT_EQ(a, wandb_run_id_for("eval-1", "fp32"));
  EXPECT_NE(a, wandb_run_id_for("eval-1", "int8"));
  EXPECT_NE(a, wandb_run_id_for("eval-2", "fp32"));
  ASSERT_EQ(a.size(), 8u);
  for (char c : a) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) << a;
}

TEST(WandbSettings, SyncCommandLineIsShellSafe) {
  EXPECT_EQ(shell_command_line(wandb_sync_command({"./wandb/offline-run-1", "a b", "it's"})),
            "wandb sync ./wandb/offline-run-1 'a b' 'it'\\''s'");
}

}  // namespace
}  // namespace segq::track
