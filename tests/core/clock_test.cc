#include "core/clock.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace gantry {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;

WallTime MakeWall(int y, unsigned mo, unsigned d, int h, int mi, int s, int ms) {
  using namespace std::chrono;
  return sys_days(year(y) / month(mo) / day(d)) + hours(h) + minutes(mi) + seconds(s) +
         milliseconds(ms);
}

TEST(DeadlineTest, InfiniteByDefault) {
  FakeClock clock;
  Deadline d;
  EXPECT_TRUE(d.infinite());
  EXPECT_TRUE(Deadline::Infinite().infinite());
  EXPECT_FALSE(d.Expired(clock));
  EXPECT_EQ(d.Remaining(clock), Millis::max());
  clock.Advance(std::chrono::hours(24 * 365));
  EXPECT_FALSE(d.Expired(clock));
}

TEST(DeadlineTest, AfterCountsDownWithTheClock) {
  FakeClock clock;
  Deadline d = Deadline::After(clock, 100ms);
  EXPECT_FALSE(d.infinite());
  EXPECT_EQ(d.when(), clock.Now() + 100ms);
  EXPECT_EQ(d.Remaining(clock), 100ms);
  EXPECT_FALSE(d.Expired(clock));
  clock.Advance(40ms);
  EXPECT_EQ(d.Remaining(clock), 60ms);
  EXPECT_FALSE(d.Expired(clock));
  clock.Advance(60ms);
  EXPECT_TRUE(d.Expired(clock));
  EXPECT_EQ(d.Remaining(clock), 0ms);
  clock.Advance(1000ms);
  EXPECT_TRUE(d.Expired(clock));
  EXPECT_EQ(d.Remaining(clock), 0ms);  // never negative
}

TEST(DeadlineTest, AtUsesTheGivenTime) {
  FakeClock clock;
  const SteadyTime t = clock.Now() + 5s;
  Deadline d = Deadline::At(t);
  EXPECT_EQ(d.when(), t);
  EXPECT_EQ(d.Remaining(clock), 5000ms);
}

TEST(DeadlineTest, MinPicksTheEarlier) {
  FakeClock clock;
  Deadline soon = Deadline::After(clock, 10ms);
  Deadline later = Deadline::After(clock, 50ms);
  EXPECT_EQ(soon.Min(later).when(), soon.when());
  EXPECT_EQ(later.Min(soon).when(), soon.when());
  EXPECT_EQ(Deadline::Infinite().Min(later).when(), later.when());
  EXPECT_EQ(later.Min(Deadline::Infinite()).when(), later.when());
  EXPECT_TRUE(Deadline::Infinite().Min(Deadline::Infinite()).infinite());

  EXPECT_EQ(later.MinAfter(clock, 20ms).when(), clock.Now() + 20ms);
  EXPECT_EQ(soon.MinAfter(clock, 20ms).when(), soon.when());
  EXPECT_EQ(Deadline::Infinite().MinAfter(clock, 7ms).Remaining(clock), 7ms);
}

TEST(ClockTest, SystemClockMovesForward) {
  const Clock& c = SystemClock::Get();
  EXPECT_EQ(&c, &SystemClock::Get());
  const SteadyTime a = c.Now();
  const SteadyTime b = c.Now();
  EXPECT_LE(a, b);
  EXPECT_GT(UnixSeconds(c.WallNow()), 1'600'000'000);
}

TEST(ClockTest, FormatIso8601) {
  EXPECT_EQ(FormatIso8601(MakeWall(2026, 11, 23, 10, 0, 0, 123)), "2026-11-23T10:00:00.123Z");
  EXPECT_EQ(FormatIso8601(MakeWall(1999, 1, 2, 3, 4, 5, 6)), "1999-01-02T03:04:05.006Z");
  EXPECT_EQ(FormatIso8601(WallTime{}), "1970-01-01T00:00:00.000Z");
  // Sub-millisecond parts are truncated, not rounded up.
  EXPECT_EQ(FormatIso8601(MakeWall(2024, 2, 29, 23, 59, 59, 999) + std::chrono::microseconds(999)),
            "2024-02-29T23:59:59.999Z");
}

TEST(ClockTest, UnixSeconds) {
  EXPECT_EQ(UnixSeconds(WallTime{}), 0);
  EXPECT_EQ(UnixSeconds(MakeWall(2001, 9, 9, 1, 46, 40, 500)), 1'000'000'000);
}

TEST(ClockTest, FakeClockIsControllable) {
  FakeClock clock;
  const WallTime w = MakeWall(2026, 1, 1, 0, 0, 0, 0);
  clock.SetWall(w);
  EXPECT_EQ(clock.WallNow(), w);
  const SteadyTime s = clock.Now();
  clock.Advance(3ms);
  EXPECT_EQ(clock.Now(), s + 3ms);
  EXPECT_EQ(clock.WallNow(), w + 3ms);
}

}  // namespace
}  // namespace gantry
