#pragma once
// host[:port] as it appears in a CONNECT target, a URL authority or a
// --listen value. IPv6 literals are written in brackets and stored without.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/expected.h"

namespace ferry {

struct HostPort {
  std::string host;  // lower-cased; IPv6 literals without brackets
  uint16_t port = 0;

  bool is_ipv6_literal() const { return host.find(':') != std::string::npos; }
  // "host:port", with brackets around IPv6 literals. Round-trips through parse_host_port.
  std::string to_string() const;
  // "host" or "[v6]" — what goes in a Host header when the port is the default.
  std::string host_for_url() const;
  bool operator==(const HostPort&) const = default;
};

// Parses "host:port", "[v6]:port" and, when default_port is set, a bare host.
// The host must be a DNS name (letters, digits, '-', '_', '.') or an IP literal.
Expected<HostPort> parse_host_port(std::string_view text, std::optional<uint16_t> default_port = std::nullopt);

// Parses a decimal port 1..65535.
std::optional<uint16_t> parse_port(std::string_view text);

bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view s);

}  // namespace ferry
