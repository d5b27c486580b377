#pragma once
// A credential acquired from the KDC and renewed ahead of its expiry, with
// the KDC's waits kept off every request (D10):
// - acquisition runs on its own thread, outside the lock, one at a time
//   (single-flight): a thousand requests during a KDC outage make one
//   KDC call, not a thousand, and share its answer;
// - once `refresh_at` passes, requests keep getting the old credential
//   while the renewal runs; only with nothing usable left do they wait for
//   it, and at most `wait` (then a kdc_unreachable failure naming the wait);
// - a failure is not cached: the next request tries again (single-flight),
//   except that a failed *renewal* is retried no sooner than kRetryGap
//   while the old credential lasts (each try with a changed password would
//   count towards an account lockout).
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "auth/negotiate/security_context.h"
#include "base/duration.h"
#include "base/expected.h"

namespace ferry::auth {

template <class C>
class RenewingCredential {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kRetryGap{60};
  struct Fresh {
    std::shared_ptr<C> cred;
    Clock::time_point refresh_at;  // renew from here on
    Clock::time_point expires_at;  // unusable from here on
  };
  // Runs on a detached thread that may outlive this object (a KDC that
  // never answers must not hold up ferry's exit): it must own, not borrow,
  // everything it uses.
  using Acquire = std::function<Expected<Fresh, GssFailure>()>;

  RenewingCredential(Acquire acquire, Millis wait, std::function<Clock::time_point()> now = Clock::now)
      : s_(std::make_shared<State>(std::move(acquire), wait, std::move(now))) {}
  RenewingCredential(const RenewingCredential&) = delete;
  RenewingCredential& operator=(const RenewingCredential&) = delete;

  Expected<std::shared_ptr<C>, GssFailure> get() {
    State& s = *s_;
    std::unique_lock lock(s.mu);
    const auto now = s.now();
    if (s.current && now < s.refresh_at) return s.current;
    const bool usable = s.current && now < s.expires_at;
    if (!s.in_flight && (!usable || now >= s.retry_at)) start_locked();
    if (usable) return s.current;  // renewal (if any) in the background
    const uint64_t seen = s.generation;
    if (!s.done.wait_for(lock, s.wait, [&] { return s.generation != seen; })) {
      GssFailure f;
      f.cause = GssCause::kdc_unreachable;
      f.words = "the Kerberos KDC did not answer within " + format_duration(s.wait) +
                " (ferry keeps trying in the background; check the KDC and the network)";
      f.debug = "credential acquisition still running after " + format_duration(s.wait);
      return Unexpected{std::move(f)};
    }
    if (s.current && s.now() < s.expires_at) return s.current;
    return Unexpected{s.last_failure.value_or(GssFailure{})};
  }

  // For tests and diagnosis: acquisitions started so far.
  int acquisitions() const {
    std::lock_guard lock(s_->mu);
    return s_->acquisitions;
  }

 private:
  struct State {
    State(Acquire a, Millis w, std::function<Clock::time_point()> n)
        : acquire(std::move(a)), wait(w), now(std::move(n)) {}
    const Acquire acquire;
    const Millis wait;
    const std::function<Clock::time_point()> now;
    std::mutex mu;
    std::condition_variable done;
    bool in_flight = false;
    uint64_t generation = 0;  // acquisitions finished
    int acquisitions = 0;
    std::shared_ptr<C> current;
    Clock::time_point refresh_at{}, expires_at{}, retry_at{};
    std::optional<GssFailure> last_failure;
  };

  void start_locked() {
    s_->in_flight = true;
    ++s_->acquisitions;
    std::thread([s = s_] {
      auto fresh = s->acquire();  // the KDC wait, outside the lock
      std::lock_guard lock(s->mu);
      if (fresh) {
        s->current = std::move(fresh->cred);
        s->refresh_at = fresh->refresh_at;
        s->expires_at = fresh->expires_at;
        s->last_failure.reset();
      } else {
        s->last_failure = fresh.error();
        s->retry_at = s->now() + kRetryGap;
      }
      s->in_flight = false;
      ++s->generation;
      s->done.notify_all();
    }).detach();
  }

  std::shared_ptr<State> s_;
};

}  // namespace ferry::auth
