// FakeClock: a gantry::Clock whose time only moves when a test says so.
#pragma once

#include <mutex>

#include "core/clock.h"

namespace gantry::testing {

class FakeClock final : public Clock {
 public:
  FakeClock() = default;
  explicit FakeClock(SteadyTime now, WallTime wall = WallTime{}) : now_(now), wall_(wall) {}

  SteadyTime Now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  WallTime WallNow() const override {
    std::lock_guard lock(mu_);
    return wall_;
  }

  void Set(SteadyTime t) {
    std::lock_guard lock(mu_);
    now_ = t;
  }
  void SetWall(WallTime t) {
    std::lock_guard lock(mu_);
    wall_ = t;
  }
  // Moves both clocks forward by `d`.
  void Advance(Millis d) {
    std::lock_guard lock(mu_);
    now_ += d;
    wall_ += d;
  }

 private:
  mutable std::mutex mu_;
  SteadyTime now_ = SteadyTime{} + std::chrono::hours(1);
  WallTime wall_{};
};

}  // namespace gantry::testing
