#pragma once
// The last stage of forwarding: the origin's final head, re-framed for the
// client, and its body (or, for a 101, the upgraded connection) relayed.
// Decides whether the client and the origin connections can carry another
// request.
#include <string>

#include <vector>

#include "http/message_framing.h"
#include "intercept/stream_substituter.h"
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
  // Inject rules with scrub_responses (SPEC §7): the real value becomes the
  // placeholder in the head and the body before the client sees them.
  const std::vector<Replacement>* scrub_pairs = nullptr;
  StreamSubstituter* scrub_body = nullptr;
  // The request log's copy of the body's first bytes; null: none.
  std::string* body_capture = nullptr;
  size_t body_capture_limit = 0;
  uint64_t* body_count = nullptr;  // the request log's count of the body's bytes; null: none
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

// One response, relayed by awaiting run(); finish() then says how it went.
//   ResponseRelay relay(io, resp, info, head_size, req);
//   co_await relay.run();
//   RelayResult result = relay.finish();
// run() is not a coroutine itself. In the common case — a Content-Length
// body that is already in io.origin_buf — it hands back the one client
// write (head and body), so the caller's frame awaits it and this stage
// costs no coroutine frame per request; other responses get a coroutine
// that streams the body or the upgraded connection. The relay must stay
// where it is until finish() (the write points into it).
class ResponseRelay {
 public:
  // `resp`/`info` describe the head at the front of io.origin_buf (head_size bytes).
  ResponseRelay(ExchangeIo io, const http::ResponseHead& resp, const http::ResponseInfo& info, size_t head_size,
                const RelayRequest& req)
      : io_(io), resp_(resp), info_(info), head_size_(head_size), req_(req) {}
  ResponseRelay(const ResponseRelay&) = delete;
  ResponseRelay& operator=(const ResponseRelay&) = delete;

  awaitable<void> run();
  RelayResult finish();

 private:
  awaitable<void> relay_upgrade();
  awaitable<void> stream_body();
  void completed();

  ExchangeIo io_;
  const http::ResponseHead& resp_;
  const http::ResponseInfo& info_;
  const size_t head_size_;
  const RelayRequest req_;
  RelayResult out_;
  std::string head_;  // the head as it goes to the client
  http::BodyKind to_client_ = http::BodyKind::none;
  bool keep_alive_ = false;  // the client connection may carry another request
  // The common case: run() returned the write of the head and this many
  // buffered body bytes; finish() completes it.
  std::optional<size_t> buffered_body_;
  error_code write_ec_;
};

}  // namespace ferry
