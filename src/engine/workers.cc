#include "engine/workers.h"

#include <algorithm>

namespace gantry::engine {

Workers::Workers(int threads) : threads_(std::max(1, threads)) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

Workers::~Workers() {
  {
    std::lock_guard lock(mu_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void Workers::RunChunk(int index) {
  const int64_t blocks = (n_ + grain_ - 1) / grain_;
  const int64_t per = blocks / threads_;
  const int64_t extra = blocks % threads_;
  const int64_t first = index * per + std::min<int64_t>(index, extra);
  const int64_t count = per + (index < extra ? 1 : 0);
  const int64_t begin = std::min(n_, first * grain_);
  const int64_t end = std::min(n_, (first + count) * grain_);
  if (begin < end) (*fn_)(begin, end, index);
}

void Workers::ParallelFor(int64_t n, int64_t grain,
                          const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  if (threads_ == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  fn_ = &fn;
  n_ = n;
  grain_ = std::max<int64_t>(1, grain);
  pending_.store(threads_ - 1, std::memory_order_relaxed);
  {
    // The lock orders the job fields before the generation bump for sleeping workers;
    // spinning workers see them through the release/acquire on generation_.
    std::lock_guard lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  RunChunk(0);
  while (pending_.load(std::memory_order_acquire) != 0) {
    std::this_thread::yield();
  }
  fn_ = nullptr;
}

void Workers::WorkerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin a little: the next parallel section usually follows within microseconds.
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spins = 0; gen == seen && spins < 20000 && !stop_.load(); ++spins) {
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] {
        return stop_.load() || generation_.load(std::memory_order_acquire) != seen;
      });
      if (stop_.load()) return;
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    RunChunk(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace gantry::engine
