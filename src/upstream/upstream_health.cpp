#include "upstream/upstream_health.h"

#include <algorithm>

namespace ferry {

std::vector<size_t> UpstreamHealth::attempt_order(const std::vector<std::string>& keys) const {
  std::lock_guard lock(mu_);
  const auto now = now_();
  std::vector<size_t> healthy;
  std::vector<std::pair<Clock::time_point, size_t>> down;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto it = down_until_.find(keys[i]);
    if (it == down_until_.end() || it->second <= now) healthy.push_back(i);
    else down.emplace_back(it->second, i);
  }
  std::stable_sort(down.begin(), down.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (auto& [until, i] : down) healthy.push_back(i);
  return healthy;
}

bool UpstreamHealth::is_penalised(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = down_until_.find(key);
  return it != down_until_.end() && it->second > now_();
}

bool UpstreamHealth::mark_failed(const std::string& key) {
  std::lock_guard lock(mu_);
  const auto now = now_();
  auto& until = down_until_[key];
  const bool fresh = until <= now;
  until = now + penalty_;
  any_down_.store(true, std::memory_order_relaxed);
  return fresh;
}

void UpstreamHealth::mark_ok(const std::string& key) {
  std::lock_guard lock(mu_);
  down_until_.erase(key);
  if (down_until_.empty()) any_down_.store(false, std::memory_order_relaxed);
}

uint64_t UpstreamHealth::failovers() const {
  std::lock_guard lock(mu_);
  return failovers_;
}

void UpstreamHealth::count_failover() {
  std::lock_guard lock(mu_);
  ++failovers_;
}

}  // namespace ferry
