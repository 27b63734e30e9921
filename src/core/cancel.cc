#include "core/cancel.h"

#include <vector>

namespace gantry {

void CancelSource::Cancel(Status reason) {
  std::map<uint64_t, std::function<void()>> callbacks;
  {
    std::lock_guard lock(mu_);
    if (cancelled_.load(std::memory_order_relaxed)) return;
    reason_ = reason.ok() ? Cancelled("cancelled") : std::move(reason);
    callbacks.swap(callbacks_);
    cancelled_.store(true, std::memory_order_release);
  }
  for (auto& [id, fn] : callbacks) fn();
}

Status CancelSource::reason() const {
  std::lock_guard lock(mu_);
  return reason_;
}

CancelSource::Registration CancelSource::OnCancel(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (!cancelled_.load(std::memory_order_relaxed)) {
      const uint64_t id = next_id_++;
      callbacks_.emplace(id, std::move(fn));
      return Registration(weak_from_this(), id);
    }
  }
  fn();
  return Registration();
}

void CancelSource::Unregister(uint64_t id) {
  std::lock_guard lock(mu_);
  callbacks_.erase(id);
}

CancelSource::Registration& CancelSource::Registration::operator=(Registration&& o) noexcept {
  if (this != &o) {
    Reset();
    source_ = std::move(o.source_);
    id_ = o.id_;
  }
  return *this;
}

void CancelSource::Registration::Reset() {
  if (auto s = source_.lock()) s->Unregister(id_);
  source_.reset();
}

}  // namespace gantry
