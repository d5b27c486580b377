#pragma once
// Idle keep-alive connections to origins, per worker thread (no locks).
// A connection is checked for liveness when taken: one that the origin closed
// or that has unexpected bytes waiting is discarded, not reused.
#include <chrono>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/byte_stream.h"

namespace ferry {

class OriginPool {
 public:
  using Clock = std::chrono::steady_clock;
  explicit OriginPool(size_t max_idle_per_origin = 32, size_t max_idle_total = 1024,
                      std::chrono::seconds idle_ttl = std::chrono::seconds(30))
      : max_per_origin_(max_idle_per_origin), max_total_(max_idle_total), ttl_(idle_ttl) {}

  ByteStreamPtr take(const std::string& key) { return take(key, ttl_); }
  // The most recently used connection `accept` approves; the others stay
  // pooled as they were (a request under a policy that denies an address
  // leaves that connection to the clients that may use it).
  ByteStreamPtr take_if(const std::string& key, Clock::duration max_idle,
                        const std::function<bool(ByteStream&)>& accept);
  // Only a connection idle for less than `max_idle`: a request that cannot
  // be sent again must not race a server's keep-alive close (Apache closes
  // after 5 s), so it takes only recently used connections (review D16).
  ByteStreamPtr take(const std::string& key, Clock::duration max_idle);
  void put(const std::string& key, ByteStreamPtr conn);
  // Whether a connection for `key` is idle here (not checked for liveness).
  bool has_idle(const std::string& key) const {
    auto it = idle_.find(key);
    return it != idle_.end() && !it->second.empty();
  }
  // Closes connections idle longer than the TTL.
  void sweep();
  void clear();
  size_t idle_count() const { return total_; }

  // The idle limit for requests that cannot be retried (see take).
  static constexpr std::chrono::seconds kFreshIdle{2};

  // Open, quiet (no bytes nobody asked for) and not ended by the peer.
  static bool still_usable(ByteStream& conn);

 private:
  struct Idle {
    ByteStreamPtr conn;
    Clock::time_point since;
  };
  // take() and take_if(): one walk, with or without a filter.
  template <class Accept>
  ByteStreamPtr take_where(const std::string& key, Clock::duration max_idle, const Accept& accept);

  std::unordered_map<std::string, std::vector<Idle>> idle_;
  size_t total_ = 0;
  size_t max_per_origin_;
  size_t max_total_;
  std::chrono::seconds ttl_;
};

}  // namespace ferry
