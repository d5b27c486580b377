#include "server/origin_exchange.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "http/header_rewrite.h"
#include "http/message_framing.h"

namespace ferry {

using namespace asio::experimental::awaitable_operators;

namespace {

struct Exchange {
  ExchangeIo io;
  const OutgoingRequest& req;
  PeerName peer;
  ExchangeOutcome out;

  std::string name() const { return peer.text(); }

  void arm() {
    io.deadline.arm(io.idle, [this] {
      io.client.cancel();
      io.origin.cancel();
    });
  }

  ProxyError head_read_error(const HeadRead& r) const {
    using S = HeadRead::Status;
    switch (r.status) {
      case S::closed_clean:
        return {ProxyErrc::connection_terminated, name() + " closed the connection without a response"};
      case S::closed_partial:
        return {ProxyErrc::http_response_incomplete, name() + " closed the connection inside the response header"};
      case S::io_error:
        if (io.deadline.expired())
          return {ProxyErrc::http_response_timeout, name() + " sent no response within " + format_duration(io.idle)};
        return {ProxyErrc::connection_terminated, "connection to " + name() + " failed: " + r.ec.message()};
      case S::bad_head:
        if (r.too_large)
          return {ProxyErrc::http_response_header_section_size,
                  "response header from " + name() + " larger than 64 KiB"};
        return {ProxyErrc::http_protocol_error, "malformed response from " + name() + ": " + std::string(r.error)};
      case S::complete: break;
    }
    return {ProxyErrc::proxy_internal_error, "unexpected head state"};
  }

  void origin_failed(ProxyError e) {
    out.kind = ExchangeOutcome::Kind::origin_failed;
    out.error = std::move(e);
  }
  void client_failed(ProxyError e, bool reported) {
    out.kind = ExchangeOutcome::Kind::client_failed;
    out.error = std::move(e);
    out.client_reported = reported;
  }

  // Writes to the client under the idle deadline (a client that does not
  // read must not pin the session: review D9).
  awaitable<bool> write_client(std::string_view bytes) {
    error_code ec;
    io.deadline.arm(io.idle, [this] { io.client.cancel(); });
    co_await io.client.write(asio::buffer(bytes.data(), bytes.size()), ec);
    io.deadline.disarm();
    co_return !ec;
  }

  // Relays one interim response to an HTTP/1.1 client; the fields its own
  // Connection names stay behind (RFC 9110 §7.6.1).
  awaitable<bool> relay_interim(const http::ResponseHead& resp) {
    if (!req.relay_interim || req.client_minor < 1) co_return true;
    auto info = http::analyze_response(resp, req.method);
    const http::ConnectionOptions none;
    const http::ConnectionOptions& options = info ? info->connection : none;
    std::string interim = "HTTP/1.1 " + std::to_string(resp.status) + " " +
                          std::string(resp.reason.empty() ? http::reason_phrase(resp.status) : resp.reason) + "\r\n";
    for (const auto& fld : resp.fields)
      if (!http::is_hop_by_hop(fld.name, options))
        interim += std::string(fld.name) + ": " + std::string(fld.value) + "\r\n";
    interim += "\r\n";
    co_return co_await write_client(interim);
  }

  // True when the origin said something before the body went: bytes, or an
  // end the head reader will report. False when the wait ran out.
  awaitable<bool> origin_spoke_within(Millis wait) {
    asio::steady_timer timer(co_await asio::this_coro::executor, wait);
    for (;;) {
      error_code wec;
      auto which = co_await (io.origin.wait_readable(wec) || timer.async_wait(nothrow_awaitable));
      if (which.index() == 1) co_return false;
      if (io.origin.is_plain_tcp() || io.origin.has_buffered_input()) co_return true;
      // TLS: a readable socket may hold only a session ticket (TLS 1.3
      // sends them after the handshake), which is no answer; waiting for a
      // head then would stall until the idle timeout.
      auto space = io.origin_buf.prepare(http::kMaxHeadSize + 1);
      error_code rec;
      const size_t n = io.origin.read_available(space, rec);
      io.origin_buf.commit(n);
      if (n > 0 || (rec && rec != asio::error::would_block && rec != asio::error::try_again)) co_return true;
    }
  }

  // The verdict on the body: true when the body should go (100, an interim,
  // or no answer in time), false when the exchange is over or a final head
  // arrived (out.body_refused).
  awaitable<bool> await_verdict() {
    if (!co_await origin_spoke_within(kContinueWait)) co_return true;
    for (;;) {
      arm();
      auto r = co_await read_head(io.origin, io.origin_buf);
      io.deadline.disarm();
      if (r.status != HeadRead::Status::complete) {
        origin_failed(head_read_error(r));
        co_return false;
      }
      auto pr = http::parse_response_head(io.origin_buf.data().substr(0, r.head_size), out.resp);
      if (pr.state != http::ParseState::complete) {
        origin_failed({ProxyErrc::http_protocol_error,
                       "malformed response from " + name() + ": " + std::string(pr.error)});
        co_return false;
      }
      if (out.resp.status >= 200 || out.resp.status == 101) {
        // The origin decided without the body (a refusal, a 407, or a
        // switch): it is never sent.
        out.body_refused = true;
        out.head_size = r.head_size;
        co_return false;
      }
      io.origin_buf.consume(r.head_size);
      if (out.resp.status == 100) {
        if (!req.ferry_added_expect && !co_await relay_interim(out.resp)) {
          client_failed({ProxyErrc::connection_terminated, "client went away before the request body"}, true);
          co_return false;
        }
        co_return true;
      }
      // 102/103 before the verdict: passed on, and the wait goes on for the
      // verdict itself only if more is already here.
      if (!co_await relay_interim(out.resp)) {
        client_failed({ProxyErrc::connection_terminated, "client went away during an interim response"}, true);
        co_return false;
      }
      if (io.origin_buf.empty()) co_return true;
    }
  }

  awaitable<bool> send_body() {
    auto err = co_await relay_body(io.client, io.client_buf, io.origin, req.body, io.deadline, io.idle);
    if (!err) {
      out.body_sent = true;
      co_return true;
    }
    if (err->side == BodyRelayError::Side::source) {
      if (err->bad_framing) {
        client_failed({ProxyErrc::http_request_error, err->what}, false);
      } else {
        client_failed({ProxyErrc::connection_terminated, "client " + err->what}, true);
      }
      co_return false;
    }
    origin_failed({ProxyErrc::connection_terminated, "sending the request body to " + name() + " failed"});
    co_return false;
  }
};

}  // namespace

std::string PeerName::text() const {
  if (!proxy_route.empty()) return "upstream proxy " + std::string(proxy_route);
  return origin ? origin->to_string() : std::string("the origin");
}

// One coroutine frame for the exchange (its helpers above are the few that
// wait more than once): small requests pay per frame.
awaitable<ExchangeOutcome> exchange_request(ExchangeIo io, const OutgoingRequest& req, PeerName peer) {
  Exchange x{io, req, peer, {}};
  error_code ec;
  x.arm();
  co_await x.io.origin.write(asio::buffer(x.req.head.data(), x.req.head.size()), ec);
  x.io.deadline.disarm();
  if (ec) {
    x.out.kind = ExchangeOutcome::Kind::not_sent;
    x.out.error = ProxyError{ProxyErrc::connection_terminated, "sending the request to " + x.name() + " failed"};
    co_return std::move(x.out);
  }
  const bool has_body = x.req.body.kind != http::BodyKind::none;
  if (has_body && x.req.wait_for_verdict) {
    const bool go = co_await x.await_verdict();
    if (x.out.body_refused) {
      x.out.kind = ExchangeOutcome::Kind::response;
      co_return std::move(x.out);
    }
    if (!go) co_return std::move(x.out);
  }
  if (has_body && !co_await x.send_body()) co_return std::move(x.out);
  if (!has_body) x.out.body_sent = true;

  // The response head, relaying interim (1xx) responses.
  for (;;) {
    x.arm();
    auto r = co_await read_head(x.io.origin, x.io.origin_buf);
    x.io.deadline.disarm();
    if (r.status != HeadRead::Status::complete) {
      const bool silent = r.status == HeadRead::Status::closed_clean ||
                          (r.status == HeadRead::Status::io_error && !x.io.deadline.expired());
      if (silent && x.io.origin_buf.empty()) {
        x.out.kind = ExchangeOutcome::Kind::no_response;
        x.out.error = x.head_read_error(r);
        co_return std::move(x.out);
      }
      x.origin_failed(x.head_read_error(r));
      co_return std::move(x.out);
    }
    auto pr = http::parse_response_head(x.io.origin_buf.data().substr(0, r.head_size), x.out.resp);
    if (pr.state != http::ParseState::complete) {
      x.origin_failed({ProxyErrc::http_protocol_error,
                       "malformed response from " + x.name() + ": " + std::string(pr.error)});
      co_return std::move(x.out);
    }
    if (x.out.resp.status >= 200 || x.out.resp.status == 101) {
      x.out.kind = ExchangeOutcome::Kind::response;
      x.out.head_size = r.head_size;
      co_return std::move(x.out);
    }
    // Interim responses go to HTTP/1.1 clients as they are, but for a 100
    // that answers ferry's own Expect.
    x.io.origin_buf.consume(r.head_size);
    const bool ferrys_own = x.out.resp.status == 100 && x.req.ferry_added_expect;
    if (!ferrys_own && !co_await x.relay_interim(x.out.resp)) {
      x.client_failed({ProxyErrc::connection_terminated, "client went away during an interim response"}, true);
      co_return std::move(x.out);
    }
  }
}

}  // namespace ferry
