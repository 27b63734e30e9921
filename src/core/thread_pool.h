// ThreadPool: a fixed set of worker threads for blocking work (file parsing,
// SQLite, embedding batches) so that I/O threads never block.
//
// Thread safety: Submit() may be called from any thread. Shutdown() (also run by
// the destructor) finishes queued tasks, then joins the workers; tasks submitted
// after Shutdown() are rejected.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/status.h"

namespace gantry {

class ThreadPool final {
 public:
  // REQUIRES: threads >= 1.
  explicit ThreadPool(size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // kUnavailable after Shutdown().
  Status Submit(std::function<void()> task);
  void Shutdown();
  size_t size() const { return workers_.size(); }
  size_t queued() const;

 private:
  void Run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
};

}  // namespace gantry
