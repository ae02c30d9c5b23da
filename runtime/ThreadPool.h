//===- runtime/ThreadPool.h - Fixed worker threads for kernels --*- C++ -*-===//
//
// `parallelFor(n, fn)` splits [0, n) into one contiguous chunk per thread
// and runs fn(begin, end) on each, the calling thread taking the first
// chunk; it returns when all are done. Kernels split GEMM column panels and
// attention heads this way. Between calls, workers (and the caller waiting
// for them) spin for up to 2 ms before they sleep: a model run calls it
// hundreds of times with a little serial work in between, and waking a
// sleeping thread costs tens to hundreds of microseconds (more on virtual
// machines), which made two threads slower than one.
//
//===----------------------------------------------------------------------===//
#ifndef SQC_RUNTIME_THREADPOOL_H
#define SQC_RUNTIME_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sqc {

class ThreadPool {
public:
  /// `threads` in all, counting the caller; 0 means one per hardware thread.
  explicit ThreadPool(unsigned threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned size() const { return unsigned(workers_.size()) + 1; }
  void parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn);

private:
  void work(unsigned index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t, int64_t)> *job_ = nullptr;
  int64_t jobSize_ = 0;
  std::atomic<uint64_t> generation_{0}; // one more per job
  std::atomic<unsigned> pending_{0};     // workers still on the job
  std::atomic<bool> stop_{false};
};

/// pool->parallelFor(n, fn) when `work` reaches `minWork` (both in the
/// caller's unit, e.g. multiply-adds or elements) and the pool has more than
/// one thread; otherwise fn(0, n) on the calling thread (also for a null
/// pool). Nothing runs for n <= 0.
void parallelForIfWorth(ThreadPool *pool, int64_t n, double work, double minWork,
                        const std::function<void(int64_t, int64_t)> &fn);

} // namespace sqc

#endif // SQC_RUNTIME_THREADPOOL_H
