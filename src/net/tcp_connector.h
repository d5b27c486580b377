#pragma once
// Resolves a host asynchronously and connects to it, trying the addresses
// in the resolver's order with address families interleaved (IPv6/IPv4
// fallback), within one overall timeout.
#include <functional>
#include <vector>

#include "base/duration.h"
#include "base/expected.h"
#include "base/host_port.h"
#include "base/proxy_error.h"
#include "net/asio.h"

namespace ferry {

// Addresses ferry will never connect to (unspecified, multicast, broadcast)
// plus any the caller adds (ferry's own listeners, to break self-loops).
class DestinationFilter {
 public:
  void prohibit(const tcp::endpoint& ep) { prohibited_.push_back(ep); }
  // Empty when allowed, else why not.
  std::string check(const tcp::endpoint& ep) const;

 private:
  std::vector<tcp::endpoint> prohibited_;
};

// Orders resolved endpoints so consecutive attempts alternate families,
// starting with the family the resolver preferred.
std::vector<tcp::endpoint> interleave_families(const std::vector<tcp::endpoint>& endpoints);

// Resolves a name (an IP literal is returned as is) within `timeout`.
awaitable<Expected<std::vector<tcp::endpoint>, ProxyError>> resolve_host(const HostPort& target, Millis timeout);

awaitable<Expected<tcp::socket, ProxyError>> connect_tcp(const HostPort& target, Millis timeout,
                                                         const DestinationFilter& filter);

}  // namespace ferry
