#include "base/host_port.h"

#include <boost/asio/ip/address.hpp>
#include <charconv>

namespace ferry {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x + 32);
    if (y >= 'A' && y <= 'Z') y = char(y + 32);
    if (x != y) return false;
  }
  return true;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  return out;
}

std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

static bool valid_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Expected<HostPort> parse_host_port(std::string_view text, std::optional<uint16_t> default_port) {
  HostPort out;
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return fail("unterminated '[' in address");
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail("expected ':' after ']'");
      port = rest.substr(1);
      if (port.empty()) return fail("empty port");
    }
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return fail("invalid IPv6 literal");
    out.host = addr.to_string();
  } else {
    auto colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      if (text.find(':') != colon) return fail("IPv6 literal must be in brackets, e.g. [::1]:3128");
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (port.empty()) return fail("empty port");
    } else {
      host = text;
    }
    if (!valid_dns_name(host)) return fail("invalid host name");
    out.host = to_lower(host);
  }
  if (port.empty()) {
    if (!default_port) return fail("missing port");
    out.port = *default_port;
  } else {
    auto p = parse_port(port);
    if (!p) return fail("invalid port (must be 1-65535)");
    out.port = *p;
  }
  return out;
}

std::string HostPort::host_for_url() const { return is_ipv6_literal() ? "[" + host + "]" : host; }

std::string HostPort::to_string() const { return host_for_url() + ":" + std::to_string(port); }

}  // namespace ferry
