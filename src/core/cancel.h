// CancelSource: a one-shot, thread-safe cancellation signal with callbacks.
//
// A request's CancelSource fires when its client disconnects or its deadline
// passes; whoever holds an upstream resource (a socket, a generation slot)
// registers a callback that releases it. Callbacks run on the thread that calls
// Cancel() (or at once, on the registering thread, if already cancelled); they
// must be cheap and thread-safe (post to your own executor if you need one).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "core/status.h"

namespace gantry {

class CancelSource : public std::enable_shared_from_this<CancelSource> {
 public:
  static std::shared_ptr<CancelSource> Create() {
    return std::shared_ptr<CancelSource>(new CancelSource());
  }

  // Fires once; later calls do nothing. `reason` is not OK (kCancelled or kDeadlineExceeded).
  void Cancel(Status reason);
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // OK until cancelled.
  Status reason() const;

  // Unregisters its callback when destroyed. Movable.
  class Registration {
   public:
    Registration() = default;
    Registration(Registration&& o) noexcept : source_(std::move(o.source_)), id_(o.id_) {}
    Registration& operator=(Registration&& o) noexcept;
    ~Registration() { Reset(); }
    void Reset();

   private:
    friend class CancelSource;
    Registration(std::weak_ptr<CancelSource> s, uint64_t id) : source_(std::move(s)), id_(id) {}
    std::weak_ptr<CancelSource> source_;
    uint64_t id_ = 0;
  };

  [[nodiscard]] Registration OnCancel(std::function<void()> fn);

 private:
  CancelSource() = default;
  void Unregister(uint64_t id);

  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  Status reason_;                                        // GUARDED_BY(mu_)
  uint64_t next_id_ = 1;                                 // GUARDED_BY(mu_)
  std::map<uint64_t, std::function<void()>> callbacks_;  // GUARDED_BY(mu_)
};

}  // namespace gantry
