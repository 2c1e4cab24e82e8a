// Streaming batcher: worker threads decode and preprocess samples into a bounded queue; the
// consumer takes batches of up to batch_size samples whose inputs have the same size (protocols
// like mmseg give each image its own size). At most queue_capacity prepared samples wait in the
// queue and at most max_pending in partly filled batches, so memory does not grow with the
// dataset. Batches come in no particular order: consumers must not depend on it (evaluation sums
// integer counts).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "data/preprocess.h"

namespace segq {

struct BatcherOptions {
  int batch_size = 1;
  int num_workers = 2;     // decode + preprocess threads
  int queue_capacity = 0;  // prepared samples waiting for the consumer; 0: 2 * batch + workers
  int max_pending = 0;     // samples held in partly filled batches; 0: 4 * batch_size
  // A sample whose preparation throws a skippable error is recorded in bad_samples() and
  // skipped instead of ending the stream.
  bool skip_bad = false;
  // Which preparation errors skip_bad may skip. Default: any segq::Error except UsageError and
  // Interrupted (the data layer narrows it to its per-sample error type).
  std::function<bool(const Error&)> is_bad_sample;
};

struct BadSample {
  size_t index = 0;
  std::string id;
  std::string reason;
};

struct Batch {
  // Labels and metadata of each sample; their `pixels` are moved into `pixels` below.
  std::vector<PreparedSample> samples;
  Tensor pixels;  // [B, 3, H, W] fp32
};

// Prepares sample `index` (e.g. prepare_sample bound to a dataset and protocol). Called from the
// worker threads concurrently; must be thread-safe.
using PrepareFn = std::function<PreparedSample(size_t index)>;
// The id of sample `index`, for bad-sample records.
using SampleIdFn = std::function<std::string(size_t index)>;

class StreamingBatcher {
 public:
  // indices: the samples to stream (any order; each once).
  StreamingBatcher(std::vector<size_t> indices, PrepareFn prepare, SampleIdFn id_of,
                   BatcherOptions options);
  ~StreamingBatcher();  // stops the workers
  StreamingBatcher(const StreamingBatcher&) = delete;
  StreamingBatcher& operator=(const StreamingBatcher&) = delete;

  // The next batch, or nullopt when every sample was delivered or skipped. Rethrows the first
  // preparation error (after stopping the workers) unless skip_bad covers it.
  std::optional<Batch> next();
  // Samples skipped so far (skip_bad); moved out.
  std::vector<BadSample> take_bad_samples();
  // Stops the workers early (waits for the samples being prepared); next() then returns nullopt.
  // Safe to call more than once.
  void stop();

 private:
  struct Item {
    size_t index = 0;
    std::optional<PreparedSample> sample;  // empty on failure
    std::exception_ptr error;
    std::string reason;
    bool skippable = false;
  };
  void worker_loop();
  Batch make_batch(std::vector<PreparedSample> samples);
  std::optional<Batch> take_bucket(std::pair<int64_t, int64_t> key);

  std::vector<size_t> indices_;
  PrepareFn prepare_;
  SampleIdFn id_of_;
  BatcherOptions options_;

  std::atomic<size_t> next_ = 0;
  std::atomic<bool> stopping_ = false;
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Item> queue_;
  int workers_done_ = 0;
  std::vector<std::thread> workers_;

  // Consumer side only.
  std::map<std::pair<int64_t, int64_t>, std::vector<PreparedSample>> buckets_;  // by (H, W)
  size_t pending_ = 0;
  std::vector<BadSample> bad_;
};

}  // namespace segq
