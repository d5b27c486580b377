#pragma once
// Responses ferry makes itself: status, Proxy-Status (RFC 9209) and a short
// plain-text body that says what to do next.
#include <string>
#include <string_view>

#include "base/proxy_error.h"

namespace ferry::http {

// `via` is ferry's Via element; `close` adds Connection: close.
std::string make_error_response(const ProxyError& err, std::string_view via, bool close);

// The Proxy-Status field value: ferry; error=<type>; details="<escaped>"
std::string proxy_status_value(const ProxyError& err);

}  // namespace ferry::http
