#include "data/batcher.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace segq {

StreamingBatcher::StreamingBatcher(std::vector<size_t> indices, PrepareFn prepare, SampleIdFn id_of,
                                   BatcherOptions options)
    : indices_(std::move(indices)),
      prepare_(std::move(prepare)),
      id_of_(std::move(id_of)),
      options_(options) {
  if (options_.batch_size < 1)
    throw UsageError(str_cat("batch size ", options_.batch_size, " < 1"));
  if (options_.num_workers < 1) options_.num_workers = 1;
  if (options_.queue_capacity <= 0) {
    options_.queue_capacity = 2 * options_.batch_size + options_.num_workers;
  }
  if (options_.max_pending <= 0) options_.max_pending = 4 * options_.batch_size;
  options_.max_pending = std::max(options_.max_pending, options_.batch_size);
  const int workers = static_cast<int>(
      std::min<size_t>(options_.num_workers, std::max<size_t>(1, indices_.size())));
  options_.num_workers = workers;
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

StreamingBatcher::~StreamingBatcher() { stop(); }

void StreamingBatcher::stop() {
  stopping_.store(true);
  { std::lock_guard<std::mutex> lock(mu_); }
  not_full_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void StreamingBatcher::worker_loop() {
  for (;;) {
    if (stopping_.load()) break;
    const size_t k = next_.fetch_add(1);
    if (k >= indices_.size()) break;
    Item item;
    item.index = indices_[k];
    try {
      item.sample = prepare_(item.index);
    } catch (const Error& e) {
      item.error = std::current_exception();
      item.reason = e.what();
      item.skippable = options_.is_bad_sample ? options_.is_bad_sample(e)
                                              : dynamic_cast<const UsageError*>(&e) == nullptr &&
                                                    dynamic_cast<const Interrupted*>(&e) == nullptr;
    } catch (...) {
      item.error = std::current_exception();
    }
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] {
      return stopping_.load() || static_cast<int>(queue_.size()) < options_.queue_capacity;
    });
    if (stopping_.load()) break;  // unique_lock releases mu_
    queue_.push_back(std::move(item));
    not_empty_.notify_one();
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++workers_done_;
  not_empty_.notify_one();
}

Batch StreamingBatcher::make_batch(std::vector<PreparedSample> samples) {
  Batch b;
  const Shape& one = samples.front().pixels.shape();  // [3, H, W]
  Shape shape = {static_cast<int64_t>(samples.size())};
  shape.insert(shape.end(), one.begin(), one.end());
  b.pixels = Tensor::empty(DType::F32, shape);
  const size_t bytes = samples.front().pixels.nbytes();
  char* dst = static_cast<char*>(b.pixels.raw());
  for (size_t i = 0; i < samples.size(); ++i) {
    std::memcpy(dst + i * bytes, samples[i].pixels.raw(), bytes);
    samples[i].pixels = Tensor();  // free the per-sample copy now
  }
  b.samples = std::move(samples);
  return b;
}

std::optional<Batch> StreamingBatcher::take_bucket(std::pair<int64_t, int64_t> key) {
  auto it = buckets_.find(key);
  if (it == buckets_.end() || it->second.empty()) return std::nullopt;
  std::vector<PreparedSample> samples = std::move(it->second);
  buckets_.erase(it);
  pending_ -= samples.size();
  return make_batch(std::move(samples));
}

std::optional<Batch> StreamingBatcher::next() {
  if (stopping_.load()) return std::nullopt;
  for (;;) {
    Item item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      not_empty_.wait(lock, [&] {
        return !queue_.empty() || workers_done_ == options_.num_workers || stopping_.load();
      });
      if (queue_.empty()) {
        lock.unlock();
        if (stopping_.load()) return std::nullopt;
        // Every worker finished: flush the partly filled batches, largest first.
        if (buckets_.empty()) return std::nullopt;
        auto largest = std::max_element(
            buckets_.begin(), buckets_.end(),
            [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); });
        return take_bucket(largest->first);
      }
      item = std::move(queue_.front());
      queue_.pop_front();
      not_full_.notify_one();
    }
    if (item.error) {
      if (item.skippable && options_.skip_bad) {
        bad_.push_back(
            {item.index, id_of_ ? id_of_(item.index) : std::to_string(item.index), item.reason});
        continue;
      }
      stop();
      std::rethrow_exception(item.error);
    }
    PreparedSample& s = *item.sample;
    SEGQ_CHECK(s.pixels.ndim() == 3 && s.pixels.dim(0) == 3, "sample ", s.id,
               ": prepared pixels must be [3, H, W], got ", shape_str(s.pixels.shape()));
    const std::pair<int64_t, int64_t> key{s.pixels.dim(1), s.pixels.dim(2)};
    auto& bucket = buckets_[key];
    bucket.push_back(std::move(s));
    ++pending_;
    if (static_cast<int>(bucket.size()) >= options_.batch_size) return take_bucket(key);
    if (static_cast<int>(pending_) > options_.max_pending) {
      // Too many sizes waiting for company: send the fullest bucket as a partial batch.
      auto largest = std::max_element(
          buckets_.begin(), buckets_.end(),
          [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); });
      return take_bucket(largest->first);
    }
  }
}

std::vector<BadSample> StreamingBatcher::take_bad_samples() {
  std::vector<BadSample> out = std::move(bad_);
  bad_.clear();
  return out;
}

}  // namespace segq
