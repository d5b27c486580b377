#include "net/tcp_connector.h"

#include "policy/network_policy.h"

#include <algorithm>
#include <memory>
#include <optional>

namespace ferry {

using Clock = std::chrono::steady_clock;

std::vector<tcp::endpoint> interleave_families(const std::vector<tcp::endpoint>& endpoints) {
  std::vector<tcp::endpoint> first, second, out;
  if (endpoints.empty()) return out;
  const bool first_is_v6 = endpoints.front().address().is_v6();
  for (const auto& ep : endpoints) (ep.address().is_v6() == first_is_v6 ? first : second).push_back(ep);
  for (size_t i = 0; i < first.size() || i < second.size(); ++i) {
    if (i < first.size()) out.push_back(first[i]);
    if (i < second.size()) out.push_back(second[i]);
  }
  return out;
}

awaitable<Expected<std::vector<tcp::endpoint>, ProxyError>> resolve_host(const HostPort& target, Millis timeout,
                                                                         DnsResolver& resolver) {
  error_code addr_ec;
  auto literal = asio::ip::make_address(target.host, addr_ec);
  if (!addr_ec) co_return std::vector<tcp::endpoint>{tcp::endpoint(literal, target.port)};
  auto addresses = co_await resolver.resolve(target.host, timeout);
  if (!addresses) co_return Unexpected{addresses.error()};
  std::vector<tcp::endpoint> eps;
  for (const auto& a : *addresses) eps.emplace_back(a, target.port);
  co_return eps;
}

namespace {

// Errors ranked across attempts, h2o style: a refusal proves the address
// answered, so it says more than a timeout, which says more than a local
// failure (no route, network unreachable) that never reached the host.
struct RankedError {
  int rank = 0;
  ProxyError error{ProxyErrc::connection_refused, "no address to connect to"};

  void offer(const error_code& ec, const tcp::endpoint& ep) {
    std::string where = ep.address().to_string() + " port " + std::to_string(ep.port());
    int r = 1;
    ProxyError e{ProxyErrc::connection_refused, "cannot connect to " + where + ": " + ec.message()};
    if (ec == asio::error::connection_refused) {
      r = 3;
      e = {ProxyErrc::connection_refused, "connection refused by " + where};
    } else if (ec == asio::error::timed_out) {
      r = 2;
      e = {ProxyErrc::connection_timeout, "connection to " + where + " timed out"};
    }
    if (r > rank) {
      rank = r;
      error = std::move(e);
    }
  }
};

// The attempts of one connect_tcp, shared with their coroutines (which may
// finish after connect_tcp has returned: a loser's close completes later).
struct Race {
  explicit Race(const asio::any_io_executor& ex) : wake(ex) {}
  asio::steady_timer wake;  // connect_tcp sleeps here; a finished attempt wakes it
  std::vector<std::unique_ptr<tcp::socket>> sockets;
  std::optional<tcp::socket> winner;
  size_t pending = 0;
  RankedError failure;
};

awaitable<void> attempt(std::shared_ptr<Race> race, size_t i, tcp::endpoint ep) {
  auto [ec] = co_await race->sockets[i]->async_connect(ep, nothrow_awaitable);
  --race->pending;
  if (!ec && !race->winner) race->winner.emplace(std::move(*race->sockets[i]));
  else if (ec && ec != asio::error::operation_aborted) race->failure.offer(ec, ep);
  race->wake.cancel();
}

}  // namespace

awaitable<Expected<tcp::socket, ProxyError>> connect_tcp(const HostPort& target, Millis timeout,
                                                         const Destinations& to) {
  const auto deadline = Clock::now() + timeout;
  auto resolved = co_await resolve_host(target, timeout, to.resolver);
  if (!resolved) co_return Unexpected{resolved.error()};

  std::vector<tcp::endpoint> candidates;
  std::string prohibited_why;
  for (const auto& ep : interleave_families(*resolved)) {
    auto why = to.filter.check(ep, to.scope);
    if (why.empty() && to.policy)
      if (auto denied = to.policy->deny_address(ep.address())) why = std::move(*denied);
    if (why.empty()) candidates.push_back(ep);
    else prohibited_why = why;
  }
  if (candidates.empty())
    co_return Unexpected{
        ProxyError{ProxyErrc::destination_ip_prohibited, target.host + " resolves to " + prohibited_why}};

  auto ex = co_await asio::this_coro::executor;
  auto race = std::make_shared<Race>(ex);
  size_t next = 0;
  Clock::time_point last_start;
  bool cancelled = false;
  for (;;) {
    if (race->winner) break;
    const auto now = Clock::now();
    if (now >= deadline) break;
    const bool more = next < candidates.size();
    if (more && (race->pending == 0 || now - last_start >= kConnectionAttemptDelay)) {
      race->sockets.push_back(std::make_unique<tcp::socket>(ex));
      ++race->pending;
      asio::co_spawn(ex, attempt(race, next, candidates[next]), asio::detached);
      ++next;
      last_start = now;
      continue;
    }
    if (!more && race->pending == 0) break;
    race->wake.expires_at(more ? std::min(deadline, last_start + kConnectionAttemptDelay) : deadline);
    co_await race->wake.async_wait(nothrow_awaitable);
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
      cancelled = true;
      break;
    }
  }
  // The losers (the winner's socket was moved out).
  for (auto& s : race->sockets) {
    error_code ignored;
    s->close(ignored);
  }
  if (race->winner && !cancelled) {
    error_code ignored;
    race->winner->set_option(tcp::no_delay(true), ignored);
    co_return std::move(*race->winner);
  }
  // Out of time with attempts pending counts as a timeout; a refusal seen
  // meanwhile still says more.
  if (race->pending > 0 || cancelled) race->failure.offer(asio::error::timed_out, candidates.front());
  ProxyError err = race->failure.error;
  if (err.type == ProxyErrc::connection_timeout)
    err.details = "connection to " + target.to_string() + " timed out after " + format_duration(timeout);
  co_return Unexpected{std::move(err)};
}

}  // namespace ferry
