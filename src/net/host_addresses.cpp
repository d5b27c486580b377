#include "net/host_addresses.h"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>

namespace ferry {

std::optional<boost::asio::ip::address> address_of(const sockaddr* sa) {
  namespace ip = boost::asio::ip;
  if (!sa) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
    return ip::address_v4(ntohl(sin->sin_addr.s_addr));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ip::address_v6::bytes_type bytes;
    std::copy_n(sin6->sin6_addr.s6_addr, bytes.size(), bytes.begin());
    return ip::address_v6(bytes, sin6->sin6_scope_id);
  }
  return std::nullopt;
}

std::vector<boost::asio::ip::address> host_interface_addresses() {
  std::vector<boost::asio::ip::address> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i; i = i->ifa_next) {
    auto a = address_of(i->ifa_addr);
    if (!a) continue;
    // Scope ids say which link, not which address.
    if (a->is_v6()) out.push_back(boost::asio::ip::address_v6(a->to_v6().to_bytes()));
    else out.push_back(*a);
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace ferry
