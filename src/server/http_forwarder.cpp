#include "server/http_forwarder.h"

#include <optional>

#include "http/header_rewrite.h"
#include "server/hop_acquirer.h"
#include "server/origin_exchange.h"
#include "server/request_injection.h"
#include "server/response_relay.h"
#include "server/worker.h"
#include "upstream/proxy_auth_exchange.h"

// Forwarding one absolute-form request, as stages (review rec. 3):
//   plan the route → acquire a connection (HopAcquirer: pool, dial,
//   failover) → the proxy auth exchange (ProxyAuthExchange, shared with
//   CONNECT) → the origin exchange over the stream (exchange_request: head,
//   Expect, body, 1xx, final head) → the response relay (ResponseRelay).
// This file only sequences them: which try comes next and why.
//
// GCC 12 note, for every coroutine in server/ and upstream/: it can destroy
// temporaries inside a `co_await` expression twice (notably in
// `co_return co_await f(...)`), so errors are recorded and answered in one
// place, awaited calls take named locals, and results are named before
// they are returned.

namespace ferry {

using http::BodyKind;

namespace {

// Safe methods (RFC 9110 §9.2.1): the only ones sent again after a reused
// connection closed once the request may have been read. PUT and DELETE are
// idempotent too, but a second send of them still shows in the server's
// effects and logs; the user did not ask for it.
bool safe_method(std::string_view m) { return m == "GET" || m == "HEAD" || m == "OPTIONS"; }

// What one try on a forward proxy carries.
enum class TryKind {
  full,        // the client's request with its body
  ntlm_probe,  // a HEAD of the same URL carrying NTLM type 1 (see below)
  bodiless,    // the client's head with "Content-Length: 0": NTLM type 1 after a 407
};

// The heads a request can go out as. Only the renderings a candidate can use
// are built.
struct Renderings {
  std::string origin_form;  // direct or through a tunnel
  std::string absolute_url;
  std::string absolute_form;  // to a forward proxy (RFC 9112 §3.2.2)
  std::string ntlm_probe;     // HEAD, no body
  std::string bodiless;       // the request with Content-Length: 0, no Expect
};

Renderings render(const ServerContext& ctx, const http::RequestHead& head, const http::RequestInfo& info,
                  const http::AbsoluteTarget& target, const std::string& host, const HopAcquirer& hops) {
  Renderings r;
  const std::string& via = ctx.via_for(head.version_minor);
  if (hops.any_origin_form())
    r.origin_form = http::build_request_head(head, info, {head.method, target.origin_form, host, via, info.upgrade});
  if (!hops.any_forward_proxy()) return r;
  r.absolute_url = (target.tls ? "https://" : "http://") + host + target.origin_form;
  r.absolute_form = http::build_request_head(head, info, {head.method, r.absolute_url, host, via, info.upgrade});
  if (info.body == BodyKind::none) return r;
  http::RequestInfo no_body = info;
  no_body.body = BodyKind::none;
  no_body.content_length = 0;
  no_body.expect_continue = false;
  r.ntlm_probe = http::build_request_head(head, no_body, {"HEAD", r.absolute_url, host, via, false});
  http::remove_field(r.ntlm_probe, "Expect");
  r.bodiless = http::build_request_head(head, no_body, {head.method, r.absolute_url, host, via, info.upgrade});
  http::remove_field(r.bodiless, "Expect");
  r.bodiless.insert(r.bodiless.size() - 2, "Content-Length: 0\r\n");
  return r;
}

// Renderings that carry injected credentials are wiped however the request
// ends (as the head on the wire is).
struct WipedRenderings {
  Renderings& r;
  bool wipe;
  ~WipedRenderings() {
    if (!wipe) return;
    for (auto* s : {&r.origin_form, &r.absolute_url, &r.absolute_form, &r.ntlm_probe, &r.bodiless})
      auth::cleanse_string(*s);
  }
};

// Applies the request's inject rules to every head it can go out as; the
// names of the fields set, for the log.
Expected<std::string, ProxyError> inject(Renderings& r, const RequestInjection& injection) {
  for (auto* s : {&r.origin_form, &r.absolute_form, &r.ntlm_probe, &r.bodiless}) {
    if (s->empty()) continue;
    auto applied = injection.apply(*s);
    if (!applied) return Unexpected{ProxyError{ProxyErrc::proxy_configuration_error, applied.error()}};
  }
  // The URL Digest authenticates with is the target sent.
  if (!r.absolute_url.empty()) {
    const WipedReplacements pairs(injection.body_substitutions());
    std::string url = StreamSubstituter::replace_all(r.absolute_url, pairs.get());
    auth::cleanse_string(r.absolute_url);
    r.absolute_url = std::move(url);
  }
  return injection.field_names();
}

struct Forwarding {
  ClientConnection& conn;
  ServerContext& ctx;
  const http::RequestInfo& info;
  const http::AbsoluteTarget& target;
  const std::string method;
  const int client_minor;
  RequestOutcome out;
  ReadBuffer origin_buf;
  std::shared_ptr<const RequestInjection> injection;
  ExchangeCapture* capture;

  // An error ferry answers (no response byte reached the client yet),
  // recorded here and answered in one place by forward_http.
  std::optional<ProxyError> error;
  bool error_keep_alive = false;

  void fail(AcquiredHop& hop, ProxyError err, bool client_body_unread) {
    if (hop.stream) hop.stream->close();
    error = std::move(err);
    error_keep_alive = info.keep_alive && !client_body_unread;
  }
  // The client went away (or its body broke off): log it, answer nothing.
  void end_quietly(AcquiredHop& hop, const ProxyError& why) {
    if (hop.stream) hop.stream->close();
    out.status = 0;
    out.error = std::string(proxy_errc_name(why.type));
    out.detail = why.details;
    out.keep_alive = false;
  }

  // After an answer ferry consumes itself (a 407, the NTLM probe's, a 417
  // to its own Expect): whether that connection can carry the next try.
  // Closed when it cannot.
  awaitable<bool> keep_for_next_try(AcquiredHop& hop, size_t head_size, const http::ResponseInfo& answer) {
    origin_buf.consume(head_size);
    const bool keep = co_await skip_small_body(*hop.stream, origin_buf, answer, conn.config().connect_timeout);
    if (!keep) hop.stream->close();
    co_return keep;
  }

  void log_connection(const AcquiredHop& hop, int attempt) {
    if (!ctx.log.enabled(LogLevel::debug)) return;
    error_code ep_ec;
    auto ep = hop.stream->socket().remote_endpoint(ep_ec);
    ctx.log.log(LogLevel::debug, "origin_connection",
                {{"origin", target.origin_key()},
                 {"route", hop.route()},
                 {"address", ep_ec ? std::string("-") : ep.address().to_string()},
                 {"reused", hop.reused},
                 {"attempt", attempt}});
  }
};

awaitable<void> forward(Forwarding& f, const http::RequestHead& head) {
  ClientConnection& conn = f.conn;
  ServerContext& ctx = f.ctx;
  const http::RequestInfo& info = f.info;
  const http::AbsoluteTarget& target = f.target;
  const bool client_body = info.body != BodyKind::none;

  // Clients on other hosts name only Squid's safe ports (review D8): known
  // before any routing work.
  if (conn.scope == ClientScope::remote && !plain_http_port_allowed(target.authority.port)) {
    AcquiredHop none;
    f.fail(none,
           {ProxyErrc::http_request_denied, "port " + std::to_string(target.authority.port) +
                                                " is not allowed for clients on other hosts (80, 443, 1025-65535)"},
           client_body);
    co_return;
  }

  // Plan.
  const std::string host_header = target.host_header();
  RouteQuery query;
  query.kind = target.tls ? TrafficKind::https_url : TrafficKind::plain_http;
  query.host = target.authority.host;
  query.port = target.authority.port;
  query.authority = host_header;
  query.path = target.origin_form;
  // The static rules answer at once; a resolver that must wait (PAC) is awaited.
  std::optional<Resolution> resolved = conn.who.resolver(*conn.snapshot).resolve_now(query);
  if (!resolved) {
    auto waited = co_await conn.who.resolver(*conn.snapshot).resolve(query);
    if (!waited) {
      AcquiredHop none;
      ProxyError err = waited.error();
      f.fail(none, std::move(err), client_body);
      co_return;
    }
    resolved = std::move(*waited);
  }
  const ProxyListPtr proxies = std::move(resolved->proxies);  // the candidates point into it
  // Clients on other hosts get the destination policy (review D8).
  const UpstreamContext& upstream = conn.upstream();
  HopAcquirer hops(upstream, conn.worker.pool(), plan_request_hops(upstream, *proxies, target.authority, target.tls),
                   target.authority, target.tls);
  if (conn.intercept && conn.intercept->early_origin)
    hops.adopt(std::move(conn.intercept->early_origin), std::move(conn.intercept->early_origin_key),
               conn.intercept->early_origin_since);
  // Inject rules (SPEC §7): a body substitution that changes lengths sends
  // the body chunked (the new length is known only at its end).
  std::optional<StreamSubstituter> body_transform;
  http::RequestInfo sent = info;
  if (f.injection && client_body) {
    if (auto pairs = f.injection->body_substitutions(); !pairs.empty()) {
      body_transform.emplace(std::move(pairs));
      if (!body_transform->length_preserving()) sent.body = BodyKind::chunked;
    }
  }
  Renderings heads = render(ctx, head, sent, target, host_header, hops);
  WipedRenderings wipe_heads{heads, f.injection != nullptr};
  const WipedReplacements scrub_pairs(f.injection ? f.injection->response_scrubs() : std::vector<Replacement>{});
  if (f.injection) {
    auto injected = inject(heads, *f.injection);
    if (!injected) {
      AcquiredHop none;
      ProxyError err = injected.error();
      f.fail(none, std::move(err), client_body);
      co_return;
    }
    f.out.injected = std::move(*injected);
  }
  // From here on `head` views may dangle: the body relay reuses the buffer.
  conn.buf.consume(head.size);

  // A request that cannot be sent again takes only recently used pooled
  // connections (review D16).
  const bool resendable = safe_method(f.method) && !client_body;
  const auto max_idle =
      resendable ? OriginPool::Clock::duration::max() : OriginPool::Clock::duration(OriginPool::kFreshIdle);
  BodySpec client_body_spec{info.body, info.content_length, sent.body == BodyKind::chunked,
                            body_transform ? &*body_transform : nullptr};
  if (f.capture) client_body_spec.counted = &f.capture->request_bytes;
  if (f.capture && f.capture->bodies) {
    client_body_spec.capture = &f.capture->request_body;
    client_body_spec.capture_limit = f.capture->body_limit;
  }

  AcquiredHop hop;
  std::optional<ProxyAuthExchange> auth;  // for the forward proxy of `hop`
  const ProxyUrl* auth_proxy = nullptr;
  bool keep_connection = false;  // the last answer's connection carries the next try
  bool resent = false;           // the one resend after a reused connection died
  bool body_sent = !client_body;
  bool ferry_expect_refused = false;  // the upstream answered ferry's own Expect with 417
  std::string wire;                   // the head as sent; holds a credential: wiped however the request ends
  struct WipeOnExit {
    std::string& s;
    ~WipeOnExit() { auth::cleanse_string(s); }
  } wipe_wire{wire};

  for (int attempt = 0;; ++attempt) {
    // Acquire.
    if (!keep_connection) {
      std::optional<AcquiredHop> pooled;
      if (attempt == 0) pooled = hops.take_pooled(max_idle);
      if (pooled) {
        hop = std::move(*pooled);
      } else {
        // The answer to a 407 belongs to the proxy that asked: a new
        // connection to that same proxy, never failover to another one
        // (which would receive this proxy's credentials).
        const bool redial = auth && auth->answer_pending() && hop.forward_proxy;
        // (co_await kept out of ?: — GCC 12 miscompiles it there.)
        Expected<AcquiredHop, ProxyError> got = Unexpected{ProxyError{ProxyErrc::proxy_internal_error, {}}};
        if (redial) got = co_await hops.redial(hop);
        else got = co_await hops.dial();
        if (!got) {
          f.out.route = hop.stream ? hop.route() : hops.first_route();
          ProxyError err = got.error();
          f.fail(hop, std::move(err), !body_sent);
          co_return;
        }
        hop = std::move(*got);
      }
      f.out.route = hop.route();
      f.origin_buf.consume(f.origin_buf.size());
      if (hop.forward_proxy != auth_proxy) {
        auth.reset();
        auth_proxy = hop.forward_proxy;
        if (auth_proxy)
          auth.emplace(upstream.blocking, upstream.auth.find(*auth_proxy),
                       auth::DigestRequest{f.method, heads.absolute_url}, *auth_proxy);
      }
    }
    keep_connection = false;

    // The auth exchange's part of this try.
    TryKind kind = TryKind::full;
    if (auth) {
      std::optional<ProxyError> no_token = co_await auth->begin_try(*hop.stream);
      if (no_token) {
        ProxyError err = std::move(*no_token);
        f.fail(hop, std::move(err), !body_sent);
        co_return;
      }
      // NTLM authenticates the connection, so its first leg is a request of
      // its own. Before any 407 the proxy has not said this destination
      // needs auth, and may let the leg through to the origin: a body
      // request then goes as a HEAD probe of the same URL (safe), never as
      // the real method without its body (review D1). After a 407 that
      // asked for NTLM the leg carries the request's head without body.
      if (client_body && !body_sent && auth->preemptive_ntlm_leg()) kind = TryKind::ntlm_probe;
      else if (client_body && !body_sent && auth->reactive_ntlm_leg()) kind = TryKind::bodiless;
    }
    // While an upstream's auth scheme is unknown, a request body waits for
    // the proxy's verdict on the head (asked with Expect: 100-continue,
    // which Apache needs to answer a 407 before reading the body): a 407
    // then costs no body, which could not be sent twice.
    const bool ferry_expect = auth && kind == TryKind::full && client_body && !body_sent && auth->scheme_unknown() &&
                              !info.expect_continue && !ferry_expect_refused;
    const std::string* rendering = nullptr;
    switch (kind) {
      case TryKind::full: rendering = hop.forward_proxy ? &heads.absolute_form : &heads.origin_form; break;
      case TryKind::ntlm_probe: rendering = &heads.ntlm_probe; break;
      case TryKind::bodiless: rendering = &heads.bodiless; break;
    }
    // The rendering goes as it is unless this try adds to it (the common
    // case: no copy per request).
    const bool drop_expect = ferry_expect_refused && !info.expect_continue;
    const bool edited = ferry_expect || drop_expect || (auth && !auth->credentials().empty());
    if (edited) {
      auth::cleanse_string(wire);
      wire = *rendering;
      if (drop_expect) http::remove_field(wire, "Expect");
      if (ferry_expect) wire.insert(wire.size() - 2, "Expect: 100-continue\r\n");
      if (auth) auth->add_credentials(wire);
    }
    f.log_connection(hop, attempt);

    // The origin exchange.
    OutgoingRequest req;
    req.head = edited ? std::string_view(wire) : std::string_view(*rendering);
    req.method = kind == TryKind::ntlm_probe ? std::string_view("HEAD") : std::string_view(f.method);
    req.body = (kind == TryKind::full && !body_sent) ? client_body_spec : BodySpec{};
    req.wait_for_verdict = kind == TryKind::full && (info.expect_continue || ferry_expect);
    req.ferry_added_expect = ferry_expect;
    req.client_minor = f.client_minor;
    req.relay_interim = kind == TryKind::full;
    ExchangeIo io{conn.client, conn.buf, *hop.stream, f.origin_buf, conn.deadline, conn.config().idle_timeout};
    const PeerName peer{hop.forward_proxy ? std::string_view(hop.route()) : std::string_view(), &target.authority};
    ExchangeOutcome x = co_await exchange_request(io, req, peer);
    if (x.body_sent && kind == TryKind::full) body_sent = true;

    using K = ExchangeOutcome::Kind;
    if (x.kind == K::not_sent && hop.reused && !resent && !x.body_sent) {
      // A pooled connection the origin had closed: nothing was processed.
      resent = true;
      continue;
    }
    if (x.kind == K::no_response) {
      // A pooled connection that closed after the request went out: it may
      // have been processed; only a safe request goes again (review D16).
      if (hop.reused && !resent && resendable) {
        resent = true;
        continue;
      }
      // A forward proxy that took a fresh connection and then closed or
      // reset it without a byte of answer (a dead backend behind a load
      // balancer) failed at the connection level: fail over, as long as the
      // request can still be sent again. (The next proxy gets an auth
      // exchange of its own: no answer meant for this one reaches it.)
      ProxyError dead{ProxyErrc::connection_terminated,
                      "upstream proxy " + hop.route() + " closed the connection without answering"};
      if (!client_body && hops.fail_over(hop, dead)) {
        hop.stream->close();
        continue;
      }
    }
    if (x.kind == K::client_failed) {
      if (x.client_reported) {
        f.end_quietly(hop, *x.error);
        co_return;
      }
      ProxyError bad = *x.error;
      f.fail(hop, std::move(bad), true);
      co_return;
    }
    if (x.kind != K::response) {
      ProxyError err = *x.error;
      f.fail(hop, std::move(err), !body_sent);
      co_return;
    }

    auto rinfo = http::analyze_response(x.resp, req.method);
    if (!rinfo) {
      f.fail(hop,
             {ProxyErrc::http_protocol_error,
              "malformed response from " + target.authority.to_string() + ": " + rinfo.error()},
             !body_sent);
      co_return;
    }
    if (hop.forward_proxy && x.resp.status == 407) {
      // The upstream wants credentials. Answering is ferry's job (the
      // client's Proxy-Authorization is never forwarded, the proxy's
      // challenge never relayed); the authenticator caps the retries.
      std::optional<ProxyError> refused = co_await auth->on_challenge(x.resp);
      if (!refused && client_body && body_sent)
        // The body is gone; the request cannot be repeated. The scheme is
        // learnt now, so the client's retry carries credentials at once.
        refused = ProxyError{ProxyErrc::http_request_denied,
                             "upstream proxy " + hop.route() +
                                 " asked for authentication after the request body was sent; repeat the request",
                             407};
      if (refused) {
        ProxyError denied = std::move(*refused);
        f.fail(hop, std::move(denied), !body_sent);
        co_return;
      }
      keep_connection = co_await f.keep_for_next_try(hop, x.head_size, *rinfo);
      if (!keep_connection) {
        if (auth->needs_same_connection()) {
          // The next leg belongs to this connection's handshake.
          f.fail(hop,
                 {ProxyErrc::http_request_denied,
                  "upstream proxy " + hop.route() + " closed the connection in the middle of the " +
                      std::string(auth::scheme_name(auth->attempt().sent)) + " handshake",
                  407},
                 !body_sent);
          co_return;
        }
      }
      continue;
    }
    if (kind == TryKind::ntlm_probe) {
      // The proxy let the probe through without a challenge: this
      // destination needs no credentials. The real request goes without
      // them, on this connection if the HEAD's answer left it usable.
      auth->drop_credentials();
      keep_connection = co_await f.keep_for_next_try(hop, x.head_size, *rinfo);
      continue;
    }
    if (kind == TryKind::bodiless) {
      // The proxy answered NTLM's bodiless leg with something other than a
      // challenge: that answer is not for the request the client sent.
      f.fail(hop,
             {ProxyErrc::http_protocol_error, "upstream proxy " + hop.route() + " answered the first NTLM leg with " +
                                                  std::to_string(x.resp.status) + " instead of a challenge"},
             !body_sent);
      co_return;
    }
    if (ferry_expect && x.resp.status == 417 && x.body_refused) {
      // The upstream refuses Expect, which ferry added on its own: the
      // client never asked, so it must not see the 417 (review S3). Once
      // more without it, the body going with the head.
      ferry_expect_refused = true;
      keep_connection = co_await f.keep_for_next_try(hop, x.head_size, *rinfo);
      continue;
    }
    if (auth) {
      // The proxy accepted the request: verify a Negotiate mutual-auth
      // token, and remember that this connection is authenticated.
      std::optional<ProxyError> bad = co_await auth->on_accepted(x.resp, *hop.stream);
      if (bad) {
        ProxyError err = std::move(*bad);
        f.fail(hop, std::move(err), !body_sent);
        co_return;
      }
    }

    // The response relay.
    f.out.status = x.resp.status;
    RelayRequest rr;
    rr.client_minor = f.client_minor;
    rr.client_keep_alive = info.keep_alive;
    rr.client_body_unread = !body_sent;
    rr.upgrade_requested = info.upgrade;
    rr.draining = ctx.draining.load(std::memory_order_relaxed);
    rr.via = ctx.via_for(x.resp.version_minor);
    rr.relay_mode = conn.config().relay;
    if (f.capture) {
      for (const auto& field : x.resp.fields) f.capture->response_headers.emplace_back(field.name, field.value);
      rr.body_count = &f.capture->response_bytes;
      if (f.capture->bodies) {
        rr.body_capture = &f.capture->response_body;
        rr.body_capture_limit = f.capture->body_limit;
      }
    }
    std::optional<StreamSubstituter> scrub;
    if (!scrub_pairs.empty()) {
      rr.scrub_pairs = &scrub_pairs.get();
      rr.scrub_body = &scrub.emplace(scrub_pairs.get());
    }
    ResponseRelay relay(io, x.resp, *rinfo, x.head_size, rr);
    co_await relay.run();
    RelayResult relayed = relay.finish();
    if (relayed.error) {
      ProxyError err = std::move(*relayed.error);
      f.fail(hop, std::move(err), !body_sent);
      co_return;
    }
    conn.client.bytes_in += relayed.kernel_in;
    conn.client.bytes_out += relayed.kernel_out;
    f.out.upstream_bytes_sent = relayed.tunnel_sent;
    f.out.upstream_bytes_received = relayed.tunnel_received;
    f.out.error = std::move(relayed.log_error);
    f.out.detail = std::move(relayed.log_detail);
    f.out.keep_alive = relayed.client_keep_alive;
    if (relayed.origin_reusable && body_sent) conn.worker.pool().put(hop.pool_key(), std::move(hop.stream));
    else hop.stream->close();
    co_return;
  }
}

}  // namespace

awaitable<RequestOutcome> forward_http(ClientConnection& conn, const http::RequestHead& head,
                                       const http::RequestInfo& info, const http::AbsoluteTarget& target,
                                       std::shared_ptr<const RequestInjection> injection, ExchangeCapture* capture) {
  // Response bodies are read in 64 KiB steps: a quarter of the system calls
  // of 16 KiB for large downloads. The buffer is freed with the request.
  Forwarding f{conn,
               conn.ctx,
               info,
               target,
               std::string(head.method),
               head.version_minor,
               {},
               ReadBuffer(64 * 1024),
               std::move(injection),
               capture,
               std::nullopt,
               false};
  co_await forward(f, head);
  if (!f.error) co_return std::move(f.out);
  ProxyError err = std::move(*f.error);
  RequestOutcome answered = co_await answer_error(conn, std::move(err), f.error_keep_alive, f.method);
  answered.route = f.out.route;
  co_return answered;
}

}  // namespace ferry
