// Clock and Deadline helpers. Time is injected (a Clock&) so tests can control it.
//
// Thread safety: SystemClock is thread-safe; Deadline is a value type.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace gantry {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;    // monotonic, for deadlines and latency
  virtual WallTime WallNow() const = 0;  // wall time, for timestamps
};

class SystemClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
  // A process-wide instance.
  static const Clock& Get();
};

// Unix seconds of a wall time.
int64_t UnixSeconds(WallTime t);
// RFC 3339 / ISO 8601 UTC with milliseconds, e.g. 2026-11-23T10:00:00.123Z.
std::string FormatIso8601(WallTime t);

// A point in monotonic time by which work must finish. Default: never.
class Deadline {
 public:
  Deadline() = default;
  static Deadline Infinite() { return Deadline(); }
  static Deadline At(SteadyTime when) { return Deadline(when); }
  static Deadline After(const Clock& clock, Millis d) { return Deadline(clock.Now() + d); }

  bool infinite() const { return when_ == SteadyTime::max(); }
  SteadyTime when() const { return when_; }
  bool Expired(const Clock& clock) const { return !infinite() && clock.Now() >= when_; }
  // Time left, never negative; Millis::max() when infinite.
  Millis Remaining(const Clock& clock) const;
  // The earlier of this and `other`.
  Deadline Min(Deadline other) const { return when_ <= other.when_ ? *this : other; }
  // The earlier of this and now + d.
  Deadline MinAfter(const Clock& clock, Millis d) const { return Min(After(clock, d)); }

 private:
  explicit Deadline(SteadyTime when) : when_(when) {}
  SteadyTime when_ = SteadyTime::max();
};

}  // namespace gantry
