#pragma once
// This host's own addresses, for recognising ferry itself behind a wildcard
// listener (0.0.0.0 / ::) and for keeping remote clients out of the host.
#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <vector>

namespace ferry {

// The addresses of this host's interfaces (getifaddrs), loopback included,
// without IPv6 scope ids; empty if they cannot be read. Read when called: an
// address gained later (DHCP) needs a new call.
std::vector<boost::asio::ip::address> host_interface_addresses();

// The address in an AF_INET or AF_INET6 sockaddr (with its scope id);
// nothing for other families.
std::optional<boost::asio::ip::address> address_of(const sockaddr* sa);

}  // namespace ferry
