#pragma once
// A per-connection watchdog. The session arms it before each wait with a
// duration and an action (usually: cancel the sockets); arming is just a
// store, so extending the deadline on every read costs nothing. The timer
// wakes only when the earliest deadline passes.
#include <chrono>
#include <functional>

#include "base/duration.h"
#include "net/asio.h"

namespace ferry {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Deadline(const asio::any_io_executor& ex) : timer_(ex) {}

  void arm(Millis d, std::function<void()> on_expire) {
    on_expire_ = std::move(on_expire);
    duration_ = d;
    expired_ = false;
    set_at(d.count() > 0 ? Clock::now() + d : Clock::time_point::max());
  }
  // Pushes the current deadline out by the armed duration (activity seen).
  void extend() {
    if (duration_.count() > 0) at_ = Clock::now() + duration_;
  }
  void disarm() {
    at_ = Clock::time_point::max();
    on_expire_ = nullptr;
  }
  bool expired() const { return expired_; }

  // Runs until cancelled (joined with the session by `||`).
  awaitable<void> watch() {
    for (;;) {
      timer_.expires_at(at_);
      co_await timer_.async_wait(nothrow_awaitable);  // woken early when re-armed sooner
      if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) co_return;
      if (at_ != Clock::time_point::max() && Clock::now() >= at_) {
        expired_ = true;
        at_ = Clock::time_point::max();
        if (auto f = std::move(on_expire_)) f();
      }
    }
  }

 private:
  void set_at(Clock::time_point t) {
    at_ = t;
    // Wake the watcher early only when the new deadline is sooner.
    if (t < timer_.expiry()) timer_.expires_at(t);
  }

  asio::steady_timer timer_;
  Clock::time_point at_ = Clock::time_point::max();
  Millis duration_{0};
  std::function<void()> on_expire_;
  bool expired_ = false;
};

}  // namespace ferry
