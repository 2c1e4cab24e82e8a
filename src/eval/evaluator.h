// The evaluation loop: for each method, its weights and model, then every sample of this process's
// shard streamed through decode/preprocess workers, the model, the fused upsample + argmax and the
// pixel counts. Writes <out>/shards/shard-<i>-of-<n>.json (also as a periodic checkpoint) and, for
// an unsharded run, <out>/results.json. Interrupted or failed runs resume from the shard file:
// finished methods are kept, a method cut short continues with the samples it has not counted,
// and the counts come out identical (they are sums of per-image integers).
#pragma once

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/batcher.h"
#include "data/shard.h"
#include "eval/method.h"
#include "eval/results.h"
#include "io/image.h"

namespace segq {

// What identifies a run; every field must agree between shards and between a run and its resume.
struct FingerprintInputs {
  std::string model_sha256;  // hash of the model's weights and config (see the CLI's hook)
  nlohmann::json model = nlohmann::json::object();  // e.g. model_type, variant facts
  std::string dataset_description;  // Dataset::description(), e.g. "ade20k:validation"
  // One line per sample of the run (after --limit), in index order, e.g. "id\timage\tlabel".
  std::vector<std::string> sample_keys;
  std::string protocol;                                  // hf | seed | mmseg
  nlohmann::json preprocess = nlohmann::json::object();  // the resolved PreprocessConfig
  int num_labels = 0;
  std::vector<EvalMethod> methods;
};
nlohmann::json make_fingerprint(const FingerprintInputs& in);

struct EvalJob {
  nlohmann::json fingerprint;                      // make_fingerprint()
  nlohmann::json info = nlohmann::json::object();  // informational: paths, host, command
  int num_labels = 0;
  std::vector<EvalMethod> methods;  // fp32 first
  const WeightSet* fp32_weights = nullptr;
  ModelFactory make_model;
  std::vector<std::string> sample_ids;  // index -> id, sorted (the run's samples)
  PrepareFn prepare;                    // index -> PreparedSample, thread-safe
  // index -> the RGB image as decoded, for the sample previews (optional).
  std::function<ImageU8(size_t index)> load_rgb;
};

struct EvalOptions {
  std::string out_dir;
  ShardSpec shard;
  bool resume = false;
  int batch_size = 1;
  int data_workers = 2;
  bool skip_bad = false;
  std::function<bool(const Error&)> is_bad_sample;  // see BatcherOptions; null: the default
  std::string save_preds_dir;                       // writes <dir>/<method>/<id>.png when set
  double checkpoint_interval_s = 30;                // rewrite the shard file at most this often...
  int checkpoint_every_images = 0;                  // ...or after this many images (0: time only)
  const std::atomic<bool>* interrupt = nullptr;     // set by a signal handler: stop and checkpoint
  // Sample previews: for the first num_preview_samples samples of the run (by id) that this
  // shard evaluates, <samples_dir>/<id>/image.png (RGB input, needs job.load_rgb), label.png and
  // <method>.png (colour maps, eval/palette.h). Empty: none.
  std::string samples_dir;
  int num_preview_samples = 4;
  // The fp32 baseline's logits are kept per image up to this many bytes, for comparing the other
  // methods with it; images beyond that get the fp32 forward again during those methods.
  size_t reference_cache_bytes = size_t{256} << 20;
};

// Receives progress (for progress bars and trackers); default: nothing.
class EvalObserver {
 public:
  virtual ~EvalObserver() = default;
  virtual void method_started(const EvalMethod& /*method*/, uint64_t /*samples_in_shard*/,
                              uint64_t /*samples_done*/) {}
  virtual void progress(const MethodResult& /*partial*/, uint64_t /*samples_in_shard*/) {}
  virtual void method_finished(const MethodResult& /*result*/) {}
  // A method an earlier process finished (found complete on --resume); not evaluated again.
  virtual void method_restored(const MethodResult& /*result*/) {}
};

// "int4-g64" -> itself; characters outside [A-Za-z0-9._-] become '_' (file names of previews).
std::string method_file_stem(const std::string& method);
// The ids whose previews a run writes: the first `count` of sample_ids (sorted by id).
std::vector<std::string> preview_sample_ids(const std::vector<std::string>& sample_ids, int count);

std::string shard_file_path(const std::string& out_dir, const ShardSpec& shard);

// Runs (or, with options.resume, continues) this process's shard. Throws UsageError when out_dir
// already holds a run and resume is off, or when the run there has another fingerprint; throws
// Interrupted after checkpointing when *options.interrupt becomes true; on any other error the
// progress so far is checkpointed before the exception leaves.
ShardState run_evaluation(const EvalJob& job, const EvalOptions& options,
                          EvalObserver* observer = nullptr);

// SIGINT / SIGTERM set the flag (a second signal kills as usual).
const std::atomic<bool>& interrupt_flag();
void install_interrupt_handlers();

}  // namespace segq
