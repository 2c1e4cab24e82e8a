#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>

namespace segq {

namespace {
thread_local bool t_inside_pool = false;

// How long an idle worker (or the caller waiting for the workers) polls before it sleeps.
constexpr double kSpinSeconds = 100e-6;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls `done()` for up to kSpinSeconds; true if it became true.
template <class Pred>
bool spin_until(Pred done) {
  if (done()) return true;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      cpu_relax();
      if (done()) return true;
    }
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >
        kSpinSeconds) {
      return false;
    }
  }
}
}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)) {
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_work_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunks(int thread_index) {
  const bool was_inside = t_inside_pool;
  t_inside_pool = true;
  for (;;) {
    const int64_t begin = next_.fetch_add(job_chunk_, std::memory_order_relaxed);
    if (begin >= job_n_) break;
    const int64_t end = std::min(job_n_, begin + job_chunk_);
    try {
      (*job_)(begin, end, thread_index);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu_);
      if (!first_error_) first_error_ = std::current_exception();
      next_.store(job_n_, std::memory_order_relaxed);  // stop handing out work
    }
  }
  t_inside_pool = was_inside;
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    spin_until([&] { return stop_.load() || generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_work_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
    }
    run_chunks(index);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (active_workers_.fetch_sub(1) == 1) cv_done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const RangeFn& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (num_threads_ == 1 || t_inside_pool || n <= grain) {
    fn(0, n, 0);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mu_);
  // Chunks: about 4 per thread for balance, never below the grain.
  const int64_t chunk = std::max(grain, (n + 4 * num_threads_ - 1) / (4 * num_threads_));
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_n_ = n;
    job_chunk_ = chunk;
    next_.store(0, std::memory_order_relaxed);
    first_error_ = nullptr;
    active_workers_.store(static_cast<int>(workers_.size()));
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_work_.notify_all();
  run_chunks(0);
  spin_until([&] { return active_workers_.load(std::memory_order_acquire) == 0; });
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_done_.wait(lock, [&] { return active_workers_.load() == 0; });
    job_ = nullptr;
  }
  if (first_error_) std::rethrow_exception(first_error_);
}

namespace {
std::unique_ptr<ThreadPool>& global_pool_slot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}
}  // namespace

int default_num_threads() {
  if (const char* env = std::getenv("SEGQ_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool& global_pool() {
  auto& slot = global_pool_slot();
  if (!slot) slot = std::make_unique<ThreadPool>(default_num_threads());
  return *slot;
}

void set_num_threads(int n) {
  auto& slot = global_pool_slot();
  if (n <= 0) n = default_num_threads();
  if (slot && slot->num_threads() == n) return;
  slot = std::make_unique<ThreadPool>(n);
}

}  // namespace segq
