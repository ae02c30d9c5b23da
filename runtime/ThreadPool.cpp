//===- runtime/ThreadPool.cpp - Fixed worker threads for kernels ----------===//
#include "runtime/ThreadPool.h"

#include <chrono>

namespace sqc {

ThreadPool::ThreadPool(unsigned threads) {
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 1; i < threads; ++i)
    workers_.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread &t : workers_)
    t.join();
}

namespace {
std::pair<int64_t, int64_t> chunk(int64_t n, unsigned parts, unsigned i) {
  int64_t base = n / parts, extra = n % parts;
  int64_t begin = i * base + std::min<int64_t>(i, extra);
  return {begin, begin + base + (int64_t(i) < extra ? 1 : 0)};
}

/// Polls `ready` for up to 2 ms; true as soon as it holds. After the first
/// few thousand polls it yields the core between polls: when the machine has
/// more runnable threads than cores (another process, or two tests at once),
/// a thread that only spins would hold a core the thread it waits for needs.
template <typename Ready> bool spinFor(Ready ready) {
  auto start = std::chrono::steady_clock::now();
  for (unsigned i = 1;; ++i) {
    if (ready())
      return true;
    if (i < 4096) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();
    }
    if (i % 256 == 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::milliseconds(2))
      return false;
  }
}
} // namespace

void ThreadPool::parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
  unsigned parts = unsigned(std::min<int64_t>(size(), n));
  if (parts <= 1) {
    if (n > 0)
      fn(0, n);
    return;
  }
  job_ = &fn;
  jobSize_ = n;
  pending_.store(unsigned(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release); // publishes the job
  // A worker about to sleep holds the mutex from its last check until it
  // waits, so taking it here means the notification cannot be missed.
  { std::lock_guard<std::mutex> lock(mutex_); }
  wake_.notify_all();
  auto [b, e] = chunk(n, size(), 0);
  if (b < e)
    fn(b, e);
  auto done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!spinFor(done)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, done);
  }
  job_ = nullptr;
}

void ThreadPool::work(unsigned index) {
  uint64_t seen = 0;
  for (;;) {
    auto ready = [&] {
      return stop_.load(std::memory_order_relaxed) ||
             generation_.load(std::memory_order_acquire) != seen;
    };
    if (!spinFor(ready)) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, ready);
    }
    if (stop_)
      return;
    seen = generation_.load(std::memory_order_acquire);
    auto [b, e] = chunk(jobSize_, size(), index);
    if (b < e)
      (*job_)(b, e);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_); // see parallelFor
      done_.notify_one();
    }
  }
}

void parallelForIfWorth(ThreadPool *pool, int64_t n, double work, double minWork,
                        const std::function<void(int64_t, int64_t)> &fn) {
  if (n <= 0)
    return;
  if (pool && pool->size() > 1 && work >= minWork)
    pool->parallelFor(n, fn);
  else
    fn(0, n);
}

} // namespace sqc
