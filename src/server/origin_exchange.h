#pragma once
// The exchange of one request over a stream someone else obtained (pooled,
// dialled, tunnelled, or — later — intercepted): the head, the wait for a
// verdict on the body (Expect: 100-continue), the body, interim (1xx)
// responses, the final head. It knows nothing of routing or proxy auth; the
// caller reads the outcome and decides (retry, 407 answer, relay).
#include <optional>
#include <string>
#include <string_view>

#include "base/host_port.h"
#include "base/proxy_error.h"
#include "http/head_reader.h"
#include "http/message_head.h"
#include "net/read_buffer.h"
#include "server/body_relay.h"
#include "server/deadline.h"

namespace ferry {

// The streams and timers an exchange borrows.
struct ExchangeIo {
  ByteStream& client;
  ReadBuffer& client_buf;  // the request body's bytes (after the head)
  ByteStream& origin;
  ReadBuffer& origin_buf;
  Deadline& deadline;
  Millis idle;  // longest wait for the origin
};

struct OutgoingRequest {
  std::string_view head;    // as it goes on the wire
  std::string_view method;  // for the response's framing (HEAD has no body)
  BodySpec body;            // kind none: nothing follows the head
  // The head asks "Expect: 100-continue": wait briefly for the origin's
  // verdict before sending the body.
  bool wait_for_verdict = false;
  // ferry put the Expect in the head itself: the origin's 100 answers
  // ferry and is not passed on. Every other 1xx is (RFC 9110 §15.2: a
  // proxy forwards 1xx responses unless it requested them).
  bool ferry_added_expect = false;
  int client_minor = 1;       // interim responses go to HTTP/1.1 clients only
  bool relay_interim = true;  // false for legs whose answers are ferry's own
};

struct ExchangeOutcome {
  enum class Kind {
    response,       // a final (or 101) head is at the front of origin_buf
    not_sent,       // the head could not be written
    no_response,    // the origin ended the connection without a byte of response
    origin_failed,  // `error` says why; nothing reached the client yet
    client_failed,  // the client went away or sent a bad body; `error` for the log
  };
  Kind kind = Kind::origin_failed;
  http::ResponseHead resp;
  size_t head_size = 0;
  bool body_sent = false;     // the request body went out whole
  bool body_refused = false;  // a final head came before the body, which was not sent
  bool timed_out = false;     // no_response because the idle deadline passed
  std::optional<ProxyError> error;
  bool client_reported = false;  // client_failed: already answered/closed, log only
};

// Waits at most this long for "100 Continue" before sending the body anyway
// (RFC 9110 §10.1.1: a client should not wait indefinitely; curl waits 1 s).
inline constexpr Millis kContinueWait{1000};

// Names the other end in error details; the text is built only when an
// error needs it (a request that succeeds makes no string for it).
struct PeerName {
  std::string_view proxy_route;      // non-empty: "upstream proxy <route>"
  const HostPort* origin = nullptr;  // else the origin's authority
  std::string text() const;
};

awaitable<ExchangeOutcome> exchange_request(ExchangeIo io, const OutgoingRequest& req, PeerName peer);

}  // namespace ferry
