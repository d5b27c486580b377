#pragma once
// The last stage of forwarding: the origin's final head, re-framed for the
// client, and its body (or, for a 101, the upgraded connection) relayed.
// Decides whether the client and the origin connections can carry another
// request.
#include <string>

#include "http/message_framing.h"
#include "server/origin_exchange.h"
#include "server/tunnel_relay.h"

namespace ferry {

struct RelayRequest {
  int client_minor = 1;
  bool client_keep_alive = true;
  bool client_body_unread = false;  // the client still owes body bytes
  bool upgrade_requested = false;
  bool draining = false;   // the server is shutting down
  std::string_view via;    // our Via element for the response
  RelayMode relay_mode{};  // 101 tunnels
};

struct RelayResult {
  bool relayed_head = false;  // some of the response reached the client
  bool client_keep_alive = false;
  bool origin_reusable = false;     // the origin connection may go back to the pool
  std::optional<ProxyError> error;  // before any byte: ferry answers it
  std::string log_error;            // after bytes: RFC 9209 type for the log
  std::string log_detail;
  uint64_t tunnel_sent = 0, tunnel_received = 0;  // 101
  uint64_t kernel_in = 0, kernel_out = 0;         // spliced tunnel bytes
};

// `resp`/`info` describe the head at the front of io.origin_buf (head_size bytes).
awaitable<RelayResult> relay_response(ExchangeIo io, const http::ResponseHead& resp, const http::ResponseInfo& info,
                                      size_t head_size, const RelayRequest& req);

}  // namespace ferry
