// Shard selection: which slice of a sorted dataset one process evaluates. Shard i of n takes the
// samples whose index (after sorting by id) is i modulo n. The slice comes from --shard i/n, or
// from the environment of the scheduler that launched the process:
//   Slurm job arrays      SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT
//                         (a contiguous array with step 1: --array=0-7 or 1-8, not 0-14:2)
//   Kubernetes Indexed Job  JOB_COMPLETION_INDEX, with --num-shards n
//   torchrun / MPI-style  RANK of WORLD_SIZE
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace segq {

struct ShardSpec {
  int index = 0;
  int count = 1;
  std::string source = "default";  // "--shard", "slurm", "kubernetes", "rank", "default"
  bool operator==(const ShardSpec& o) const { return index == o.index && count == o.count; }
};

// "i/n" with 0 <= i < n. Throws UsageError otherwise.
ShardSpec parse_shard(const std::string& text);

// Looks up an environment variable; nullopt when unset or empty.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
std::optional<std::string> process_env(const std::string& name);

// The shard of this process: --shard (shard_flag) first, then the scheduler variables above.
// num_shards is --num-shards (needed with JOB_COMPLETION_INDEX; must agree with any other source).
// Throws UsageError on inconsistent or malformed values, naming the variable.
ShardSpec resolve_shard(const std::optional<std::string>& shard_flag, std::optional<int> num_shards,
                        const EnvLookup& env = process_env);

// Indices i in [0, num_samples) with i % count == index, ascending.
std::vector<size_t> shard_indices(size_t num_samples, const ShardSpec& shard);

// "shard-<i>-of-<n>.json"
std::string shard_file_name(const ShardSpec& shard);

}  // namespace segq
