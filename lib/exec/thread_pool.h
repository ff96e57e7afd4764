// A small fixed-size thread pool for the executor's kernels.
//
// Determinism rule: kernels split their work into tasks whose boundaries
// depend only on the problem's shape, never on the thread count, and each
// task computes its part of the output with the same sequence of operations
// whichever thread runs it. So results are bit-identical for any `threads`.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace effopt::exec {

class ThreadPool {
 public:
  // threads >= 1; threads - 1 workers are started (the caller is the last).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  // Runs fn(i) for every i in [0, n) and returns when all are done. Calls
  // made from inside a task run serially in that task's thread.
  void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);

 private:
  void worker_loop();
  void drain();

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  const std::function<void(int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t next_ = 0;
  int64_t done_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

// Splits [0, total) into chunks of `chunk` (last one shorter): number of chunks.
inline int64_t chunk_count(int64_t total, int64_t chunk) { return total <= 0 ? 0 : (total + chunk - 1) / chunk; }

}  // namespace effopt::exec
