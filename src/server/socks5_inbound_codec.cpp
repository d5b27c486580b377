#include "server/socks5_inbound_codec.h"

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>

#include "base/host_port.h"

namespace ferry::socks5 {

namespace {

bool valid_name_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

uint16_t read_port(std::string_view d, size_t at) { return uint16_t((uint8_t(d[at]) << 8) | uint8_t(d[at + 1])); }

template <size_t N>
std::array<unsigned char, N> read_bytes(std::string_view d, size_t at) {
  std::array<unsigned char, N> b{};
  for (size_t i = 0; i < N; ++i) b[i] = static_cast<unsigned char>(d[at + i]);
  return b;
}

// Sets host/host_is_name from a domain-name field, or returns false.
bool take_domain(std::string_view name, Request& r) {
  if (name.empty()) return false;
  // An IP literal in the name field: dotted IPv4, or IPv6 bare or in
  // brackets. No scope ids ('%'), which make_address would accept.
  if (name.find_first_of(std::string_view("%\0", 2)) == std::string_view::npos) {
    boost::system::error_code ec;
    boost::asio::ip::address addr;
    if (name.size() >= 2 && name.front() == '[' && name.back() == ']')
      addr = boost::asio::ip::make_address_v6(std::string(name.substr(1, name.size() - 2)), ec);
    else addr = boost::asio::ip::make_address(std::string(name), ec);
    if (!ec) {
      r.host = addr.to_string();
      r.host_is_name = false;
      return true;
    }
  }
  if (!std::all_of(name.begin(), name.end(), valid_name_byte)) return false;
  r.host = to_lower(name);
  r.host_is_name = true;
  return true;
}

}  // namespace

Greeting parse_greeting(std::string_view d) {
  Greeting g;
  if (d.empty()) return g;
  if (uint8_t(d[0]) != kVersion) {
    g.malformed = true;
    return g;
  }
  if (d.size() < 2) return g;
  size_t n = uint8_t(d[1]);
  if (n == 0) {
    g.malformed = true;
    return g;
  }
  if (d.size() < 2 + n) return g;
  g.methods.assign(d.begin() + 2, d.begin() + 2 + n);
  g.size = 2 + n;
  return g;
}

uint8_t select_method(const std::vector<uint8_t>& offered, bool require_userpass) {
  uint8_t want = require_userpass ? kMethodUserPass : kMethodNone;
  return std::find(offered.begin(), offered.end(), want) != offered.end() ? want : kMethodUnacceptable;
}

std::string method_selection(uint8_t method) { return {char(kVersion), char(method)}; }

UserPass parse_userpass(std::string_view d) {
  UserPass u;
  if (d.empty()) return u;
  if (uint8_t(d[0]) != kUserPassVersion) {
    u.malformed = true;
    return u;
  }
  if (d.size() < 2) return u;
  size_t ulen = uint8_t(d[1]);
  size_t plen_at = 2 + ulen;
  if (d.size() < plen_at + 1) return u;
  size_t plen = uint8_t(d[plen_at]);
  size_t total = plen_at + 1 + plen;
  if (d.size() < total) return u;
  u.user.assign(d.substr(2, ulen));
  u.password.assign(d.substr(plen_at + 1, plen));
  u.size = total;
  return u;
}

std::string userpass_status(bool ok) { return {char(kUserPassVersion), char(ok ? 0 : 1)}; }

Request parse_request(std::string_view d) {
  Request r;
  auto bad = [&r](uint8_t code) {
    r.malformed = true;
    r.error_reply = code;
    r.size = 0;
    return r;
  };
  if (d.empty()) return r;
  if (uint8_t(d[0]) != kVersion) return bad(kReplyGeneralFailure);
  if (d.size() < 2) return r;
  r.command = uint8_t(d[1]);
  if (d.size() < 3) return r;
  if (d[2] != 0) return bad(kReplyGeneralFailure);
  if (d.size() < 4) return r;
  switch (uint8_t(d[3])) {
    case kAtypIpv4: {
      if (d.size() < 4 + 4 + 2) return r;
      r.host = boost::asio::ip::address_v4(read_bytes<4>(d, 4)).to_string();
      r.port = read_port(d, 8);
      r.size = 10;
      return r;
    }
    case kAtypIpv6: {
      if (d.size() < 4 + 16 + 2) return r;
      auto v6 = boost::asio::ip::address_v6(read_bytes<16>(d, 4));
      r.host = v6.to_string();
      r.port = read_port(d, 20);
      r.size = 22;
      return r;
    }
    case kAtypDomain: {
      if (d.size() < 5) return r;
      size_t len = uint8_t(d[4]);
      if (len == 0) return bad(kReplyGeneralFailure);
      size_t total = 5 + len + 2;
      if (d.size() < total) return r;
      if (!take_domain(d.substr(5, len), r)) return bad(kReplyGeneralFailure);
      r.port = read_port(d, 5 + len);
      r.size = total;
      return r;
    }
    default: return bad(kReplyAddressTypeNotSupported);
  }
}

uint8_t rejection_code(const Request& r) {
  if (r.malformed) return r.error_reply ? r.error_reply : kReplyGeneralFailure;
  if (r.command != kCmdConnect) return kReplyCommandNotSupported;
  return 0;
}

std::string reply(uint8_t code, const boost::asio::ip::tcp::endpoint* bound) {
  std::string out{char(kVersion), char(code), 0};
  boost::asio::ip::address addr = boost::asio::ip::address_v4::any();
  uint16_t port = 0;
  if (bound) {
    addr = bound->address();
    port = bound->port();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped())
      addr = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, addr.to_v6());
  }
  if (addr.is_v4()) {
    out.push_back(char(kAtypIpv4));
    for (auto b : addr.to_v4().to_bytes()) out.push_back(char(b));
  } else {
    out.push_back(char(kAtypIpv6));
    for (auto b : addr.to_v6().to_bytes()) out.push_back(char(b));
  }
  out.push_back(char(port >> 8));
  out.push_back(char(port & 0xFF));
  return out;
}

uint8_t reply_code_for(const ProxyError& err) {
  switch (err.type) {
    case ProxyErrc::dns_error:
    case ProxyErrc::dns_timeout: return kReplyHostUnreachable;
    case ProxyErrc::connection_refused: return kReplyConnectionRefused;
    case ProxyErrc::connection_timeout: return kReplyTtlExpired;
    case ProxyErrc::destination_unavailable: return kReplyNetworkUnreachable;
    case ProxyErrc::destination_ip_prohibited:
    case ProxyErrc::http_request_denied: return kReplyNotAllowed;
    default: return kReplyGeneralFailure;
  }
}

}  // namespace ferry::socks5
