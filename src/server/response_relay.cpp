#include "server/response_relay.h"

#include "http/header_rewrite.h"

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

awaitable<RelayResult> relay_upgrade(ExchangeIo io, const http::ResponseHead& resp, const http::ResponseInfo& info,
                                     size_t head_size, const RelayRequest& req) {
  RelayResult out;
  if (!req.upgrade_requested) {
    out.error = ProxyError{ProxyErrc::http_protocol_error, "101 response to a request that did not ask to upgrade"};
    co_return out;
  }
  http::ForwardResponse fr{req.via, BodyKind::none, false, false, true};
  auto out_head = http::build_response_head(resp, info, fr);
  io.origin_buf.consume(head_size);
  out.relayed_head = true;
  error_code ec;
  arm_client_write(io);
  co_await io.client.write({asio::buffer(out_head), {}, {}}, ec);
  io.deadline.disarm();
  if (!ec) {
    auto stats =
        co_await relay_tunnel(io.client, io.client_buf, io.origin, io.origin_buf, io.deadline, io.idle, req.relay_mode);
    out.kernel_in = stats.kernel_a_to_b;
    out.kernel_out = stats.kernel_b_to_a;
    out.tunnel_sent = stats.a_to_b;
    out.tunnel_received = stats.b_to_a;
  }
  co_return out;
}

}  // namespace

awaitable<RelayResult> relay_response(ExchangeIo io, const http::ResponseHead& resp, const http::ResponseInfo& info,
                                      size_t head_size, const RelayRequest& req) {
  if (resp.status == 101) {
    auto upgraded = co_await relay_upgrade(io, resp, info, head_size, req);
    co_return upgraded;
  }
  RelayResult out;
  // HTTP/1.0 has no transfer codings: the body cannot be passed on intact.
  if (req.client_minor == 0 && !info.other_codings.empty()) {
    out.error = ProxyError{ProxyErrc::http_protocol_error, "response uses transfer coding '" + info.other_codings +
                                                               "', which an HTTP/1.0 client cannot receive"};
    co_return out;
  }
  // Framing towards the client: a close-delimited body goes to an HTTP/1.1
  // client chunked, so the client connection survives; an HTTP/1.0 client
  // cannot read chunked, so it gets the decoded body delimited by close.
  BodyKind to_client = info.body;
  if (req.client_minor == 0 && to_client == BodyKind::chunked) to_client = BodyKind::until_close;
  else if (req.client_minor >= 1 && to_client == BodyKind::until_close && !codings_hold_chunked(info))
    to_client = BodyKind::chunked;
  const bool keep_alive =
      req.client_keep_alive && !req.client_body_unread && to_client != BodyKind::until_close && !req.draining;
  http::ForwardResponse fr{req.via, to_client, !keep_alive, keep_alive && req.client_minor == 0, false};
  auto out_head = http::build_response_head(resp, info, fr);
  io.origin_buf.consume(head_size);
  out.relayed_head = true;

  if (to_client == BodyKind::content_length && io.origin_buf.size() >= info.content_length) {
    // The whole body is here already: one write for head and body.
    auto body = io.origin_buf.data().substr(0, size_t(info.content_length));
    error_code ec;
    arm_client_write(io);
    co_await io.client.write({asio::buffer(out_head), asio::buffer(body), {}}, ec);
    io.deadline.disarm();
    io.origin_buf.consume(body.size());
    if (ec) {
      out.log_error = "connection_terminated";
      out.log_detail = "client write failed: " + ec.message();
      co_return out;
    }
  } else {
    error_code ec;
    arm_client_write(io);
    co_await io.client.write({asio::buffer(out_head), {}, {}}, ec);
    io.deadline.disarm();
    if (ec) {
      out.log_error = "connection_terminated";
      out.log_detail = "client write failed: " + ec.message();
      co_return out;
    }
    BodySpec spec{info.body, info.content_length, to_client == BodyKind::chunked};
    auto err = co_await relay_body(io.origin, io.origin_buf, io.client, spec, io.deadline, io.idle);
    if (err) {
      // Part of the response is out; the only honest signal left is to
      // close the client connection so it sees a truncated message.
      const bool origin_side = err->side == BodyRelayError::Side::source;
      out.log_error = origin_side ? "http_response_incomplete" : "connection_terminated";
      out.log_detail = (origin_side ? "origin " : "client ") + err->what;
      co_return out;
    }
  }
  out.client_keep_alive = keep_alive;
  // Bytes after the message, or framing that ends with the connection,
  // mean the connection cannot be trusted with another request.
  out.origin_reusable = info.keep_alive && io.origin_buf.empty() && info.body != BodyKind::until_close;
  co_return out;
}

}  // namespace ferry
