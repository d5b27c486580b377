#include "server/http_forwarder.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "http/header_rewrite.h"
#include "server/body_relay.h"
#include "server/head_reader.h"
#include "server/tunnel_relay.h"
#include "server/worker.h"
#include "upstream/upstream_dialer.h"

namespace ferry {

using namespace asio::experimental::awaitable_operators;
using http::BodyKind;

awaitable<Expected<ByteStreamPtr, ProxyError>> open_origin(ServerContext& ctx, const HostPort& authority, bool tls) {
  auto sock = co_await connect_tcp(authority, ctx.config.connect_timeout, ctx.destinations);
  if (!sock) co_return Unexpected{sock.error()};
  if (!tls) co_return ByteStreamPtr(std::make_unique<TcpStream>(std::move(*sock)));
  auto secured = co_await tls_connect(std::move(*sock), ctx.tls, authority.host, ctx.config.connect_timeout);
  co_return secured;
}

namespace {

// How long to wait for the origin's "100 Continue" before sending the body
// anyway (RFC 9110 §10.1.1: a client should not wait indefinitely; curl waits 1 s).
constexpr Millis kContinueWait{1000};

struct Forwarding {
  ClientConnection& conn;
  ServerContext& ctx;
  const http::RequestHead& head;
  const http::RequestInfo& info;
  const http::AbsoluteTarget& target;
  RequestOutcome out;
  ByteStreamPtr origin;
  ReadBuffer origin_buf;
  bool reused = false;

  // An error to be answered by ferry (no response byte has reached the
  // client yet). Recorded here and answered in one place by forward_http:
  // GCC 12 double-destroys temporaries in some `co_return co_await f(...)`
  // expressions, so error paths never await with temporaries.
  std::optional<ProxyError> error;
  bool error_keep_alive = false;
  void fail(ProxyError err, bool client_body_unread) {
    if (origin) origin->close();
    error = std::move(err);
    error_keep_alive = info.keep_alive && !client_body_unread;
  }

  void arm_origin_deadline(Millis d) {
    conn.deadline.arm(d, [this] {
      conn.client.cancel();
      if (origin) origin->cancel();
    });
  }

  awaitable<HeadRead> read_origin_head() {
    arm_origin_deadline(ctx.config.idle_timeout);
    auto r = co_await read_head(*origin, origin_buf);
    conn.deadline.disarm();
    co_return r;
  }

  ProxyError head_read_error(const HeadRead& r) {
    using S = HeadRead::Status;
    const auto& where = target.authority.to_string();
    switch (r.status) {
      case S::closed_clean:
        return {ProxyErrc::connection_terminated, where + " closed the connection without a response"};
      case S::closed_partial:
        return {ProxyErrc::http_response_incomplete, where + " closed the connection inside the response header"};
      case S::io_error:
        if (conn.deadline.expired())
          return {ProxyErrc::http_response_timeout, where + " sent no response within " + format_duration(ctx.config.idle_timeout)};
        return {ProxyErrc::connection_terminated, "connection to " + where + " failed: " + r.ec.message()};
      case S::bad_head:
        if (r.error.find("64 KiB") != std::string_view::npos)
          return {ProxyErrc::http_response_header_section_size, "response header from " + where + " larger than 64 KiB"};
        return {ProxyErrc::http_protocol_error, "malformed response from " + where + ": " + std::string(r.error)};
      case S::complete:
        break;
    }
    return {ProxyErrc::proxy_internal_error, "unexpected head state"};
  }
};

}  // namespace

namespace {

awaitable<void> forward(Forwarding& f) {
  ClientConnection& conn = f.conn;
  ServerContext& ctx = f.ctx;
  const http::RequestHead& head = f.head;
  const http::RequestInfo& info = f.info;
  const http::AbsoluteTarget& target = f.target;
  OriginPool& pool = conn.worker.pool();
  const bool client_body = info.body != BodyKind::none;
  const std::string method(head.method);
  const int client_minor = head.version_minor;
  const bool client_expects_continue = info.expect_continue;
  const bool upgrade_requested = info.upgrade;
  const bool client_keep_alive = info.keep_alive;

  const std::string host = target.host_header();
  const std::string& via_req = ctx.via_for(head.version_minor);
  // Two renderings of the head: origin-form for the origin (direct or
  // through a tunnel), absolute-form for a forward proxy (RFC 9112 §3.2.2).
  const RouteDecision decision = ctx.routes.route(target.tls ? TrafficKind::https_url : TrafficKind::plain_http,
                                                  target.authority.host, target.authority.port);
  const auto candidates = plan_request_hops(ctx.upstream, decision, target.authority, target.tls);
  const bool any_forward_proxy =
      std::any_of(candidates.begin(), candidates.end(), [](const HopCandidate& c) { return c.absolute_form; });
  const bool any_origin_form =
      std::any_of(candidates.begin(), candidates.end(), [](const HopCandidate& c) { return !c.absolute_form; });
  // Only the renderings a candidate can use are built.
  const std::string request_head =
      any_origin_form ? http::build_request_head(head, info, http::ForwardRequest{head.method, target.origin_form, host,
                                                                                  via_req, info.upgrade})
                      : std::string();
  const std::string absolute_url =
      any_forward_proxy ? (target.tls ? "https://" : "http://") + host + target.origin_form : std::string();
  const std::string absolute_head =
      any_forward_proxy ? http::build_request_head(head, info, http::ForwardRequest{head.method, absolute_url, host,
                                                                                    via_req, info.upgrade})
                        : std::string();
  // NTLM's first leg (type 1) goes without the body, as "Content-Length: 0"
  // (curl does the same): the proxy answers it with a 407, never forwards it.
  std::string absolute_head_without_body;
  if (any_forward_proxy && client_body) {
    http::RequestInfo no_body = info;
    no_body.body = BodyKind::none;
    no_body.expect_continue = false;
    absolute_head_without_body =
        http::build_request_head(head, no_body, http::ForwardRequest{head.method, absolute_url, host, via_req, info.upgrade});
    absolute_head_without_body.insert(absolute_head_without_body.size() - 2, "Content-Length: 0\r\n");
    // No body follows, so no Expect either: a proxy answers "Expect" with
    // no body by closing the connection, which kills the handshake.
    http::remove_field(absolute_head_without_body, "Expect");
  }
  std::string proxy_request_head;  // absolute_head plus this try's Proxy-Authorization
  // From here on `head` views may dangle: the body relay reuses the buffer.
  conn.buf.consume(head.size);
  std::string key;
  const ProxyUrl* forward_proxy = nullptr;
  auth::ProxyAuthenticator* authr = nullptr;
  auth::AuthAttempt auth_attempt;
  const auth::DigestRequest digest_req{method, absolute_url};
  std::string proxy_credentials;
  // Both hold a credential: wiped however the request ends.
  struct WipeOnExit {
    std::string& a;
    std::string& b;
    ~WipeOnExit() {
      auth::cleanse_string(a);
      auth::cleanse_string(b);
    }
  } wipe_credentials{proxy_credentials, proxy_request_head};
  bool have_credentials_for_retry = false;
  bool keep_connection = false;  // a 407's connection carries the retry
  size_t next_candidate = 0;      // failover: candidates before this one failed
  size_t used_candidate = 0;
  bool withhold_body = false;    // this try is NTLM's bodiless first leg

  http::ResponseHead resp;
  bool body_sent = !client_body;
  bool client_body_unread = client_body;
  for (int attempt = 0;; ++attempt) {
    if (!keep_connection) {
      f.origin = nullptr;
      if (attempt == 0) {
        for (const auto& c : candidates) {
          if ((f.origin = pool.take(c.pool_key))) {
            key = c.pool_key;
            forward_proxy = c.absolute_form ? c.proxy : nullptr;
            f.out.route = c.route;
            break;
          }
        }
      }
      f.reused = f.origin != nullptr;
      f.origin_buf.consume(f.origin_buf.size());
      if (!f.origin && have_credentials_for_retry && forward_proxy) {
        // The answer to a 407 belongs to the proxy that asked: a new
        // connection to that same proxy, never failover to another one
        // (which would receive this proxy's credentials).
        auto again = co_await connect_to_proxy(ctx.upstream, *forward_proxy);
        if (!again) {
          ProxyError err = again.error().error;
          f.fail(std::move(err), client_body_unread);
          co_return;
        }
        f.origin = std::move(*again);
      }
      if (!f.origin) {
        const auto remaining = std::span<const HopCandidate>(candidates).subspan(next_candidate);
        auto opened = co_await open_request_hop(ctx.upstream, remaining, target.authority, target.tls);
        if (!opened) {
          f.out.route = remaining.front().route;
          f.fail(opened.error(), client_body_unread);
          co_return;
        }
        f.origin = std::move(opened->stream);
        key = opened->pool_key;
        for (size_t i = next_candidate; i < candidates.size(); ++i)
          if (candidates[i].pool_key == key) used_candidate = i;
        forward_proxy = opened->forward_proxy;
        f.out.route = opened->route;
      }
    }
    keep_connection = false;
    if (forward_proxy) {
      authr = ctx.upstream.auth.find(*forward_proxy);
      if (!have_credentials_for_retry && authr) {
        // A new try on this connection: its own attempt. Negotiate mints a
        // token off the event loop (GSSAPI may wait for the KDC), and none
        // at all on a connection that already authenticated.
        auth_attempt = auth::AuthAttempt{};
        const bool connection_authenticated = f.origin->proxy_authenticated;
        auto first = [&] { return authr->first_try(digest_req, auth_attempt, connection_authenticated); };
        auto made = co_await off_loop(ctx.upstream.blocking, first,
                                      authr->negotiate_mechanism() && !connection_authenticated);
        if (!made) {
          f.fail(made.error(), client_body_unread);
          co_return;
        }
        proxy_credentials = std::move(*made);
      }
      have_credentials_for_retry = false;
      withhold_body = client_body && auth::ProxyAuthenticator::body_withheld(auth_attempt);
      proxy_request_head = withhold_body ? absolute_head_without_body : absolute_head;
      if (!proxy_credentials.empty())
        proxy_request_head.insert(proxy_request_head.size() - 2, "Proxy-Authorization: " + proxy_credentials + "\r\n");
    }
    // While an upstream's auth scheme is unknown, a request body waits for
    // the proxy's verdict on the head (we ask with Expect: 100-continue,
    // which Apache needs to answer a 407 before reading the body): a 407
    // then costs no body, which could not be sent twice.
    const bool probe_auth = forward_proxy && client_body && !body_sent && !withhold_body && authr &&
                            proxy_credentials.empty() && authr->scheme_unknown();
    if (probe_auth && !client_expects_continue)
      proxy_request_head.insert(proxy_request_head.size() - 2, "Expect: 100-continue\r\n");
    const std::string& wire_head = forward_proxy ? proxy_request_head : request_head;
    if (ctx.log.enabled(LogLevel::debug)) {
      error_code ep_ec;
      auto ep = f.origin->socket().remote_endpoint(ep_ec);
      ctx.log.log(LogLevel::debug, "origin_connection",
                  {{"origin", target.origin_key()}, {"route", f.out.route},
                   {"address", ep_ec ? std::string("-") : ep.address().to_string()},
                   {"reused", f.reused}, {"attempt", attempt}});
    }
    // A pooled connection can be closed by the origin at any moment; a
    // body-less request that fails before any response byte is retried once
    // on a fresh connection (RFC 9110 §9.2.2: nothing was processed).
    const bool may_retry = f.reused && attempt == 0 && !client_body;

    error_code ec;
    f.arm_origin_deadline(ctx.config.idle_timeout);
    co_await f.origin->write(asio::buffer(wire_head), ec);
    conn.deadline.disarm();
    if (ec) {
      if (may_retry) continue;
      {
        f.fail({ProxyErrc::connection_terminated, "sending the request to " + target.authority.to_string() + " failed"},
                                client_body_unread);
        co_return;
      }
    }

    bool have_final_head = false;
    if ((client_expects_continue || probe_auth) && !withhold_body) {
      // Wait briefly for the origin's verdict on the body.
      asio::steady_timer timer(co_await asio::this_coro::executor, kContinueWait);
      bool answered = false;
      for (;;) {
        auto which = co_await (f.origin->socket().async_wait(tcp::socket::wait_read, nothrow_awaitable) ||
                               timer.async_wait(nothrow_awaitable));
        if (which.index() == 1) break;  // no verdict in time: the body goes
        if (f.origin->is_plain_tcp() || f.origin->has_buffered_input()) {
          answered = true;
          break;
        }
        // TLS: a readable socket may hold only a session ticket (TLS 1.3
        // sends them after the handshake), which is no answer; waiting for
        // a head then would stall until the idle timeout.
        auto space = f.origin_buf.prepare(http::kMaxHeadSize + 1);
        error_code rec;
        const size_t n = f.origin->read_available(space, rec);
        f.origin_buf.commit(n);
        if (n > 0 || (rec && rec != asio::error::would_block && rec != asio::error::try_again)) {
          answered = true;  // bytes, or an end the head reader will report
          break;
        }
      }
      if (answered) {
        auto r = co_await f.read_origin_head();
        if (r.status != HeadRead::Status::complete) {
        f.fail(f.head_read_error(r), true);
        co_return;
      }
        auto pr = http::parse_response_head(f.origin_buf.data().substr(0, r.head_size), resp);
        if (pr.state != http::ParseState::complete)
          {
        f.fail({ProxyErrc::http_protocol_error, "malformed response: " + std::string(pr.error)}, true);
        co_return;
      }
        if (resp.status == 100) {
          f.origin_buf.consume(r.head_size);
          static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
          // Only a client that asked for it gets the 100.
          if (client_expects_continue) co_await conn.client.write(asio::buffer(k100), ec);
          if (ec) {
            f.origin->close();
            f.out.keep_alive = false;
            co_return;
          }
        } else if (resp.status >= 200) {
          have_final_head = true;  // the origin refused the body; it is never sent
        } else {
          f.origin_buf.consume(r.head_size);
        }
      }
    }

    if (!have_final_head && !body_sent && !withhold_body) {
      BodySpec spec{info.body, info.content_length, info.body == BodyKind::chunked};
      auto err = co_await relay_body(conn.client, conn.buf, *f.origin, spec, conn.deadline, ctx.config.idle_timeout);
      if (err) {
        if (err->side == BodyRelayError::Side::source) {
          f.origin->close();
          if (err->what.starts_with("bad chunked"))
            {
        f.fail({ProxyErrc::http_request_error, err->what}, true);
        co_return;
      }
          f.out.status = 0;
          f.out.error = "connection_terminated";
          f.out.detail = "client " + err->what;
          f.out.keep_alive = false;
          co_return;
        }
        {
        f.fail({ProxyErrc::connection_terminated,
                                   "sending the request body to " + target.authority.to_string() + " failed"},
                                  true);
        co_return;
      }
      }
      body_sent = true;
      client_body_unread = false;
    }

    // Read the response head, relaying interim (1xx) responses.
    size_t head_size = 0;
    bool retry = false;
    for (;;) {
      if (have_final_head) {
        head_size = resp.size;
        break;
      }
      auto r = co_await f.read_origin_head();
      if (r.status == HeadRead::Status::closed_clean && may_retry) {
        retry = true;
        break;
      }
      if (r.status != HeadRead::Status::complete) {
        // A forward proxy that took a fresh connection and then closed or
        // reset it without a byte of answer (a dead backend behind a load
        // balancer) failed at the connection level: skip it and fail over,
        // as long as the request can still be sent again.
        const bool silent = r.status == HeadRead::Status::closed_clean ||
                            (r.status == HeadRead::Status::io_error && !conn.deadline.expired());
        const bool can_resend = !client_body || !body_sent || !client_body_unread;
        if (forward_proxy && !f.reused && silent && f.origin_buf.empty() && !client_body &&
            used_candidate + 1 < candidates.size() && !have_credentials_for_retry && can_resend) {
          ProxyError dead{ProxyErrc::connection_terminated,
                          "upstream proxy " + f.out.route + " closed the connection without answering"};
          report_upstream_failure(ctx.upstream, *forward_proxy, dead, true);
          f.origin->close();
          next_candidate = used_candidate + 1;
          retry = true;
          break;
        }
        f.fail(f.head_read_error(r), client_body_unread);
        co_return;
      }
      auto pr = http::parse_response_head(f.origin_buf.data().substr(0, r.head_size), resp);
      if (pr.state != http::ParseState::complete)
        {
        f.fail({ProxyErrc::http_protocol_error, "malformed response from " + target.authority.to_string() +
                                                                       ": " + std::string(pr.error)},
                                  client_body_unread);
        co_return;
      }
      if (resp.status >= 200 || resp.status == 101) {
        head_size = r.head_size;
        break;
      }
      // 100 was handled (or not asked for); other interim responses (103)
      // go to HTTP/1.1 clients as they are.
      if (resp.status != 100 && client_minor >= 1) {
        std::string interim = "HTTP/1.1 " + std::to_string(resp.status) + " " +
                              std::string(resp.reason.empty() ? http::reason_phrase(resp.status) : resp.reason) + "\r\n";
        for (const auto& fld : resp.fields)
          if (!http::is_hop_by_hop(fld.name, {})) interim += std::string(fld.name) + ": " + std::string(fld.value) + "\r\n";
        interim += "\r\n";
        co_await conn.client.write(asio::buffer(interim), ec);
      }
      f.origin_buf.consume(r.head_size);
    }
    if (retry) continue;

    auto rinfo = http::analyze_response(resp, method);
    if (!rinfo)
      {
        f.fail({ProxyErrc::http_protocol_error,
                                 "malformed response from " + target.authority.to_string() + ": " + rinfo.error()},
                                client_body_unread);
        co_return;
      }
    if (forward_proxy && resp.status == 407) {
      // The upstream wants credentials. Answering is ferry's job (the
      // client's Proxy-Authorization is never forwarded, the proxy's
      // challenge never relayed); the authenticator caps the retries.
      const auto challenges = proxy_authenticate_values(resp);
      f.origin_buf.consume(head_size);
      Expected<std::string, ProxyError> next = Unexpected{
          ProxyError{ProxyErrc::http_request_denied, "upstream proxy " + f.out.route + " requires authentication", 407}};
      if (authr) {
        auto respond = [&] { return authr->answer(challenges, digest_req, auth_attempt); };
        auto r = co_await off_loop(ctx.upstream.blocking, respond, authr->negotiate_mechanism() != nullptr);
        next = std::move(r);
      }
      if (next && client_body && body_sent) {
        // The body is gone; the request cannot be repeated. The scheme is
        // learnt now, so the client's retry carries credentials at once.
        next = Unexpected{ProxyError{ProxyErrc::http_request_denied,
                                     "upstream proxy " + f.out.route +
                                         " asked for authentication after the request body was sent; repeat the request",
                                     407}};
      }
      if (!next) {
        ProxyError denied = next.error();
        f.fail(std::move(denied), client_body_unread);
        co_return;
      }
      proxy_credentials = std::move(*next);
      have_credentials_for_retry = true;
      keep_connection = co_await skip_small_body(*f.origin, f.origin_buf, *rinfo, ctx.config.connect_timeout);
      if (!keep_connection) {
        f.origin->close();
        if (auth_attempt.same_connection) {
          // The next leg belongs to this connection's handshake.
          f.fail({ProxyErrc::http_request_denied,
                  "upstream proxy " + f.out.route + " closed the connection in the middle of the " +
                      std::string(auth::scheme_name(auth_attempt.sent)) + " handshake",
                  407},
                 client_body_unread);
          co_return;
        }
      }
      continue;
    }
    if (withhold_body) {
      // The proxy answered NTLM's bodiless first leg with something other
      // than a challenge: that answer is not for the request the client sent.
      f.fail({ProxyErrc::http_protocol_error,
              "upstream proxy " + f.out.route + " answered the first NTLM leg with " + std::to_string(resp.status) +
                  " instead of a challenge"},
             client_body_unread);
      co_return;
    }
    if (forward_proxy && authr) {
      // The proxy accepted the request: verify a Negotiate mutual-auth
      // token, and remember that this connection is authenticated.
      const auto answers = proxy_authenticate_values(resp);
      auto verify = [&] { return authr->accepted(answers, auth_attempt); };
      auto ok = co_await off_loop(ctx.upstream.blocking, verify, auth_attempt.context != nullptr);
      if (!ok) {
        ProxyError bad = ok.error();
        f.fail(std::move(bad), client_body_unread);
        co_return;
      }
      if (*ok) f.origin->proxy_authenticated = true;
    }
    f.out.status = resp.status;

    if (resp.status == 101) {
      if (!upgrade_requested)
        {
        f.fail({ProxyErrc::http_protocol_error, "101 response to a request that did not ask to upgrade"},
                                  client_body_unread);
        co_return;
      }
      http::ForwardResponse fr{ctx.via_for(resp.version_minor), BodyKind::none, false, false, true};
      auto out_head = http::build_response_head(resp, *rinfo, fr);
      f.origin_buf.consume(head_size);
      co_await conn.client.write(asio::buffer(out_head), ec);
      if (!ec) {
        auto stats = co_await relay_tunnel(conn.client, conn.buf, *f.origin, f.origin_buf, conn.deadline,
                                           ctx.config.idle_timeout, ctx.config.relay);
        conn.client.bytes_in += stats.kernel_a_to_b;
        conn.client.bytes_out += stats.kernel_b_to_a;
        f.out.upstream_bytes_sent = stats.a_to_b;
        f.out.upstream_bytes_received = stats.b_to_a;
      }
      f.origin->close();
      f.out.keep_alive = false;
      co_return;
    }

    // Framing towards the client: a close-delimited body goes to an HTTP/1.1
    // client chunked, so the client connection survives; an HTTP/1.0 client
    // cannot read chunked, so it gets the decoded body delimited by close.
    if (client_minor == 0 && !rinfo->other_codings.empty()) {
      // HTTP/1.0 has no transfer codings: the body cannot be passed on intact.
      f.fail({ProxyErrc::http_protocol_error, "response uses transfer coding '" + rinfo->other_codings +
                                                  "', which an HTTP/1.0 client cannot receive"},
             client_body_unread);
      co_return;
    }
    BodyKind to_client = rinfo->body;
    // A coding list that already holds chunked ("chunked, gzip") cannot be
    // chunked again (RFC 9112 §6.1): it goes through as is, ended by close.
    const bool codings_hold_chunked = [&] {
      for (auto c : http::split_list(rinfo->other_codings))
        if (iequals(c, "chunked")) return true;
      return false;
    }();
    if (client_minor == 0 && to_client == BodyKind::chunked) to_client = BodyKind::until_close;
    else if (client_minor >= 1 && to_client == BodyKind::until_close && !codings_hold_chunked)
      to_client = BodyKind::chunked;
    bool keep_alive = client_keep_alive && !client_body_unread && to_client != BodyKind::until_close &&
                      !ctx.draining.load(std::memory_order_relaxed);
    http::ForwardResponse fr{ctx.via_for(resp.version_minor), to_client, !keep_alive,
                             keep_alive && client_minor == 0, false};
    auto out_head = http::build_response_head(resp, *rinfo, fr);
    f.origin_buf.consume(head_size);

    if (to_client == BodyKind::content_length && f.origin_buf.size() >= rinfo->content_length) {
      // The whole body is here already: one write for head and body.
      auto body = f.origin_buf.data().substr(0, size_t(rinfo->content_length));
      co_await conn.client.write({asio::buffer(out_head), asio::buffer(body), {}}, ec);
      f.origin_buf.consume(body.size());
    } else {
      co_await conn.client.write(asio::buffer(out_head), ec);
      if (!ec) {
        BodySpec spec{rinfo->body, rinfo->content_length, to_client == BodyKind::chunked};
        auto err = co_await relay_body(*f.origin, f.origin_buf, conn.client, spec, conn.deadline, ctx.config.idle_timeout);
        if (err) {
          // Part of the response is out; the only honest signal left is to
          // close the client connection so it sees a truncated message.
          f.origin->close();
          f.out.error = err->side == BodyRelayError::Side::source ? "http_response_incomplete" : "connection_terminated";
          f.out.detail = (err->side == BodyRelayError::Side::source ? "origin " : "client ") + err->what;
          f.out.keep_alive = false;
          co_return;
        }
      }
    }
    if (ec) {
      f.origin->close();
      f.out.keep_alive = false;
      co_return;
    }

    const bool origin_reusable = rinfo->keep_alive && body_sent && f.origin_buf.empty() && rinfo->body != BodyKind::until_close;
    if (origin_reusable) pool.put(key, std::move(f.origin));
    else f.origin->close();
    f.out.keep_alive = keep_alive;
    co_return;
  }
}

}  // namespace

awaitable<RequestOutcome> forward_http(ClientConnection& conn, const http::RequestHead& head,
                                       const http::RequestInfo& info, const http::AbsoluteTarget& target) {
  // Response bodies are read in 64 KiB steps: a quarter of the system calls
  // of 16 KiB for large downloads. The buffer is freed with the request.
  Forwarding f{conn, conn.ctx, head, info, target, {}, nullptr, ReadBuffer(64 * 1024), false, std::nullopt, false};
  co_await forward(f);
  if (!f.error) co_return f.out;
  ProxyError err = std::move(*f.error);
  RequestOutcome answered = co_await answer_error(conn, std::move(err), f.error_keep_alive);
  answered.route = f.out.route;
  co_return answered;
}

}  // namespace ferry
