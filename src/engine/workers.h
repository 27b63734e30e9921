// Workers: a fixed team of threads for data-parallel kernels (split the rows of a
// matrix-vector product across cores). The calling thread takes part, so a team of
// n threads starts n - 1 workers.
//
// A decode step runs a few hundred short parallel sections, so hand-off latency
// matters more than fairness: idle workers spin briefly before they sleep.
//
// Thread safety: one ParallelFor at a time per Workers object (the engine gives each
// model runner its own team). ParallelFor returns when every chunk has run.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gantry::engine {

class Workers final {
 public:
  // REQUIRES: threads >= 1.
  explicit Workers(int threads);
  ~Workers();
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  int size() const { return threads_; }

  // Calls fn(begin, end, thread_index) over [0, n) split into size() contiguous
  // chunks whose boundaries are multiples of `grain` (except the last).
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  void WorkerLoop(int index);
  void RunChunk(int index);

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  // The current job (written before generation_ is bumped).
  const std::function<void(int64_t, int64_t, int)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
};

}  // namespace gantry::engine
