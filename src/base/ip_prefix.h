#pragma once
// An IP network in CIDR notation (192.0.2.0/24, ::1/128); a bare address is
// a host prefix.
#include <boost/asio/ip/address.hpp>
#include <string>
#include <string_view>

#include "base/expected.h"

namespace ferry {

class IpPrefix {
 public:
  static Expected<IpPrefix> parse(std::string_view text);

  bool contains(const boost::asio::ip::address& addr) const;
  std::string to_string() const;
  // IPv4-mapped prefixes are stored as IPv4; host bits are zero.
  const boost::asio::ip::address& network() const { return network_; }
  int bits() const { return bits_; }
  bool operator==(const IpPrefix&) const = default;

 private:
  boost::asio::ip::address network_;
  int bits_ = 0;
};

}  // namespace ferry
