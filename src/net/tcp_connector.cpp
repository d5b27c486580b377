#include "net/tcp_connector.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace ferry {

using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {
asio::ip::address unmapped(asio::ip::address a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}
}  // namespace

std::string DestinationFilter::check(const tcp::endpoint& ep) const {
  // ::ffff:127.0.0.1 is 127.0.0.1: judge every address in its IPv4 form.
  auto addr = unmapped(ep.address());
  if (addr.is_unspecified()) return "unspecified address " + addr.to_string();
  if (addr.is_multicast()) return "multicast address " + addr.to_string();
  if (addr.is_v4() && addr.to_v4() == asio::ip::address_v4::broadcast()) return "broadcast address";
  for (const auto& p : prohibited_) {
    if (p.port() != ep.port()) continue;
    auto listener = unmapped(p.address());
    // A wildcard listener (0.0.0.0 / ::) is reachable through this host's
    // loopback addresses; remote hosts on the same port are someone else.
    bool via_wildcard = listener.is_unspecified() && addr.is_loopback() && listener.is_v4() == addr.is_v4();
    if (via_wildcard || listener == addr)
      return "ferry's own listener " + addr.to_string() + ":" + std::to_string(ep.port());
  }
  return {};
}

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

namespace {

ProxyError connect_error(const error_code& ec, const tcp::endpoint& ep) {
  std::string where = ep.address().to_string() + " port " + std::to_string(ep.port());
  if (ec == asio::error::connection_refused) return {ProxyErrc::connection_refused, "connection refused by " + where};
  if (ec == asio::error::timed_out) return {ProxyErrc::connection_timeout, "connection to " + where + " timed out"};
  return {ProxyErrc::connection_refused, "cannot connect to " + where + ": " + ec.message()};
}

}  // namespace

awaitable<Expected<std::vector<tcp::endpoint>, ProxyError>> resolve_host(const HostPort& target, Millis timeout) {
  auto ex = co_await asio::this_coro::executor;
  error_code addr_ec;
  auto literal = asio::ip::make_address(target.host, addr_ec);
  if (!addr_ec) co_return std::vector<tcp::endpoint>{tcp::endpoint(literal, target.port)};

  tcp::resolver resolver(ex);
  asio::steady_timer timer(ex, timeout);
  error_code ec;
  tcp::resolver::results_type results;
  auto which = co_await (
      resolver.async_resolve(target.host, std::to_string(target.port), tcp::resolver::numeric_service,
                             asio::redirect_error(asio::use_awaitable, ec)) ||
      timer.async_wait(nothrow_awaitable));
  if (which.index() == 1) co_return Unexpected{ProxyError{ProxyErrc::dns_timeout, "DNS lookup of " + target.host + " timed out"}};
  results = std::get<0>(which);
  if (ec || results.empty())
    co_return Unexpected{ProxyError{ProxyErrc::dns_error, "cannot resolve host " + target.host}};
  std::vector<tcp::endpoint> eps;
  for (const auto& r : results) eps.push_back(r.endpoint());
  co_return eps;
}

awaitable<Expected<tcp::socket, ProxyError>> connect_tcp(const HostPort& target, Millis timeout,
                                                         const DestinationFilter& filter) {
  const auto deadline = Clock::now() + timeout;
  auto resolved = co_await resolve_host(target, timeout);
  if (!resolved) co_return Unexpected{resolved.error()};

  std::vector<tcp::endpoint> candidates;
  std::string prohibited_why;
  for (const auto& ep : interleave_families(*resolved)) {
    auto why = filter.check(ep);
    if (why.empty()) candidates.push_back(ep);
    else prohibited_why = why;
  }
  if (candidates.empty())
    co_return Unexpected{ProxyError{ProxyErrc::destination_ip_prohibited, target.host + " resolves to " + prohibited_why}};

  auto ex = co_await asio::this_coro::executor;
  ProxyError last{ProxyErrc::connection_refused, "no address to connect to"};
  for (size_t i = 0; i < candidates.size(); ++i) {
    auto now = Clock::now();
    if (now >= deadline) break;
    auto remaining = std::chrono::duration_cast<Millis>(deadline - now);
    // Leave time for the other family when this attempt hangs.
    auto budget = (i + 1 < candidates.size()) ? std::min<Millis>(remaining, std::max<Millis>(remaining / 2, Millis(2000)))
                                              : remaining;
    tcp::socket sock(ex);
    asio::steady_timer timer(ex, budget);
    error_code ec;
    auto which = co_await (sock.async_connect(candidates[i], asio::redirect_error(asio::use_awaitable, ec)) ||
                           timer.async_wait(nothrow_awaitable));
    if (which.index() == 1) {
      last = connect_error(asio::error::timed_out, candidates[i]);
      continue;
    }
    if (ec) {
      last = connect_error(ec, candidates[i]);
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);
    co_return std::move(sock);
  }
  if (last.type == ProxyErrc::connection_timeout || Clock::now() >= deadline)
    last = {ProxyErrc::connection_timeout,
            "connection to " + target.to_string() + " timed out after " + format_duration(timeout)};
  co_return Unexpected{last};
}

}  // namespace ferry
