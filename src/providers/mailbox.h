// Mailbox and OnPool: hand results from other threads back to a coroutine.
//
// Mailbox<T> carries values pushed from any thread to one coroutine waiting on
// its executor (a strand: the wake-up is posted there, so it cannot race the
// wait). OnPool runs a blocking function on a ThreadPool and resumes the
// awaiting coroutine with its result, honouring the request's cancellation and
// deadline while it waits (the function itself still runs to completion).
//
// Thread safety: Push/Poke from any thread; Pop from the coroutine only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "core/request_context.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "providers/chat_model.h"

namespace gantry::providers {

// Hands values from another thread to one coroutine on an executor (a strand: the
// wake-up is posted there, so it cannot race the wait).
template <typename T>
class Mailbox : public std::enable_shared_from_this<Mailbox<T>> {
 public:
  explicit Mailbox(boost::asio::any_io_executor ex)
      : ex_(std::move(ex)), timer_(std::make_shared<boost::asio::steady_timer>(ex_)) {}

  // Any thread.
  void Push(T value) {
    {
      std::lock_guard lock(mu_);
      items_.push_back(std::move(value));
    }
    Poke();
  }
  // Any thread: pushes `value` and gives up the caller's reference in the same
  // step. The wake-up is posted while the lock is held, so a coroutine that sees
  // the value knows the wake-up is queued (its io_context still has work), and
  // the last reference is dropped on the executor, never on the calling thread
  // after the io_context may be gone.
  static void Deliver(std::shared_ptr<Mailbox> self, T value) {
    Mailbox& box = *self;
    std::lock_guard lock(box.mu_);
    box.items_.push_back(std::move(value));
    boost::asio::post(box.ex_, [self = std::move(self)] { self->timer_->cancel(); });
  }
  void Poke() {
    boost::asio::post(ex_, [weak = std::weak_ptr<boost::asio::steady_timer>(timer_)] {
      if (auto t = weak.lock()) t->cancel();
    });
  }

  // On the executor. The next value; the request's cancellation reason when it is
  // cancelled first, kDeadlineExceeded when its deadline passes first.
  Awaitable<Result<T>> Pop(const RequestContext& ctx) {
    for (;;) {
      // Cancellation and the deadline win over values already buffered: a reader slower
      // than the generation must not run past its deadline.
      if (ctx.cancel->cancelled()) co_return ctx.cancel->reason();
      if (ctx.deadline.Expired(*ctx.clock)) co_return DeadlineExceeded("deadline exceeded");
      {
        std::lock_guard lock(mu_);
        if (!items_.empty()) {
          T v = std::move(items_.front());
          items_.pop_front();
          co_return v;
        }
      }
      // Measured on the request's clock, so an injected clock cannot make this spin.
      if (ctx.deadline.infinite()) {
        timer_->expires_at(boost::asio::steady_timer::time_point::max());
      } else {
        timer_->expires_after(ctx.deadline.Remaining(*ctx.clock));
      }
      co_await timer_->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
  }

 private:
  boost::asio::any_io_executor ex_;
  std::shared_ptr<boost::asio::steady_timer> timer_;
  std::mutex mu_;
  std::deque<T> items_;
};

// Runs fn() (returning Result<T>) on `pool` and awaits its result on the caller's
// executor, so CPU work such as tokenizing a long prompt stays off the I/O threads.
template <typename T>
struct Boxed {
  Result<T> value;
};
template <typename T>
Awaitable<Result<T>> OnPool(ThreadPool& pool, const RequestContext& ctx,
                            std::function<Result<T>()> fn,
                            const char* unavailable_message = "shutting down") {
  auto box = std::make_shared<Mailbox<Boxed<T>>>(co_await boost::asio::this_coro::executor);
  Status submitted = pool.Submit([box, fn = std::move(fn)]() mutable {
    Boxed<T> result{fn()};
    Mailbox<Boxed<T>>::Deliver(std::move(box), std::move(result));
  });
  if (!submitted.ok()) co_return Status(StatusCode::kUnavailable, unavailable_message);
  auto r = co_await box->Pop(ctx);
  if (!r.ok()) co_return r.status();
  co_return std::move(r->value);
}

}  // namespace gantry::providers
