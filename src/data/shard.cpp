#include "data/shard.h"

#include <cerrno>
#include <cstdlib>
#include <limits>

#include "core/error.h"

namespace segq {

namespace {

// A whole decimal integer in [lo, hi]; what names the value in the error message.
long long parse_int(const std::string& text, long long lo, long long hi, const std::string& what) {
  if (text.empty()) throw UsageError(str_cat(what, ": empty value, expected an integer"));
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0') {
    throw UsageError(str_cat(what, ": '", text, "' is not an integer"));
  }
  if (v < lo || v > hi) {
    throw UsageError(str_cat(what, ": ", v, " is outside [", lo, ", ", hi, "]"));
  }
  return v;
}

constexpr long long kMaxShards = 1 << 20;

void check_num_shards(const ShardSpec& s, std::optional<int> num_shards) {
  if (num_shards && *num_shards != s.count) {
    throw UsageError(str_cat("--num-shards ", *num_shards, " disagrees with ", s.source, " (",
                             s.count, " shards)"));
  }
}

}  // namespace

ShardSpec parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) {
    throw UsageError(str_cat("--shard '", text, "': expected i/n, e.g. 3/8"));
  }
  ShardSpec s;
  s.count = static_cast<int>(parse_int(text.substr(slash + 1), 1, kMaxShards, "--shard count"));
  s.index = static_cast<int>(parse_int(text.substr(0, slash), 0, s.count - 1, "--shard index"));
  s.source = "--shard";
  return s;
}

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

ShardSpec resolve_shard(const std::optional<std::string>& shard_flag, std::optional<int> num_shards,
                        const EnvLookup& env) {
  if (num_shards && (*num_shards < 1 || *num_shards > kMaxShards)) {
    throw UsageError(str_cat("--num-shards ", *num_shards, " is outside [1, ", kMaxShards, "]"));
  }
  if (shard_flag) {
    ShardSpec s = parse_shard(*shard_flag);
    check_num_shards(s, num_shards);
    return s;
  }
  if (const auto task_id = env("SLURM_ARRAY_TASK_ID")) {
    const auto count = env("SLURM_ARRAY_TASK_COUNT");
    if (!count) {
      throw UsageError("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
    }
    if (const auto step = env("SLURM_ARRAY_TASK_STEP")) {
      if (parse_int(*step, 1, std::numeric_limits<int>::max(), "SLURM_ARRAY_TASK_STEP") != 1) {
        throw UsageError(str_cat("SLURM_ARRAY_TASK_STEP=", *step,
                                 ": segq needs a contiguous job array with step 1 (e.g. "
                                 "--array=0-7), or pass --shard i/n"));
      }
    }
    const long long n = parse_int(*count, 1, kMaxShards, "SLURM_ARRAY_TASK_COUNT");
    const long long min = env("SLURM_ARRAY_TASK_MIN")
                              ? parse_int(*env("SLURM_ARRAY_TASK_MIN"), 0,
                                          std::numeric_limits<int>::max(), "SLURM_ARRAY_TASK_MIN")
                              : 0;
    if (const auto max = env("SLURM_ARRAY_TASK_MAX")) {
      const long long mx =
          parse_int(*max, 0, std::numeric_limits<int>::max(), "SLURM_ARRAY_TASK_MAX");
      if (mx - min + 1 != n) {
        throw UsageError(str_cat("Slurm array ", min, "-", mx, " holds ", n,
                                 " tasks: segq needs a contiguous array (e.g. --array=0-", n - 1,
                                 "), or pass --shard i/n"));
      }
    }
    const long long id =
        parse_int(*task_id, 0, std::numeric_limits<int>::max(), "SLURM_ARRAY_TASK_ID");
    ShardSpec s;
    s.count = static_cast<int>(n);
    s.index = static_cast<int>(parse_int(std::to_string(id - min), 0, n - 1,
                                         "SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN"));
    s.source = "slurm";
    check_num_shards(s, num_shards);
    return s;
  }
  if (const auto index = env("JOB_COMPLETION_INDEX")) {
    if (!num_shards) {
      throw UsageError(
          "JOB_COMPLETION_INDEX is set (Kubernetes Indexed Job): pass --num-shards with the "
          "Job's completions");
    }
    ShardSpec s;
    s.count = *num_shards;
    s.index = static_cast<int>(parse_int(*index, 0, s.count - 1, "JOB_COMPLETION_INDEX"));
    s.source = "kubernetes";
    return s;
  }
  const auto rank = env("RANK");
  const auto world = env("WORLD_SIZE");
  if (rank && world) {
    ShardSpec s;
    s.count = static_cast<int>(parse_int(*world, 1, kMaxShards, "WORLD_SIZE"));
    s.index = static_cast<int>(parse_int(*rank, 0, s.count - 1, "RANK"));
    s.source = "rank";
    check_num_shards(s, num_shards);
    return s;
  }
  if (rank || world) {
    throw UsageError(
        str_cat(rank ? "RANK" : "WORLD_SIZE", " is set without ", rank ? "WORLD_SIZE" : "RANK"));
  }
  if (num_shards && *num_shards != 1) {
    throw UsageError(str_cat("--num-shards ", *num_shards,
                             " needs a shard index: --shard i/n, SLURM_ARRAY_TASK_ID, "
                             "JOB_COMPLETION_INDEX or RANK"));
  }
  return ShardSpec{};
}

std::vector<size_t> shard_indices(size_t num_samples, const ShardSpec& shard) {
  SEGQ_CHECK(shard.count >= 1 && shard.index >= 0 && shard.index < shard.count, "bad shard ",
             shard.index, "/", shard.count);
  std::vector<size_t> out;
  out.reserve(num_samples / shard.count + 1);
  for (size_t i = static_cast<size_t>(shard.index); i < num_samples;
       i += static_cast<size_t>(shard.count)) {
    out.push_back(i);
  }
  return out;
}

std::string shard_file_name(const ShardSpec& shard) {
  return str_cat("shard-", shard.index, "-of-", shard.count, ".json");
}

}  // namespace segq
