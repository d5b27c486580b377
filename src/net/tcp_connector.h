#pragma once
// Resolves a host through the shared resolver and connects to it, racing
// the addresses RFC 8305 style (Happy Eyeballs), within one overall timeout.
#include <functional>
#include <vector>

#include "base/duration.h"
#include "base/expected.h"
#include "base/host_port.h"
#include "base/proxy_error.h"
#include "net/asio.h"
#include "net/destination_filter.h"
#include "net/dns_resolver.h"

namespace ferry {

class NetworkPolicy;  // policy/network_policy.h

// How connections reach their destinations: names through the shared
// resolver, addresses through the filter's rules for this kind of client.
struct Destinations {
  DnsResolver& resolver;
  const DestinationFilter& filter;
  ClientScope scope = ClientScope::local;
  // The request's network policy (SPEC §7): its deny_ips / deny_private
  // are checked on every resolved address, and only checked addresses are
  // dialled (no second lookup). Null for connections ferry makes on the
  // operator's behalf (upstream proxies, the KDC).
  const NetworkPolicy* policy = nullptr;
};

// Orders resolved endpoints so consecutive attempts alternate families,
// starting with the family the resolver preferred (getaddrinfo sorts by
// RFC 6724, which puts IPv6 first where the host can use it).
std::vector<tcp::endpoint> interleave_families(const std::vector<tcp::endpoint>& endpoints);

// Resolves a name (an IP literal is returned as is) within `timeout`; no filtering.
awaitable<Expected<std::vector<tcp::endpoint>, ProxyError>> resolve_host(const HostPort& target, Millis timeout,
                                                                         DnsResolver& resolver);

// How long an attempt has alone before the next address is tried (RFC 8305 §5).
inline constexpr Millis kConnectionAttemptDelay{250};

// Connects to the first allowed address that answers: a new attempt starts
// every kConnectionAttemptDelay while earlier ones are pending (at once when
// one fails), the first success wins and the others are closed. If all fail,
// the most meaningful error is reported: refused (the host answered) over
// timed out over unreachable and other local errors; a prohibited address
// counts only when every address was prohibited.
awaitable<Expected<tcp::socket, ProxyError>> connect_tcp(const HostPort& target, Millis timeout,
                                                         const Destinations& to);

}  // namespace ferry
