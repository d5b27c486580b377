#include "net/host_addresses.h"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>

namespace ferry {

std::vector<boost::asio::ip::address> host_interface_addresses() {
  namespace ip = boost::asio::ip;
  std::vector<ip::address> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      out.push_back(ip::address_v4(ntohl(sin->sin_addr.s_addr)));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      ip::address_v6::bytes_type bytes;
      std::copy_n(sin6->sin6_addr.s6_addr, bytes.size(), bytes.begin());
      out.push_back(ip::address_v6(bytes));
    }
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace ferry
