#include "server/hop_acquirer.h"

#include "policy/network_policy.h"

namespace ferry {

namespace {

AcquiredHop reused_hop(ByteStreamPtr stream, const HopCandidate& c) {
  AcquiredHop hop;
  hop.stream = std::move(stream);
  hop.candidate = &c;
  hop.forward_proxy = c.absolute_form ? c.proxy : nullptr;
  hop.reused = true;
  return hop;
}

}  // namespace

std::optional<AcquiredHop> HopAcquirer::take_pooled(OriginPool::Clock::duration max_idle) {
  if (ByteStreamPtr early = std::move(adopted_)) {
    const bool fresh =
        max_idle == OriginPool::Clock::duration::max() || OriginPool::Clock::now() - adopted_since_ < max_idle;
    for (const auto& c : candidates_)
      if (fresh && c.pool_key == adopted_key_ && OriginPool::still_usable(*early))
        return reused_hop(std::move(early), c);
    early->close();
  }
  // A direct connection pooled by a request under another policy went to
  // an address this request's policy may deny (SPEC §7 deny_ips,
  // deny_private): it stays pooled for the others.
  const NetworkPolicy* policy = ctx_.destinations.policy;
  const std::function<bool(ByteStream&)> allowed = [policy](ByteStream& s) {
    error_code ec;
    const auto peer = s.socket().remote_endpoint(ec);
    return !ec && !policy->deny_address(peer.address());
  };
  for (const auto& c : candidates_) {
    ByteStreamPtr stream =
        !c.proxy && policy ? pool_.take_if(c.pool_key, max_idle, allowed) : pool_.take(c.pool_key, max_idle);
    if (stream) return reused_hop(std::move(stream), c);
  }
  return std::nullopt;
}

awaitable<Expected<AcquiredHop, ProxyError>> HopAcquirer::dial() {
  AcquiredHop hop;
  const auto remaining = std::span<const HopCandidate>(candidates_).subspan(next_);
  auto opened = co_await open_request_hop(ctx_, remaining, origin_, tls_);
  if (!opened) co_return Unexpected{opened.error()};
  hop.stream = std::move(opened->stream);
  hop.forward_proxy = opened->forward_proxy;
  for (size_t i = next_; i < candidates_.size(); ++i)
    if (candidates_[i].pool_key == opened->pool_key) used_ = i;
  hop.candidate = &candidates_[used_];
  co_return std::move(hop);
}

awaitable<Expected<AcquiredHop, ProxyError>> HopAcquirer::redial(const AcquiredHop& previous) {
  auto again = co_await connect_to_proxy(ctx_, *previous.forward_proxy);
  if (!again) co_return Unexpected{again.error().error};
  AcquiredHop hop;
  hop.stream = std::move(*again);
  hop.candidate = previous.candidate;
  hop.forward_proxy = previous.forward_proxy;
  co_return std::move(hop);
}

bool HopAcquirer::fail_over(const AcquiredHop& hop, const ProxyError& why) {
  if (!hop.forward_proxy || hop.reused || used_ + 1 >= candidates_.size()) return false;
  report_upstream_failure(ctx_, *hop.forward_proxy, why, true);
  next_ = used_ + 1;
  return true;
}

}  // namespace ferry
