#include "server/intercepted_tunnel.h"

#include <openssl/ssl.h>

#include <chrono>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "http/request_target.h"
#include "net/buffered_stream_ref.h"
#include "server/certificate_source.h"
#include "server/client_session.h"
#include "server/http_forwarder.h"
#include "server/origin_predial.h"
#include "server/request_injection.h"
#include "server/worker.h"

namespace ferry {

using namespace asio::experimental::awaitable_operators;

namespace {

std::string_view host_field(const http::RequestHead& head) {
  for (const auto& f : head.fields)
    if (iequals(f.name, "Host")) return f.value;
  return {};
}

// The origin a request inside the tunnel names (absolute-form authority,
// else Host), when it is not the tunnel's own: RFC 9110 §15.5.20's 421.
std::optional<std::string> misdirection(const http::RequestHead& head, const HostPort& origin,
                                        http::AbsoluteTarget& target) {
  const std::string expected = origin.to_string();
  if (!head.target.empty() && head.target.front() != '/') {
    auto absolute = http::parse_absolute_target(head.target);
    if (!absolute || !absolute->tls || !(absolute->authority == origin))
      return "request target '" + http::loggable_target(head.target) + "' is not on " + expected +
             ", the host this tunnel was opened to";
    target.origin_form = absolute->origin_form;
  } else {
    target.origin_form = std::string(head.target);
  }
  const std::string_view host = host_field(head);
  auto named = parse_host_port(host, uint16_t{443});
  if (!named || !(*named == origin))
    return "Host '" + std::string(host.substr(0, 256)) + "' is not " + expected +
           ", the host this tunnel was opened to";
  return std::nullopt;
}

void log_tunnel_tls_failure(ClientConnection& conn, const HostPort& origin, std::string_view error,
                            const std::string& details) {
  conn.ctx.log.log(LogLevel::warn, "intercept_tls_failed",
                   {{"client", conn.peer}, {"host", origin.to_string()}, {"error", error}, {"details", details}});
}

// The client offered only protocols other than http/1.1 in ALPN (an h2-only
// client): OpenSSL's alert for it, named so the log says what to change.
std::string handshake_failure_words(const ProxyError& e) {
  if (e.details.find("no application protocol") != std::string::npos)
    return "the client offered no ALPN protocol ferry speaks inside an intercepted tunnel (only http/1.1): " +
           e.details;
  return e.details;
}

// Body bytes captured past the log's prefix, so a secret that straddles the
// prefix's end is still recognised whole when redacting.
constexpr size_t kSecretMargin = 4096;

RequestLogEntry log_entry_for(const ClientConnection& conn, const http::RequestHead& head,
                              const http::AbsoluteTarget& target, const InjectRules& rules) {
  RequestLogEntry e;
  e.time = std::chrono::system_clock::now();
  e.client = conn.peer;
  e.method = std::string(head.method);
  e.url = (target.tls ? "https://" : "http://") + target.host_header() + target.origin_form;
  e.rule = rules.empty() ? 0 : int(rules.front()->number);
  for (const auto& f : head.fields) e.request_headers.emplace_back(f.name, f.value);
  return e;
}

// Redacts with every credential the rules hold: the names of the fields
// they set, and their resolved values.
void submit_log(RequestLog& log, RequestLogEntry&& e, const RequestInjection& injection) {
  const std::vector<std::string_view> names = injection.field_name_list();
  const std::vector<std::string_view> secrets = injection.secrets();
  for (auto n : names) e.injected.emplace_back(n);
  log.submit(std::move(e), {names, secrets});
}

}  // namespace

awaitable<RequestOutcome> handle_intercepted_request(ClientConnection& conn, const http::RequestHead& head,
                                                     const http::RequestInfo& info) {
  const InterceptScope& scope = *conn.intercept;
  RequestOutcome out;
  if (head.method == "CONNECT") {
    ProxyError refusal{ProxyErrc::http_request_denied, "CONNECT inside an intercepted tunnel is not supported"};
    out = co_await decline(conn, head, info, std::move(refusal), head.method);
    co_return out;
  }
  http::AbsoluteTarget target;
  target.tls = true;
  target.authority = scope.origin;
  if (auto wrong = misdirection(head, scope.origin, target)) {
    ProxyError refusal{ProxyErrc::http_request_denied, std::move(*wrong), 421};
    out = co_await decline(conn, head, info, std::move(refusal), head.method);
    co_return out;
  }
  out = co_await forward_injected(conn, head, info, target, scope.rules);
  co_return out;
}

awaitable<RequestOutcome> forward_injected(ClientConnection& conn, const http::RequestHead& head,
                                           const http::RequestInfo& info, const http::AbsoluteTarget& target,
                                           const InjectRules& rules) {
  RequestOutcome out;
  RequestLog* request_log = conn.ctx.request_log;
  // The request log's part is copied before forwarding: the head's views
  // point into the client buffer the forwarder consumes.
  std::optional<RequestLogEntry> entry;
  ExchangeCapture capture;
  if (request_log) {
    entry.emplace(log_entry_for(conn, head, target, rules));
    capture.bodies = request_log->bodies();
    capture.body_limit = RequestLog::kBodyPrefix + kSecretMargin;
  }
  const auto start = std::chrono::steady_clock::now();
  auto injection = co_await resolve_injection(conn.ctx.runtime.blocking, rules);
  // The tunnel's origin leg, dialled during the handshake, failed: that is
  // this request's answer (once; later requests dial again).
  std::optional<ProxyError> origin_failure;
  if (conn.intercept && conn.intercept->origin_failure) origin_failure.swap(conn.intercept->origin_failure);
  if (origin_failure) {
    out = co_await decline(conn, head, info, std::move(*origin_failure), head.method);
  } else if (!injection) {
    ProxyError err = injection.error();
    out = co_await decline(conn, head, info, std::move(err), head.method);
  } else {
    out = co_await forward_http(conn, head, info, target, *injection, request_log ? &capture : nullptr);
    if (out.status == 401) (*injection)->origin_refused();
  }
  if (entry) {
    entry->status = out.status;
    entry->duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    entry->route = out.route;
    entry->error = out.error;
    entry->response_headers = std::move(capture.response_headers);
    entry->request_body = std::move(capture.request_body);
    entry->response_body = std::move(capture.response_body);
    entry->request_bytes = capture.request_bytes;
    entry->response_bytes = capture.response_bytes;
    const RequestInjection none;
    submit_log(*request_log, std::move(*entry), injection ? **injection : none);
  }
  co_return out;
}

namespace {

// The CONNECT host's leaf, cached or minted off the event loop
// (certificate and signature, ~50 µs; concurrent CONNECTs to the host
// wait for the one mint, on the pool, not on a loop).
awaitable<Expected<CertificateSource::ServerTls, ProxyError>> leaf_for(ServerContext& ctx, const std::string& host) {
  if (auto cached = ctx.certificates->cached_tls(host)) co_return std::move(*cached);
  auto mint = [&] { return ctx.certificates->server_tls(host); };
  auto minted = co_await off_loop(ctx.runtime.blocking, mint);
  if (minted && *minted) co_return std::move(**minted);
  const std::string why = minted ? minted->error() : minted.error().details;
  co_return Unexpected{
      ProxyError{ProxyErrc::proxy_internal_error, "cannot make a certificate for " + host + ": " + why}};
}

// The client's TLS handshake after the 200; null when the tunnel ends
// there (`out` then says why, and it was logged).
awaitable<std::unique_ptr<TlsStream>> handshake_client(ClientConnection& conn, const InterceptScope& scope,
                                                       const CertificateSource::ServerTls& server_tls,
                                                       RequestOutcome& out) {
  // The handshake reads from the client connection's buffer first: a client
  // may send its ClientHello right behind the CONNECT head.
  auto tls = co_await tls_accept_stream(std::make_unique<BufferedStreamRef>(conn.client, conn.buf), *server_tls.context,
                                        conn.config().header_timeout, server_tls.setup);
  // The CONNECT's buffer is empty now (the handshake took what followed the
  // head): free it for the tunnel's life (~16 KiB per idle tunnel).
  conn.buf.shrink_if_empty();
  if (!tls) {
    out.error = std::string(proxy_errc_name(tls.error().type));
    out.detail = handshake_failure_words(tls.error());
    log_tunnel_tls_failure(conn, scope.origin, out.error, out.detail);
    co_return nullptr;
  }
  // SNI, when the client sent one, must name the CONNECT host: a client
  // that asks for another name inside this tunnel is not talking to it.
  if (const char* sni = SSL_get_servername((*tls)->native_handle(), TLSEXT_NAMETYPE_host_name);
      sni && !iequals(sni, scope.origin.host)) {
    out.error = std::string(proxy_errc_name(ProxyErrc::tls_certificate_error));
    out.detail = "the client's SNI '" + std::string(std::string_view(sni).substr(0, 256)) +
                 "' is not the CONNECT host " + scope.origin.host;
    log_tunnel_tls_failure(conn, scope.origin, out.error, out.detail);
    (*tls)->close();
    co_return nullptr;
  }
  co_return std::move(*tls);
}

}  // namespace

awaitable<RequestOutcome> intercept_tunnel(ClientConnection& conn, InterceptScope scope) {
  ServerContext& ctx = conn.ctx;
  RequestOutcome out;
  out.route = "intercepted";
  auto leaf = co_await leaf_for(ctx, scope.origin.host);
  if (!leaf) {
    ProxyError err = leaf.error();
    out = co_await answer_error(conn, std::move(err), false, "CONNECT");
    out.route = "intercepted";
    co_return out;
  }
  const std::string reply = "HTTP/1.1 200 Connection established\r\nVia: " + ctx.via_1_1 + "\r\n\r\n";
  co_await conn.send_own(reply);
  out.status = 200;

  // The origin leg is dialled while the client handshakes, so a new host
  // pays the two handshakes at once. (Dialling from the CONNECT on was
  // slower: the origin handshake's CPU on this loop then delays the 200.)
  auto handshake = handshake_client(conn, scope, *leaf, out);
  auto predial = predial_origin(conn, scope.origin);
  auto both = std::move(handshake) && std::move(predial);
  auto [client_tls, origin_leg] = co_await std::move(both);
  if (!client_tls) co_return out;
  TlsStream& tls = *client_tls;

  if (origin_leg && origin_leg->stream) {
    scope.early_origin = std::move(origin_leg->stream);
    scope.early_origin_key = std::move(origin_leg->pool_key);
    scope.early_origin_since = std::chrono::steady_clock::now();
  } else if (!origin_leg) {
    scope.origin_failure = origin_leg.error();
  }

  {
    ClientConnection inner(conn.worker, ctx, conn.snapshot, tls, conn.peer, conn.scope);
    inner.intercept = &scope;
    inner.who.profile = conn.who.profile;
    inner.who.client_id = conn.who.client_id;
    if (conn.who.profile_route) inner.who.profile_route.emplace(conn.snapshot->upstream_for(conn.scope), conn.policy());
    auto tracked = conn.worker.track(&inner);
    co_await (serve_connection(inner) || inner.deadline.watch());
    conn.worker.untrack(tracked);
  }
  // close_notify, so the client can tell our end from a truncation.
  conn.deadline.arm(conn.config().header_timeout, [&conn] { conn.client.cancel(); });
  co_await tls.shutdown_send();
  conn.deadline.disarm();
  out.keep_alive = false;
  co_return out;
}

}  // namespace ferry
