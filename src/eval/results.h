// The versioned files of an evaluation run:
//   <out>/shards/shard-<i>-of-<n>.json  one process's counts (also its checkpoint while running)
//   <out>/results.json                  metrics of the whole run (an unsharded run, or a merge)
// Both hold counts, never averages of averages: merging sums integers, so a merged run equals an
// unsharded one bit for bit. Schemas: docs in results.cpp (kind "segq-shard" / "segq-results",
// schema_version 1).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/shard.h"
#include "eval/counts.h"
#include "eval/metrics.h"

namespace segq {

constexpr int kResultsSchemaVersion = 1;

struct SkippedSample {
  std::string id;
  std::string reason;
};

struct MethodTimings {
  double wall_s = 0;         // evaluating this method (decode waits included), summed over shards
  double weights_s = 0;      // making the method's weights and model
  double model_s = 0;        // Model::forward
  double postprocess_s = 0;  // upsample + argmax + counting (+ writing predictions)
  double data_wait_s = 0;    // waiting for the decode/preprocess workers
  // The fp32 reference for the comparisons (its forward when its logits were not cached, and
  // the comparison itself); part of wall_s but not of this method's speed.
  double reference_s = 0;
  uint64_t peak_rss_bytes = 0;  // max over the processes (VmHWM), 0 when unknown
};

// Stored size of the method's weights (quant/size_report.h); 0 when not measured.
struct MethodSize {
  int64_t bytes = 0;
  int64_t params = 0;
  int64_t quantized_params = 0;
  double bits_per_weight() const { return params > 0 ? 8.0 * bytes / params : 0; }
  double compression_vs_fp32() const { return bytes > 0 ? 4.0 * params / bytes : 0; }
};

struct MethodResult {
  std::string name;
  std::string spec;
  bool complete = false;  // every sample of the shard scored or skipped
  SegmentationCounts counts;
  std::vector<ImageCounts> per_image;  // sorted by id in files
  std::vector<SkippedSample> skipped;  // sorted by id in files
  MethodTimings timings;
  MethodSize size;
};

// One process's share of a run.
struct ShardState {
  ShardSpec shard;
  // Everything that must agree between the shards of one run and between a run and its resume
  // (model weights hash, dataset description + sample list hash, protocol and preprocessing,
  // label count, method specs, segq version). See make_fingerprint() in evaluator.h.
  nlohmann::json fingerprint;
  // Informational (paths, host, start time); not compared.
  nlohmann::json info;
  std::vector<MethodResult> methods;
  bool complete() const;
  // Samples in this shard: indices i < num_samples with i % count == index.
  uint64_t expected_samples() const;
};

// sha256 of the fingerprint's canonical JSON.
std::string fingerprint_sha256(const nlohmann::json& fingerprint);

nlohmann::json shard_to_json(const ShardState& shard);
// `what` names the file in errors.
ShardState shard_from_json(const nlohmann::json& j, const std::string& what);
ShardState read_shard_file(const std::string& path);
void write_shard_file(const std::string& path, const ShardState& shard);  // atomic

// Sums complete shards of one run. Throws segq::Error naming the files on: an incomplete shard,
// shards of different runs (the first differing fingerprint field is named), shard counts that
// disagree, duplicate shard indices, missing shards.
ShardState merge_shards(const std::vector<std::pair<std::string, ShardState>>& shards);

// One method's entry of results.json (see results.cpp): metrics, sizes, comparisons with
// `baseline` (null: none), per-class rows named by class_names[id] (missing names: the id).
nlohmann::json method_results_json(const MethodResult& m, const MethodResult* baseline,
                                   const nlohmann::json& class_names);

// results.json of a complete run (one shard of one, or a merge).
nlohmann::json results_json(const ShardState& merged);
void write_results_file(const std::string& path, const ShardState& merged);  // atomic

// A plain-text table of a results.json (method, images, mIoU, mAcc, aAcc, ms/image), for the CLI.
std::string results_summary(const nlohmann::json& results);

// JSON for a metric value: NaN -> null.
nlohmann::json json_number(double v);

}  // namespace segq
