#include "auth/auth_backoff.h"

#include <algorithm>

namespace ferry::auth {

uint64_t AuthBackoff::wave() const {
  std::lock_guard lock(mu_);
  return wave_;
}

bool AuthBackoff::rejected(uint64_t wave) {
  std::lock_guard lock(mu_);
  if (wave != wave_) return false;  // a try from a wave already counted
  ++wave_;
  if (++failures_ < kMaxFailures) return true;
  // The third in a row, or the first try after a pause: (another) pause.
  level_ = std::min(level_ + 1, 16);
  until_ = now_() + pause_length_locked();
  return true;
}

void AuthBackoff::accepted() {
  std::lock_guard lock(mu_);
  ++wave_;
  failures_ = 0;
  level_ = 0;
  until_ = {};
}

std::chrono::seconds AuthBackoff::pause_length_locked() const {
  if (level_ == 0) return std::chrono::seconds(0);
  const auto doubled = kFirstPause * (int64_t(1) << std::min(level_ - 1, 10));
  return std::min<std::chrono::seconds>(doubled, kMaxPause);
}

std::chrono::seconds AuthBackoff::pause_length() const {
  std::lock_guard lock(mu_);
  return pause_length_locked();
}

std::optional<std::chrono::seconds> AuthBackoff::paused() const {
  std::lock_guard lock(mu_);
  const auto now = now_();
  if (now >= until_) return std::nullopt;
  return std::chrono::ceil<std::chrono::seconds>(until_ - now);
}

}  // namespace ferry::auth
