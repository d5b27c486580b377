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
  using Acquire = std::function<Expected<Fresh, GssFailure>()>;

  RenewingCredential(Acquire acquire, Millis wait, std::function<Clock::time_point()> now = Clock::now)
      : acquire_(std::move(acquire)), wait_(wait), now_(std::move(now)) {}
  ~RenewingCredential() {
    // An acquisition may still be inside krb5: it uses the owner's state.
    if (worker_.joinable()) worker_.join();
  }
  RenewingCredential(const RenewingCredential&) = delete;
  RenewingCredential& operator=(const RenewingCredential&) = delete;

  Expected<std::shared_ptr<C>, GssFailure> get() {
    std::unique_lock lock(mu_);
    const auto now = now_();
    if (current_ && now < refresh_at_) return current_;
    const bool usable = current_ && now < expires_at_;
    if (!in_flight_ && (!usable || now >= retry_at_)) start_locked();
    if (usable) return current_;  // renewal (if any) in the background
    const uint64_t seen = generation_;
    if (!done_.wait_for(lock, wait_, [&] { return generation_ != seen; })) {
      GssFailure f;
      f.cause = GssCause::kdc_unreachable;
      f.words = "the Kerberos KDC did not answer within " + format_duration(wait_) +
                " (ferry keeps trying in the background; check the KDC and the network)";
      f.debug = "credential acquisition still running after " + format_duration(wait_);
      return Unexpected{std::move(f)};
    }
    if (current_ && now_() < expires_at_) return current_;
    return Unexpected{last_failure_.value_or(GssFailure{})};
  }

  // For tests and diagnosis: acquisitions started so far.
  int acquisitions() const {
    std::lock_guard lock(mu_);
    return acquisitions_;
  }

 private:
  void start_locked() {
    if (worker_.joinable()) worker_.join();  // finished: in_flight_ is false
    in_flight_ = true;
    ++acquisitions_;
    worker_ = std::thread([this] {
      auto fresh = acquire_();  // the KDC wait, outside the lock
      std::lock_guard lock(mu_);
      if (fresh) {
        current_ = std::move(fresh->cred);
        refresh_at_ = fresh->refresh_at;
        expires_at_ = fresh->expires_at;
        last_failure_.reset();
      } else {
        last_failure_ = fresh.error();
        retry_at_ = now_() + kRetryGap;
      }
      in_flight_ = false;
      ++generation_;
      done_.notify_all();
    });
  }

  const Acquire acquire_;
  const Millis wait_;
  const std::function<Clock::time_point()> now_;
  mutable std::mutex mu_;
  std::condition_variable done_;
  std::thread worker_;
  bool in_flight_ = false;
  uint64_t generation_ = 0;  // acquisitions finished
  int acquisitions_ = 0;
  std::shared_ptr<C> current_;
  Clock::time_point refresh_at_{}, expires_at_{}, retry_at_{};
  std::optional<GssFailure> last_failure_;
};

}  // namespace ferry::auth
