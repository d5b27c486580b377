#include "upstream/upstream_dialer.h"

namespace ferry {

namespace {

bool is_http_proxy(const ProxyUrl& p) { return p.scheme == ProxyScheme::http || p.scheme == ProxyScheme::https; }

awaitable<Expected<Tunnel, HopFailure>> tunnel_via(const UpstreamContext& ctx, const ProxyUrl& proxy,
                                                   const HostPort& target, bool client_speaks_first,
                                                   std::string_view forwarded_via = {}) {
  if (is_http_proxy(proxy)) {
    auto t = co_await http_connect_tunnel(ctx, proxy, target, client_speaks_first, forwarded_via);
    co_return t;
  }
  auto t = co_await socks5_tunnel(ctx, proxy, target);
  co_return t;
}

// Logs and records a connection-level failure; returns the error to report
// if this was the last candidate.
void note_failure(const UpstreamContext& ctx, const ProxyUrl& proxy, const ProxyError& e, bool more_left) {
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

// The order to try the chains in; the listed order unless some upstream is
// marked down (the common case costs no lock, no strings). DIRECT is never
// marked down.
std::vector<size_t> attempt_order(const UpstreamHealth& health, const ProxyList& proxies) {
  const auto& chains = proxies.chains;
  if (!health.any_down()) {
    std::vector<size_t> order(chains.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    return order;
  }
  std::vector<std::string> keys;
  keys.reserve(chains.size());
  for (const auto& c : chains) keys.push_back(c.direct() ? std::string("DIRECT") : proxy_key(c.first()));
  return health.attempt_order(keys);
}

// Chains of more than one proxy (a PAC cannot express them; chained
// upstreams may one day): refused with a clear error until supported.
std::optional<ProxyError> unsupported(const ProxyChain& c) {
  if (c.hops.size() <= 1) return std::nullopt;
  return ProxyError{ProxyErrc::proxy_configuration_error,
                    "proxy chains of more than one hop are not supported yet: " + c.to_string(), 502};
}

void mark_ok(UpstreamHealth& health, const ProxyUrl& proxy) {
  if (health.any_down()) health.mark_ok(proxy_key(proxy));
}

}  // namespace

awaitable<Expected<RoutedTunnel, ProxyError>> open_tunnel(const UpstreamContext& ctx, const ProxyList& proxies,
                                                          const HostPort& target, bool client_speaks_first,
                                                          std::string_view forwarded_via) {
  RoutedTunnel out;
  const auto order = attempt_order(ctx.health, proxies);
  ProxyError last{ProxyErrc::proxy_configuration_error, "no route"};
  size_t proxies_tried = 0;
  for (size_t n = 0; n < order.size(); ++n) {
    const ProxyChain& chain = proxies.chains[order[n]];
    const bool more_left = n + 1 < order.size();
    if (chain.direct()) {
      auto sock = co_await connect_tcp(target, ctx.connect_timeout, ctx.destinations);
      if (sock) {
        out.stream = std::make_unique<TcpStream>(std::move(*sock));
        out.route = "direct";
        co_return std::move(out);
      }
      last = sock.error();
      // DIRECT after proxies (a PAC's "PROXY a; DIRECT") is a fallback,
      // its failure ends the list like any other.
      continue;
    }
    if (auto e = unsupported(chain)) co_return Unexpected{*e};
    const ProxyUrl& proxy = chain.first();
    ++proxies_tried;
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
    note_failure(ctx, proxy, last, more_left);
  }
  co_return Unexpected{all_failed(std::move(last), proxies_tried)};
}

std::vector<HopCandidate> plan_request_hops(const UpstreamContext& ctx, const ProxyList& proxies,
                                            const HostPort& origin, bool origin_tls) {
  std::vector<HopCandidate> plan;
  plan.reserve(proxies.chains.size());
  // One chain (the static rules' usual answer) needs no ordering and is
  // the only user of the origin key: it takes the key instead of a copy.
  const bool single = proxies.chains.size() == 1;
  std::string origin_key;
  auto origin_key_for_pool = [&]() -> std::string {
    if (origin_key.empty()) origin_key = std::string(origin_tls ? "https://" : "http://") + origin.to_string();
    return single ? std::move(origin_key) : origin_key;
  };
  auto add = [&](const ProxyChain& chain) {
    HopCandidate c;
    if (chain.direct() || chain.hops.size() > 1) {
      c.chain = &chain;
      // A direct connection opened for the local user may reach where remote
      // clients may not (loopback): the two never share pooled connections.
      const bool remote = ctx.destinations.scope == ClientScope::remote;
      c.pool_key = chain.direct() ? (remote ? origin_key_for_pool() + " remote" : origin_key_for_pool())
                                  : chain.to_string() + " " + origin_key_for_pool();
      c.route = chain.direct() ? "direct" : chain.to_string();
      plan.push_back(std::move(c));
      return;
    }
    const ProxyUrl& p = chain.first();
    c.chain = &chain;
    c.proxy = &p;
    c.absolute_form = is_http_proxy(p) && !origin_tls;
    // A forward proxy's connection takes requests for any origin.
    if (c.absolute_form) c.pool_key = "forward " + proxy_key(p);
    else c.pool_key = proxy_key(p) + " " + origin_key_for_pool();
    c.route = p.to_redacted_string();
    plan.push_back(std::move(c));
  };
  if (single) add(proxies.chains.front());
  else
    for (size_t i : attempt_order(ctx.health, proxies)) add(proxies.chains[i]);
  return plan;
}

std::string route_summary(const ProxyList& proxies) {
  const auto& chains = proxies.chains;
  std::string s = chains.front().direct() ? std::string("direct") : chains.front().to_string();
  if (chains.size() > 1) s += " (+" + std::to_string(chains.size() - 1) + " more)";
  return s;
}

void report_upstream_failure(const UpstreamContext& ctx, const ProxyUrl& proxy, const ProxyError& e,
                             bool failing_over) {
  note_failure(ctx, proxy, e, failing_over);
}

awaitable<Expected<RequestHop, ProxyError>> open_request_hop(const UpstreamContext& ctx,
                                                             std::span<const HopCandidate> candidates,
                                                             const HostPort& origin, bool origin_tls) {
  ProxyError last{ProxyErrc::proxy_configuration_error, "no route"};
  for (size_t n = 0; n < candidates.size(); ++n) {
    const HopCandidate& c = candidates[n];
    RequestHop hop;
    hop.pool_key = c.pool_key;
    hop.route = c.route;
    if (c.chain && !c.proxy && !c.chain->direct()) co_return Unexpected{*unsupported(*c.chain)};
    if (!c.proxy) {
      auto sock = co_await connect_tcp(origin, ctx.connect_timeout, ctx.destinations);
      if (!sock) {
        last = sock.error();
        if (n + 1 < candidates.size()) continue;  // DIRECT with more after it (a PAC list)
        co_return Unexpected{all_failed(std::move(last), candidates.size())};
      }
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
    auto t = co_await tunnel_via(ctx, proxy, origin, true);
    if (!t) {
      if (!t.error().fail_over) co_return Unexpected{t.error().error};
      last = t.error().error;
      note_failure(ctx, proxy, last, n + 1 < candidates.size());
      continue;
    }
    mark_ok(ctx.health, proxy);
    if (!t->early_bytes.empty())
      co_return Unexpected{ProxyError{ProxyErrc::http_protocol_error, "upstream proxy " + proxy.to_redacted_string() +
                                                                          " sent bytes before the request was made"}};
    if (!origin_tls) {
      hop.stream = std::move(t->stream);
      co_return std::move(hop);
    }
    // TLS to the origin over the tunnel, whatever carries it: TCP to an
    // http:// or SOCKS5 proxy, or TLS to an https:// one (TLS inside TLS).
    auto secured = co_await tls_connect(std::move(t->stream), ctx.origin_tls, origin.host, ctx.connect_timeout);
    if (!secured) co_return Unexpected{secured.error()};
    hop.stream = std::move(*secured);
    co_return std::move(hop);
  }
  co_return Unexpected{all_failed(std::move(last), candidates.size())};
}

}  // namespace ferry
