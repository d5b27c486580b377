#pragma once
// Which upstream proxies recently failed at the connection level, so new
// requests skip them for a while (SPEC §3: 60 s) instead of waiting out the
// same timeout again. Shared by all workers; the clock is injectable so
// tests can step over the penalty without sleeping.
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ferry {

class UpstreamHealth {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  explicit UpstreamHealth(std::chrono::seconds penalty = std::chrono::seconds(60), Now now = Clock::now)
      : penalty_(penalty), now_(std::move(now)) {}

  // The order in which to try `keys`: the healthy ones in their configured
  // order, then the penalised ones (soonest back first), so a request still
  // has a chance when every upstream is marked down.
  std::vector<size_t> attempt_order(const std::vector<std::string>& keys) const;
  bool is_penalised(const std::string& key) const;
  // False while no upstream has ever failed (or all recovered): callers
  // then skip the lock and the key strings on every request.
  bool any_down() const { return any_down_.load(std::memory_order_relaxed); }

  // Returns true when this call started a new penalty (for the log).
  bool mark_failed(const std::string& key);
  void mark_ok(const std::string& key);

  uint64_t failovers() const;
  void count_failover();

 private:
  const std::chrono::seconds penalty_;
  const Now now_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> down_until_;
  uint64_t failovers_ = 0;
  std::atomic<bool> any_down_{false};
};

}  // namespace ferry
