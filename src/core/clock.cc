#include "core/clock.h"

#include <fmt/format.h>
#include <ctime>

namespace gantry {

const Clock& SystemClock::Get() {
  static const SystemClock clock;
  return clock;
}

int64_t UnixSeconds(WallTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string FormatIso8601(WallTime t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

Millis Deadline::Remaining(const Clock& clock) const {
  if (infinite()) return Millis::max();
  const auto now = clock.Now();
  if (now >= when_) return Millis(0);
  return std::chrono::duration_cast<Millis>(when_ - now);
}

}  // namespace gantry
