#include "upstream/socks5_codec.h"

#include <boost/asio/ip/address.hpp>

namespace ferry::socks5 {

std::string greeting(bool offer_userpass) {
  std::string g;
  g.push_back(char(kVersion));
  if (offer_userpass) {
    g.push_back(2);
    g.push_back(char(kMethodNone));
    g.push_back(char(kMethodUserPass));
  } else {
    g.push_back(1);
    g.push_back(char(kMethodNone));
  }
  return g;
}

bool userpass_request(std::string_view user, std::string_view password, std::string& out) {
  if (user.empty() || user.size() > 255 || password.size() > 255) return false;
  out.clear();
  out.push_back(1);  // sub-negotiation version
  out.push_back(char(user.size()));
  out.append(user);
  out.push_back(char(password.size()));
  out.append(password);
  return true;
}

std::string connect_request(std::string_view host, uint16_t port) {
  std::string r{char(kVersion), 1 /*CONNECT*/, 0};
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(std::string(host), ec);
  if (!ec && addr.is_v4()) {
    r.push_back(1);
    for (auto b : addr.to_v4().to_bytes()) r.push_back(char(b));
  } else if (!ec && addr.is_v6()) {
    r.push_back(4);
    for (auto b : addr.to_v6().to_bytes()) r.push_back(char(b));
  } else {
    r.push_back(3);
    r.push_back(char(std::min<size_t>(host.size(), 255)));
    r.append(host.substr(0, 255));
  }
  r.push_back(char(port >> 8));
  r.push_back(char(port & 0xFF));
  return r;
}

Reply parse_reply(std::string_view d) {
  Reply r;
  if (d.size() < 5) return r;
  if (uint8_t(d[0]) != kVersion || d[2] != 0) {
    r.malformed = true;
    return r;
  }
  r.code = uint8_t(d[1]);
  size_t addr_len = 0;
  switch (uint8_t(d[3])) {
    case 1: addr_len = 4; break;
    case 4: addr_len = 16; break;
    case 3: addr_len = 1 + uint8_t(d[4]); break;
    default: r.malformed = true; return r;
  }
  size_t total = 4 + addr_len + 2;
  if (d.size() >= total) r.size = total;
  return r;
}

ProxyError reply_error(uint8_t code, std::string_view proxy) {
  std::string who = "SOCKS5 proxy " + std::string(proxy);
  switch (code) {
    case 2: return {ProxyErrc::http_request_denied, who + ": connection not allowed by ruleset", 403};
    case 3: return {ProxyErrc::connection_refused, who + ": network unreachable"};
    case 4: return {ProxyErrc::dns_error, who + ": host unreachable"};
    case 5: return {ProxyErrc::connection_refused, who + ": connection refused by the target"};
    case 6: return {ProxyErrc::connection_timeout, who + ": TTL expired"};
    case 7: return {ProxyErrc::proxy_internal_error, who + ": command not supported", 502};
    case 8: return {ProxyErrc::proxy_internal_error, who + ": address type not supported", 502};
    default: return {ProxyErrc::connection_refused, who + ": general failure (code " + std::to_string(code) + ")"};
  }
}

}  // namespace ferry::socks5
