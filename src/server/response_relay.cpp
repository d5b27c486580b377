#include "server/response_relay.h"

#include "http/header_rewrite.h"
#include "intercept/head_injection.h"

namespace ferry {

using http::BodyKind;

namespace {

// A coding list that already holds chunked ("chunked, gzip") cannot be
// chunked again (RFC 9112 §6.1): it goes through as is, ended by close.
bool codings_hold_chunked(const http::ResponseInfo& info) {
  for (auto c : http::split_list(info.other_codings))
    if (iequals(c, "chunked")) return true;
  return false;
}

// A client that does not read must not pin the session (review D9): every
// write to it runs under the idle deadline. (Armed inline around each
// write rather than in a helper coroutine: one frame less per response.)
void arm_client_write(ExchangeIo& io) {
  io.deadline.arm(io.idle, [&io] { io.client.cancel(); });
}

// What run() hands back when the answer is known before any byte moves.
awaitable<void> nothing_to_send() { co_return; }

}  // namespace

awaitable<void> ResponseRelay::run() {
  if (resp_.status == 101) return relay_upgrade();
  // HTTP/1.0 has no transfer codings: the body cannot be passed on intact.
  if (req_.client_minor == 0 && !info_.other_codings.empty()) {
    out_.error = ProxyError{ProxyErrc::http_protocol_error, "response uses transfer coding '" + info_.other_codings +
                                                                "', which an HTTP/1.0 client cannot receive"};
    return nothing_to_send();
  }
  // Framing towards the client: a close-delimited body goes to an HTTP/1.1
  // client chunked, so the client connection survives; an HTTP/1.0 client
  // cannot read chunked, so it gets the decoded body delimited by close.
  to_client_ = info_.body;
  if (req_.client_minor == 0 && to_client_ == BodyKind::chunked) to_client_ = BodyKind::until_close;
  else if (req_.client_minor >= 1 && to_client_ == BodyKind::until_close && !codings_hold_chunked(info_))
    to_client_ = BodyKind::chunked;
  // Scrubbing that changes lengths: the new length is known only at the end.
  if (req_.scrub_body && !req_.scrub_body->length_preserving() && to_client_ == BodyKind::content_length)
    to_client_ = req_.client_minor >= 1 ? BodyKind::chunked : BodyKind::until_close;
  keep_alive_ =
      req_.client_keep_alive && !req_.client_body_unread && to_client_ != BodyKind::until_close && !req_.draining;
  http::ForwardResponse fr{req_.via, to_client_, !keep_alive_, keep_alive_ && req_.client_minor == 0, false};
  head_ = http::build_response_head(resp_, info_, fr);
  if (req_.scrub_pairs) scrub_response_head(head_, *req_.scrub_pairs);
  io_.origin_buf.consume(head_size_);
  out_.relayed_head = true;
  if (to_client_ != BodyKind::content_length || io_.origin_buf.size() < info_.content_length || req_.scrub_body ||
      req_.body_capture)
    return stream_body();
  // The whole body is here already: one write for head and body.
  buffered_body_ = size_t(info_.content_length);
  if (req_.body_count) *req_.body_count += *buffered_body_;
  arm_client_write(io_);
  return io_.client.write({asio::buffer(head_), asio::buffer(io_.origin_buf.data().substr(0, *buffered_body_)), {}},
                          write_ec_);
}

RelayResult ResponseRelay::finish() {
  if (buffered_body_) {
    io_.deadline.disarm();
    io_.origin_buf.consume(*buffered_body_);
    if (write_ec_) {
      out_.log_error = "connection_terminated";
      out_.log_detail = "client write failed: " + write_ec_.message();
    } else {
      completed();
    }
  }
  return std::move(out_);
}

void ResponseRelay::completed() {
  out_.client_keep_alive = keep_alive_;
  // Bytes after the message, or framing that ends with the connection,
  // mean the connection cannot be trusted with another request.
  out_.origin_reusable = info_.keep_alive && io_.origin_buf.empty() && info_.body != BodyKind::until_close;
}

awaitable<void> ResponseRelay::stream_body() {
  error_code ec;
  arm_client_write(io_);
  co_await io_.client.write({asio::buffer(head_), {}, {}}, ec);
  io_.deadline.disarm();
  if (ec) {
    out_.log_error = "connection_terminated";
    out_.log_detail = "client write failed: " + ec.message();
    co_return;
  }
  BodySpec spec{info_.body,      info_.content_length, to_client_ == BodyKind::chunked,
                req_.scrub_body, req_.body_capture,    req_.body_capture_limit,
                req_.body_count};
  auto err = co_await relay_body(io_.origin, io_.origin_buf, io_.client, spec, io_.deadline, io_.idle);
  if (err) {
    // Part of the response is out; the only honest signal left is to
    // close the client connection so it sees a truncated message.
    const bool origin_side = err->side == BodyRelayError::Side::source;
    out_.log_error = origin_side ? "http_response_incomplete" : "connection_terminated";
    out_.log_detail = (origin_side ? "origin " : "client ") + err->what;
    co_return;
  }
  completed();
}

awaitable<void> ResponseRelay::relay_upgrade() {
  if (!req_.upgrade_requested) {
    out_.error = ProxyError{ProxyErrc::http_protocol_error, "101 response to a request that did not ask to upgrade"};
    co_return;
  }
  http::ForwardResponse fr{req_.via, BodyKind::none, false, false, true};
  head_ = http::build_response_head(resp_, info_, fr);
  io_.origin_buf.consume(head_size_);
  out_.relayed_head = true;
  error_code ec;
  arm_client_write(io_);
  co_await io_.client.write({asio::buffer(head_), {}, {}}, ec);
  io_.deadline.disarm();
  if (ec) co_return;
  auto stats = co_await relay_tunnel(io_.client, io_.client_buf, io_.origin, io_.origin_buf, io_.deadline, io_.idle,
                                     req_.relay_mode);
  out_.kernel_in = stats.kernel_a_to_b;
  out_.kernel_out = stats.kernel_b_to_a;
  out_.tunnel_sent = stats.a_to_b;
  out_.tunnel_received = stats.b_to_a;
}

}  // namespace ferry
