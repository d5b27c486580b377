#pragma once
// The "acquire a connection" stage of forwarding: an idle pooled connection
// for any of the plan's candidates, else a new one dialled in failover
// order. It remembers which candidate served, so a proxy that dies silently
// on a fresh connection is skipped for the next try, and it redials the
// same proxy when a 407's answer must go to the proxy that asked.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "server/origin_pool.h"
#include "upstream/upstream_dialer.h"

namespace ferry {

struct AcquiredHop {
  ByteStreamPtr stream;
  // The plan's candidate it reaches; owned by the HopAcquirer, which
  // outlives the hop (no copy of its strings per request).
  const HopCandidate* candidate = nullptr;
  const ProxyUrl* forward_proxy = nullptr;  // absolute-form requests go to this proxy
  bool reused = false;                      // from the pool

  const std::string& pool_key() const { return candidate->pool_key; }
  const std::string& route() const { return candidate->route; }  // for logs
};

class HopAcquirer {
 public:
  HopAcquirer(const UpstreamContext& ctx, OriginPool& pool, std::vector<HopCandidate> candidates, HostPort origin,
              bool origin_tls)
      : ctx_(ctx), pool_(pool), candidates_(std::move(candidates)), origin_(std::move(origin)), tls_(origin_tls),
        any_forward_proxy_(std::any_of(candidates_.begin(), candidates_.end(),
                                       [](const HopCandidate& c) { return c.absolute_form; })),
        any_origin_form_(std::any_of(candidates_.begin(), candidates_.end(),
                                     [](const HopCandidate& c) { return !c.absolute_form; })) {}

  // A connection dialled ahead for this request (an intercepted tunnel's
  // early origin leg), under its pool key: take_pooled hands it out first
  // if a candidate has that key and it is still usable, under the same
  // idle limit as a pooled one (review D16), else closes it.
  void adopt(ByteStreamPtr stream, std::string pool_key, OriginPool::Clock::time_point ready_since) {
    adopted_ = std::move(stream);
    adopted_key_ = std::move(pool_key);
    adopted_since_ = ready_since;
  }
  // The adopted connection, else an idle pooled connection (idle for less
  // than `max_idle`) for any candidate, without waiting.
  std::optional<AcquiredHop> take_pooled(OriginPool::Clock::duration max_idle);
  // A new connection from the current candidate on, with failover.
  awaitable<Expected<AcquiredHop, ProxyError>> dial();
  // A new connection to the forward proxy `hop` went to (no failover: the
  // answer to its 407 belongs to it).
  awaitable<Expected<AcquiredHop, ProxyError>> redial(const AcquiredHop& hop);
  // The forward proxy behind a fresh `hop` closed without answering: it is
  // marked down and the next acquire starts after it. False when no
  // candidate is left (then nothing is marked).
  bool fail_over(const AcquiredHop& hop, const ProxyError& why);

  bool any_forward_proxy() const { return any_forward_proxy_; }
  bool any_origin_form() const { return any_origin_form_; }
  const std::string& first_route() const { return candidates_.front().route; }

 private:
  const UpstreamContext& ctx_;
  OriginPool& pool_;
  const std::vector<HopCandidate> candidates_;
  const HostPort origin_;
  const bool tls_;
  const bool any_forward_proxy_;  // some candidate takes absolute-form requests
  const bool any_origin_form_;    // some candidate takes origin-form requests
  ByteStreamPtr adopted_;
  std::string adopted_key_;
  OriginPool::Clock::time_point adopted_since_;
  size_t next_ = 0;  // candidates before this one failed
  size_t used_ = 0;  // the candidate the last dialled connection went to
};

}  // namespace ferry
