#pragma once
// Requests addressed to ferry itself rather than through it (origin-form,
// SPEC §7 "Relays"): `/relay/NAME/PATH` goes to the relay's target with
// PATH appended, `/mcp/NAME/PATH` likewise for an [[mcp]] server. For hosts
// a client must reach through NO_PROXY: the target host's inject rules
// still apply, and the client never holds the credential.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "base/proxy_error.h"
#include "http/request_target.h"

namespace ferry {

struct RelayRoute {
  std::string prefix;         // "/relay/NAME" or "/mcp/NAME"
  http::AbsoluteTarget base;  // the target URL; base.origin_form has no trailing '/' (unless it is "/")
};

// The target a request for `origin_form` goes to; nullopt when no relay
// route's prefix matches. Refused with 400 http_request_error: dot
// segments, encoded slashes or backslashes, encoded dots, NUL and control
// bytes in the path (a path may not climb out of the relay's base).
std::optional<Expected<http::AbsoluteTarget, ProxyError>> relay_target(const std::vector<RelayRoute>& routes,
                                                                       std::string_view origin_form);

// A route from a config entry (`name`, `target` URL); errors name the problem.
Expected<RelayRoute> make_relay_route(std::string_view kind, std::string_view name, std::string_view target);

}  // namespace ferry
