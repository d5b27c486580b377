#pragma once
// Where ferry may connect: addresses it never dials, its own listeners
// (self-loops), and the ferry host itself for clients on other hosts.
#include <string>
#include <vector>

#include "net/asio.h"

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
  void prohibit(const tcp::endpoint& ep) { prohibited_.push_back(ep); }
  // This host's interface addresses: a wildcard listener is reachable
  // through each of them, and remote clients may not target them.
  void set_host_addresses(const std::vector<asio::ip::address>& addresses);
  // Empty when allowed, else why not.
  std::string check(const tcp::endpoint& ep, ClientScope scope = ClientScope::local) const;

 private:
  bool is_host_address(const asio::ip::address& a) const;
  std::vector<tcp::endpoint> prohibited_;
  std::vector<asio::ip::address> host_addresses_;
};

}  // namespace ferry
