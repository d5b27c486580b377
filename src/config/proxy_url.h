#pragma once
// An upstream proxy as written in --upstream, [upstream] proxies or the
// *_PROXY environment variables: [scheme://][user[:pass]@]host[:port][/]
#include <cstdint>
#include <string>
#include <string_view>

#include "base/expected.h"
#include "base/host_port.h"
#include "base/secret.h"

namespace ferry {

enum class ProxyScheme { http, https, socks5, socks5h };

std::string_view proxy_scheme_name(ProxyScheme s);

struct ProxyUrl {
  ProxyScheme scheme = ProxyScheme::http;
  HostPort address;
  std::string user;  // percent-decoded; empty = none
  Secret password;   // percent-decoded; never printed, wiped when freed

  bool has_credentials() const { return !user.empty(); }
  // "scheme://host:port", userinfo removed.
  // Safe for logs, errors and `ferry route` output.
  std::string to_redacted_string() const;
  bool operator==(const ProxyUrl&) const = default;
};

// Errors describe the problem and show the value with any password masked.
Expected<ProxyUrl> parse_proxy_url(std::string_view text);

// The text with any userinfo password replaced by ***, for error messages
// about values that did not even parse.
std::string redact_userinfo(std::string_view text);

}  // namespace ferry
