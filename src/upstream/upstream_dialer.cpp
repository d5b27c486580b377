#include "upstream/upstream_dialer.h"

namespace ferry {

namespace {

bool is_http_proxy(const ProxyUrl& p) { return p.scheme == ProxyScheme::http || p.scheme == ProxyScheme::https; }

awaitable<Expected<Tunnel, HopFailure>> tunnel_via(UpstreamContext& ctx, const ProxyUrl& proxy, const HostPort& target,
                                                   bool client_speaks_first, std::string_view forwarded_via = {}) {
  if (is_http_proxy(proxy)) {
    auto t = co_await http_connect_tunnel(ctx, proxy, target, client_speaks_first, forwarded_via);
    co_return t;
  }
  auto t = co_await socks5_tunnel(ctx, proxy, target);
  co_return t;
}

// Logs and records a connection-level failure; returns the error to report
// if this was the last candidate.
void note_failure(UpstreamContext& ctx, const ProxyUrl& proxy, const ProxyError& e, bool more_left) {
  const std::string key = proxy_key(proxy);
  const bool newly_down = ctx.health.mark_failed(key);
  if (more_left) ctx.health.count_failover();
  ctx.log.log(LogLevel::warn, "upstream_failed",
              {{"upstream", proxy.to_redacted_string()},
               {"error", std::string(proxy_errc_name(e.type))},
               {"details", e.details},
               {"skipped_for_s", 60},
               {"newly_down", newly_down},
               {"failover", more_left}});
}

ProxyError all_failed(ProxyError last, size_t tried) {
  if (tried > 1) last.details = "all " + std::to_string(tried) + " upstream proxies failed; last: " + last.details;
  return last;
}

// The order to try the decision's proxies in; the configured order unless
// some upstream is marked down (the common case costs no lock, no strings).
std::vector<size_t> attempt_order(const UpstreamHealth& health, std::span<const ProxyUrl> proxies) {
  if (!health.any_down()) {
    std::vector<size_t> order(proxies.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    return order;
  }
  std::vector<std::string> keys;
  for (const auto& p : proxies) keys.push_back(proxy_key(p));
  return health.attempt_order(keys);
}

void mark_ok(UpstreamHealth& health, const ProxyUrl& proxy) {
  if (health.any_down()) health.mark_ok(proxy_key(proxy));
}

}  // namespace

awaitable<Expected<RoutedTunnel, ProxyError>> open_tunnel(UpstreamContext& ctx, const RouteDecision& decision,
                                                          const HostPort& target, bool client_speaks_first,
                                                          std::string_view forwarded_via) {
  RoutedTunnel out;
  if (decision.direct) {
    auto sock = co_await connect_tcp(target, ctx.connect_timeout, ctx.destinations);
    if (!sock) co_return Unexpected{sock.error()};
    out.stream = std::make_unique<TcpStream>(std::move(*sock));
    out.route = "direct";
    co_return std::move(out);
  }
  const auto order = attempt_order(ctx.health, decision.proxies);
  ProxyError last{ProxyErrc::proxy_configuration_error, "no upstream proxy configured"};
  for (size_t n = 0; n < order.size(); ++n) {
    const ProxyUrl& proxy = decision.proxies[order[n]];
    auto t = co_await tunnel_via(ctx, proxy, target, client_speaks_first, forwarded_via);
    if (t) {
      mark_ok(ctx.health, proxy);
      out.stream = std::move(t->stream);
      out.early_bytes = std::move(t->early_bytes);
      out.route = proxy.to_redacted_string();
      co_return std::move(out);
    }
    if (!t.error().fail_over) co_return Unexpected{t.error().error};
    last = t.error().error;
    note_failure(ctx, proxy, last, n + 1 < order.size());
  }
  co_return Unexpected{all_failed(std::move(last), order.size())};
}

std::vector<HopCandidate> plan_request_hops(const UpstreamContext& ctx, const RouteDecision& decision,
                                            const HostPort& origin, bool origin_tls) {
  const std::string origin_key = std::string(origin_tls ? "https://" : "http://") + origin.to_string();
  std::vector<HopCandidate> plan;
  if (decision.direct) {
    // A direct connection opened for the local user may reach where remote
    // clients may not (loopback): the two never share pooled connections.
    const bool remote = ctx.destinations.scope == ClientScope::remote;
    plan.push_back({nullptr, false, remote ? origin_key + " remote" : origin_key, "direct"});
    return plan;
  }
  for (size_t i : attempt_order(ctx.health, decision.proxies)) {
    const ProxyUrl& p = decision.proxies[i];
    HopCandidate c;
    c.proxy = &p;
    c.absolute_form = is_http_proxy(p) && !origin_tls;
    // A forward proxy's connection takes requests for any origin.
    c.pool_key = c.absolute_form ? "forward " + proxy_key(p) : proxy_key(p) + " " + origin_key;
    c.route = p.to_redacted_string();
    plan.push_back(std::move(c));
  }
  return plan;
}

void report_upstream_failure(UpstreamContext& ctx, const ProxyUrl& proxy, const ProxyError& e, bool failing_over) {
  note_failure(ctx, proxy, e, failing_over);
}

awaitable<Expected<RequestHop, ProxyError>> open_request_hop(UpstreamContext& ctx,
                                                             std::span<const HopCandidate> candidates,
                                                             const HostPort& origin, bool origin_tls) {
  ProxyError last{ProxyErrc::proxy_configuration_error, "no route"};
  for (size_t n = 0; n < candidates.size(); ++n) {
    const HopCandidate& c = candidates[n];
    RequestHop hop;
    hop.pool_key = c.pool_key;
    hop.route = c.route;
    if (!c.proxy) {
      auto sock = co_await connect_tcp(origin, ctx.connect_timeout, ctx.destinations);
      if (!sock) co_return Unexpected{sock.error()};
      if (!origin_tls) {
        hop.stream = std::make_unique<TcpStream>(std::move(*sock));
        co_return std::move(hop);
      }
      auto secured = co_await tls_connect(std::move(*sock), ctx.origin_tls, origin.host, ctx.connect_timeout);
      if (!secured) co_return Unexpected{secured.error()};
      hop.stream = std::move(*secured);
      co_return std::move(hop);
    }

    const ProxyUrl& proxy = *c.proxy;
    if (c.absolute_form) {
      auto conn = co_await connect_to_proxy(ctx, proxy);
      if (conn) {
        mark_ok(ctx.health, proxy);
        hop.stream = std::move(*conn);
        hop.forward_proxy = &proxy;
        co_return std::move(hop);
      }
      last = conn.error().error;
      note_failure(ctx, proxy, last, n + 1 < candidates.size());
      continue;
    }

    // An https:// origin (or a SOCKS5 upstream): a tunnel to the origin,
    // then TLS to the origin inside it, verified like a direct connection.
    if (origin_tls && proxy.scheme == ProxyScheme::https) {
      co_return Unexpected{ProxyError{ProxyErrc::proxy_configuration_error,
                                      "https:// requests in absolute form through the https:// upstream " +
                                          proxy.to_redacted_string() +
                                          " are not supported yet (TLS inside TLS); use CONNECT (curl does by default)",
                                      502}};
    }
    auto t = co_await tunnel_via(ctx, proxy, origin, true);
    if (!t) {
      if (!t.error().fail_over) co_return Unexpected{t.error().error};
      last = t.error().error;
      note_failure(ctx, proxy, last, n + 1 < candidates.size());
      continue;
    }
    mark_ok(ctx.health, proxy);
    if (!t->early_bytes.empty())
      co_return Unexpected{ProxyError{ProxyErrc::http_protocol_error,
                                      "upstream proxy " + proxy.to_redacted_string() +
                                          " sent bytes before the request was made"}};
    if (!origin_tls) {
      hop.stream = std::move(t->stream);
      co_return std::move(hop);
    }
    // The tunnel is plain TCP to the proxy (http:// or SOCKS5), so TLS to
    // the origin runs directly on its socket.
    auto secured = co_await tls_connect(std::move(t->stream->socket()), ctx.origin_tls, origin.host, ctx.connect_timeout);
    if (!secured) co_return Unexpected{secured.error()};
    hop.stream = std::move(*secured);
    co_return std::move(hop);
  }
  co_return Unexpected{all_failed(std::move(last), candidates.size())};
}

}  // namespace ferry
