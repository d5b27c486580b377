#pragma once
// Forwards one absolute-form request to its origin and relays the response.
#include <string>
#include <utility>
#include <vector>

#include "http/message_framing.h"
#include "http/request_target.h"
#include "server/client_connection.h"

namespace ferry {

struct RequestInjection;

// What the request log keeps of one forwarded request, filled in by the
// forwarder when asked (the response head, the bodies' first bytes).
struct ExchangeCapture {
  std::vector<std::pair<std::string, std::string>> response_headers;
  bool bodies = false;  // capture body prefixes too
  size_t body_limit = 0;
  std::string request_body, response_body;
  uint64_t request_bytes = 0, response_bytes = 0;  // whole bodies, as read
};

// The head's bytes are still at the front of conn.buf; the forwarder
// consumes them once it has built the outgoing head.
// `injection`: the inject rules of the request, applied to every head the
// forwarder sends and to the body (null: none).
awaitable<RequestOutcome> forward_http(ClientConnection& conn, const http::RequestHead& head,
                                       const http::RequestInfo& info, const http::AbsoluteTarget& target,
                                       std::shared_ptr<const RequestInjection> injection = nullptr,
                                       ExchangeCapture* capture = nullptr);

}  // namespace ferry
