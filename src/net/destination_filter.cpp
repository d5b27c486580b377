#include "net/destination_filter.h"

#include <algorithm>

namespace ferry {

namespace {
asio::ip::address unmapped(asio::ip::address a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

bool is_link_local(const asio::ip::address& a) {
  if (a.is_v4()) return (a.to_v4().to_uint() & 0xffff0000u) == 0xa9fe0000u;  // 169.254/16
  return a.to_v6().is_link_local();                                          // fe80::/10
}

// Scope ids say which link, not which address: compare without them.
asio::ip::address without_scope(asio::ip::address a) {
  if (a.is_v6()) {
    auto v6 = a.to_v6();
    v6.scope_id(0);
    return v6;
  }
  return a;
}
}  // namespace

ClientScope scope_of_client(const asio::ip::address& client) {
  return unmapped(client).is_loopback() ? ClientScope::local : ClientScope::remote;
}

bool plain_http_port_allowed(uint16_t port) { return port == 80 || port == 443 || port > 1024; }

void DestinationFilter::set_host_addresses(const std::vector<asio::ip::address>& addresses) {
  host_addresses_.clear();
  for (const auto& a : addresses) host_addresses_.push_back(without_scope(unmapped(a)));
}

bool DestinationFilter::is_host_address(const asio::ip::address& a) const {
  return std::find(host_addresses_.begin(), host_addresses_.end(), without_scope(a)) != host_addresses_.end();
}

std::string DestinationFilter::check(const tcp::endpoint& ep, ClientScope scope) const {
  // ::ffff:127.0.0.1 is 127.0.0.1: judge every address in its IPv4 form.
  auto addr = unmapped(ep.address());
  if (addr.is_unspecified()) return "unspecified address " + addr.to_string();
  if (addr.is_multicast()) return "multicast address " + addr.to_string();
  if (addr.is_v4() && addr.to_v4() == asio::ip::address_v4::broadcast()) return "broadcast address";
  const bool own = addr.is_loopback() || is_host_address(addr);
  for (const auto& p : prohibited_) {
    if (p.port() != ep.port()) continue;
    auto listener = unmapped(p.address());
    // A wildcard listener (0.0.0.0 / ::) is reachable through every address
    // of this host; remote hosts on the same port are someone else.
    bool via_wildcard = listener.is_unspecified() && own && listener.is_v4() == addr.is_v4();
    if (via_wildcard || listener == addr)
      return "ferry's own listener " + addr.to_string() + ":" + std::to_string(ep.port());
  }
  if (scope == ClientScope::remote) {
    if (addr.is_loopback()) return "loopback address " + addr.to_string() + " (only for local clients)";
    if (is_link_local(addr)) return "link-local address " + addr.to_string() + " (only for local clients)";
    if (own) return "the proxy host's own address " + addr.to_string() + " (only for local clients)";
  }
  return {};
}

}  // namespace ferry
