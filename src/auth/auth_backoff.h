#pragma once
// Lockout protection for one identity (a user name and its password),
// shared by every upstream that uses it: after kMaxFailures consecutive
// rejected password attempts ferry stops sending the password for a while,
// because each failed try can count towards an Active Directory lockout.
//
// What counts: a proxy refusing Basic, Digest or NTLM credentials, and the
// KDC refusing the password (Kerberos pre-authentication failed). A proxy
// refusing a valid Kerberos ticket does not count: it never reaches the
// domain's bad-password counter.
//
// Consecutive *waves*, not requests: every try carries the wave that was
// current when it went out, and a rejection only counts when its wave is
// still the current one (counting starts a new wave). Requests in flight
// together sent the same password before any verdict was known, so they
// are one piece of evidence, not three; holding them back was impossible.
// What the back-off stops is sending the password *again* once it is known
// to be refused.
//
// The pause ends by itself: 30 s after the third rejection, then doubling
// for each wave refused right after a pause (60 s, 120 s, 240 s), capped at
// 5 min. Any accepted password ends it and resets the count.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

namespace ferry::auth {

class AuthBackoff {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kMaxFailures = 3;
  static constexpr std::chrono::seconds kFirstPause{30};
  static constexpr std::chrono::seconds kMaxPause{300};

  explicit AuthBackoff(std::function<Clock::time_point()> now = Clock::now) : now_(std::move(now)) {}

  // The wave a try that sends the password now belongs to.
  uint64_t wave() const;
  // The try of `wave` was refused. Returns true when it counted.
  bool rejected(uint64_t wave);
  // The password was accepted: no pause, count and level start over.
  void accepted();
  // While paused: how long is left (rounded up to whole seconds).
  std::optional<std::chrono::seconds> paused() const;
  // The length of the pause now running (or the last one).
  std::chrono::seconds pause_length() const;

 private:
  std::chrono::seconds pause_length_locked() const;

  const std::function<Clock::time_point()> now_;
  mutable std::mutex mu_;
  uint64_t wave_ = 0;
  int failures_ = 0;
  int level_ = 0;  // pauses in a row: the pause is kFirstPause << (level_ - 1)
  Clock::time_point until_{};
};

}  // namespace ferry::auth
