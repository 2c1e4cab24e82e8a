// A small fork-join pool. The calling thread takes part, so a pool of N threads starts N-1 workers.
// Nested parallel_for calls (from inside a task) run serially on the calling thread.
// Workers and the caller spin briefly (kSpinSeconds) before blocking on a condition variable, so
// the back-to-back parallel regions of a forward pass do not pay a futex wake-up each.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace segq {

class ThreadPool {
 public:
  // fn(begin, end, thread_index): thread_index in [0, num_threads()), stable within one call, for
  // per-thread scratch buffers.
  using RangeFn = std::function<void(int64_t, int64_t, int)>;

  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Covers [0, n) with chunks of at least `grain` items, handed out dynamically; blocks until all
  // are done. Exceptions thrown by fn are rethrown here (the first one).
  void parallel_for(int64_t n, int64_t grain, const RangeFn& fn);
  // Convenience: fn(begin, end).
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    parallel_for(n, grain, RangeFn([&fn](int64_t b, int64_t e, int) { fn(b, e); }));
  }

 private:
  void worker_loop(int index);
  void run_chunks(int thread_index);

  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // one job at a time when several outside threads share the pool
  std::mutex mu_;
  std::condition_variable cv_work_;
  std::condition_variable cv_done_;
  std::atomic<uint64_t> generation_ = 0;
  std::atomic<bool> stop_ = false;
  std::atomic<int> active_workers_ = 0;

  // The current job.
  const RangeFn* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_chunk_ = 1;
  std::atomic<int64_t> next_ = 0;
  std::exception_ptr first_error_;
  std::mutex error_mu_;
};

// The process-wide pool used by kernels and the model. Size: set_num_threads(), else SEGQ_THREADS,
// else the number of hardware threads.
ThreadPool& global_pool();
void set_num_threads(int n);  // replaces the global pool; call before work starts
int default_num_threads();

}  // namespace segq
