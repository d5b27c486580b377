#pragma once
// Responses ferry makes itself: status, Proxy-Status (RFC 9209) and a short
// plain-text body that says what to do next.
#include <string>
#include <string_view>

#include "base/proxy_error.h"

namespace ferry::http {

// `via` is ferry's Via element; `close` adds Connection: close. `method` is
// the request's: the answer to a HEAD has no body (RFC 9110 §9.3.2), else
// the client would read it as the start of the next response.
std::string make_error_response(const ProxyError& err, std::string_view via, bool close, std::string_view method);

// ferry's own answer to "OPTIONS ... Max-Forwards: 0" (RFC 9110 §7.6.2):
// the request ends here, 200 with the methods ferry passes on.
std::string make_options_response(std::string_view via, bool close);

// The Proxy-Status field value: ferry; error=<type>; details="<escaped>"
std::string proxy_status_value(const ProxyError& err);

}  // namespace ferry::http
