#pragma once
// The request-target forms a forward proxy accepts: absolute-form for plain
// requests (RFC 9112 §3.2.2) and authority-form for CONNECT (§3.2.3).
#include <string>
#include <string_view>

#include "base/expected.h"
#include "base/host_port.h"

namespace ferry::http {

struct AbsoluteTarget {
  bool tls = false;  // https
  HostPort authority;
  std::string origin_form;  // path and query, never empty ("/" at least)

  // The Host header value: the port is omitted when it is the scheme's default.
  std::string host_header() const;
  // "http://host:port", the pool key for connections to this origin.
  std::string origin_key() const;
};

Expected<AbsoluteTarget> parse_absolute_target(std::string_view target);
Expected<HostPort> parse_authority_target(std::string_view target);

// A target fit for logs: userinfo removed and the query replaced by "?…",
// since URLs routinely carry tokens in their query string.
std::string loggable_target(std::string_view target);

}  // namespace ferry::http
