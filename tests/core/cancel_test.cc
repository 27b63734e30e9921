#include "core/cancel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace gantry {
namespace {

TEST(CancelTest, StartsUncancelled) {
  auto c = CancelSource::Create();
  EXPECT_FALSE(c->cancelled());
  EXPECT_TRUE(c->reason().ok());
}

TEST(CancelTest, CallbacksRunOnceOnCancel) {
  auto c = CancelSource::Create();
  int a = 0, b = 0;
  auto ra = c->OnCancel([&] { ++a; });
  auto rb = c->OnCancel([&] { ++b; });
  EXPECT_EQ(a, 0);
  c->Cancel(DeadlineExceeded("too slow"));
  EXPECT_TRUE(c->cancelled());
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
  c->Cancel(Cancelled("again"));  // later calls do nothing
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
  EXPECT_EQ(c->reason().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(c->reason().message(), "too slow");
}

TEST(CancelTest, OkReasonBecomesCancelled) {
  auto c = CancelSource::Create();
  c->Cancel(OkStatus());
  EXPECT_EQ(c->reason().code(), StatusCode::kCancelled);
}

TEST(CancelTest, ResetUnregisters) {
  auto c = CancelSource::Create();
  int a = 0, b = 0;
  auto ra = c->OnCancel([&] { ++a; });
  auto rb = c->OnCancel([&] { ++b; });
  ra.Reset();
  ra.Reset();  // idempotent
  c->Cancel(Cancelled("bye"));
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 1);
}

TEST(CancelTest, DestroyedRegistrationUnregisters) {
  auto c = CancelSource::Create();
  int a = 0;
  {
    auto r = c->OnCancel([&] { ++a; });
  }
  c->Cancel(Cancelled("bye"));
  EXPECT_EQ(a, 0);
}

TEST(CancelTest, MovedRegistrationStaysRegistered) {
  auto c = CancelSource::Create();
  int a = 0, b = 0;
  CancelSource::Registration outer;
  {
    auto r = c->OnCancel([&] { ++a; });
    outer = std::move(r);
  }
  CancelSource::Registration other = c->OnCancel([&] { ++b; });
  other = CancelSource::Registration();  // move-assigning over it unregisters b
  c->Cancel(Cancelled("bye"));
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 0);
}

TEST(CancelTest, OnCancelAfterCancelRunsImmediately) {
  auto c = CancelSource::Create();
  c->Cancel(Cancelled("done"));
  int a = 0;
  auto r = c->OnCancel([&] { ++a; });
  EXPECT_EQ(a, 1);
  r.Reset();  // harmless
  EXPECT_EQ(a, 1);
}

TEST(CancelTest, RegistrationMayOutliveSource) {
  CancelSource::Registration r;
  {
    auto c = CancelSource::Create();
    r = c->OnCancel([] {});
  }
  r.Reset();  // source gone: must not crash
  SUCCEED();
}

TEST(CancelTest, CancelFromAnotherThread) {
  auto c = CancelSource::Create();
  std::atomic<int> calls{0};
  std::atomic<bool> ran_on_other{false};
  const auto main_id = std::this_thread::get_id();
  auto r = c->OnCancel([&] {
    ++calls;
    ran_on_other = std::this_thread::get_id() != main_id;
  });
  std::thread t1([&] { c->Cancel(Cancelled("t1")); });
  std::thread t2([&] { c->Cancel(Cancelled("t2")); });
  t1.join();
  t2.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_TRUE(ran_on_other.load());
  EXPECT_EQ(c->reason().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace gantry
