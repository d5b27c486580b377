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
#include "net/dns_resolver.h"
#include "net/host_addresses.h"

namespace ferry {

// Whose request a connection serves: clients on other hosts may not reach
// into the ferry host (its loopback, link-local or own addresses), as
// Squid's default to_localhost rule; the local user keeps full reach.
enum class ClientScope { local, remote };
ClientScope scope_of_client(const asio::ip::address& client);

// Ports a remote client may name in a plain HTTP request (Squid's
// Safe_ports in short: 80, 443, 1025-65535): no POST to a mail or other
// line-protocol server from across the network. CONNECT has --connect-ports.
bool plain_http_port_allowed(uint16_t port);

// Addresses ferry will never connect to (unspecified, multicast, broadcast)
// plus any the caller adds (ferry's own listeners, to break self-loops),
// and, for remote clients, the ferry host itself.
class DestinationFilter {
 public:
  void prohibit(tcp::endpoint ep) { prohibited_.push_back(ep); }
  // This host's interface addresses: a wildcard listener is reachable
  // through each of them, and remote clients may not target them.
  void set_host_addresses(std::vector<asio::ip::address> addresses);
  // Empty when allowed, else why not.
  std::string check(const tcp::endpoint& ep, ClientScope scope = ClientScope::local) const;

 private:
  bool is_host_address(const asio::ip::address& a) const;
  std::vector<tcp::endpoint> prohibited_;
  std::vector<asio::ip::address> host_addresses_;
};

// How connections reach their destinations: names through the shared
// resolver, addresses through the filter's rules for this kind of client.
struct Destinations {
  DnsResolver& resolver;
  const DestinationFilter& filter;
  ClientScope scope = ClientScope::local;
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
