//===- runtime/ThreadPool.cpp - Fixed worker threads for kernels ----------===//
#include "runtime/ThreadPool.h"

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
/// Chunk `i` of `parts` over [0, n).
std::pair<int64_t, int64_t> chunk(int64_t n, unsigned parts, unsigned i) {
  int64_t base = n / parts, extra = n % parts;
  int64_t begin = i * base + std::min<int64_t>(i, extra);
  return {begin, begin + base + (int64_t(i) < extra ? 1 : 0)};
}
} // namespace

void ThreadPool::parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
  unsigned parts = unsigned(std::min<int64_t>(size(), n));
  if (parts <= 1) {
    if (n > 0)
      fn(0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    jobSize_ = n;
    pending_ = unsigned(workers_.size());
    ++generation_;
  }
  wake_.notify_all();
  auto [b, e] = chunk(n, size(), 0);
  if (b < e)
    fn(b, e);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return pending_ == 0; });
  job_ = nullptr;
}

void ThreadPool::work(unsigned index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int64_t, int64_t)> *job;
    int64_t n;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_)
        return;
      seen = generation_;
      job = job_;
      n = jobSize_;
    }
    auto [b, e] = chunk(n, size(), index);
    if (b < e)
      (*job)(b, e);
    std::lock_guard<std::mutex> lock(mutex_);
    if (--pending_ == 0)
      done_.notify_one();
  }
}

} // namespace sqc
