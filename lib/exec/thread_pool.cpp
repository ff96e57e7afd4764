#include "exec/thread_pool.h"

namespace effopt::exec {

namespace {
thread_local bool in_task = false;
}

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_work_.notify_all();
  for (auto& t : workers_) t.join();
}

// Takes tasks until none are left; called with mu_ unlocked.
void ThreadPool::drain() {
  for (;;) {
    int64_t i;
    const std::function<void(int64_t)>* fn;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!fn_ || next_ >= n_) return;
      i = next_++;
      fn = fn_;
    }
    in_task = true;
    (*fn)(i);
    in_task = false;
    bool last;
    {
      std::lock_guard<std::mutex> lk(mu_);
      last = ++done_ == n_;
    }
    if (last) cv_done_.notify_all();
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_work_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    drain();
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  if (n == 1 || workers_.empty() || in_task) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    fn_ = &fn;
    n_ = n;
    next_ = 0;
    done_ = 0;
    ++generation_;
  }
  cv_work_.notify_all();
  drain();
  std::unique_lock<std::mutex> lk(mu_);
  cv_done_.wait(lk, [&] { return done_ == n_; });
  fn_ = nullptr;
}

}  // namespace effopt::exec
