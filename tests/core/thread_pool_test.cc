#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace gantry {
namespace {

using namespace std::chrono_literals;

TEST(ThreadPoolTest, RunsTasksConcurrentlyOnDistinctThreads) {
  constexpr int kThreads = 3;
  ThreadPool pool(kThreads);
  EXPECT_EQ(pool.size(), static_cast<size_t>(kThreads));
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  std::set<std::thread::id> ids;
  int all_met = 0;
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(pool.Submit([&] {
                      std::unique_lock lock(mu);
                      ids.insert(std::this_thread::get_id());
                      ++arrived;
                      cv.notify_all();
                      // Only possible if every task runs at the same time on its own worker.
                      if (cv.wait_for(lock, 5s, [&] { return arrived == kThreads; })) ++all_met;
                    })
                    .ok());
  }
  pool.Shutdown();
  EXPECT_EQ(all_met, kThreads);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads));
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
}

TEST(ThreadPoolTest, ShutdownDrainsQueuedTasks) {
  ThreadPool pool(1);
  std::atomic<bool> release{false};
  std::atomic<bool> started{false};
  std::atomic<int> done{0};
  ASSERT_TRUE(pool.Submit([&] {
                    started = true;
                    while (!release) std::this_thread::sleep_for(1ms);
                    ++done;
                  })
                  .ok());
  while (!started) std::this_thread::sleep_for(1ms);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.Submit([&] { ++done; }).ok());
  EXPECT_EQ(pool.queued(), 50u);
  std::thread releaser([&] {
    std::this_thread::sleep_for(20ms);
    release = true;
  });
  pool.Shutdown();  // waits for the blocked task and all 50 queued ones
  releaser.join();
  EXPECT_EQ(done.load(), 51);
  EXPECT_EQ(pool.queued(), 0u);
}

TEST(ThreadPoolTest, SubmitAfterShutdownIsUnavailable) {
  ThreadPool pool(2);
  pool.Shutdown();
  bool ran = false;
  Status s = pool.Submit([&] { ran = true; });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(ran);
  pool.Shutdown();  // idempotent
}

TEST(ThreadPoolTest, DestructorDrains) {
  std::atomic<int> done{0};
  {
    ThreadPool pool(2);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(pool.Submit([&] { ++done; }).ok());
  }
  EXPECT_EQ(done.load(), 20);
}

}  // namespace
}  // namespace gantry
