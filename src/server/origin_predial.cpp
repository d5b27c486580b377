#include "server/origin_predial.h"

#include "http/request_target.h"
#include "server/config_snapshot.h"
#include "server/worker.h"
#include "upstream/upstream_dialer.h"

namespace ferry {

awaitable<Expected<PredialedOrigin, ProxyError>> predial_origin(const ClientConnection& conn, const HostPort& origin) {
  // The query of the tunnel's requests, path withheld as PAC sees https:// URLs.
  const http::AbsoluteTarget target{true, origin, "/"};
  const std::string authority = target.host_header();
  RouteQuery query;
  query.kind = TrafficKind::https_url;
  query.host = origin.host;
  query.port = origin.port;
  query.authority = authority;
  std::optional<Resolution> resolved = conn.who.resolver(*conn.snapshot).resolve_now(query);
  if (!resolved) {
    auto waited = co_await conn.who.resolver(*conn.snapshot).resolve(query);
    if (!waited) co_return Unexpected{waited.error()};
    resolved = std::move(*waited);
  }
  const ProxyListPtr proxies = std::move(resolved->proxies);  // the candidates point into it
  const UpstreamContext& upstream = conn.upstream();
  const std::vector<HopCandidate> candidates = plan_request_hops(upstream, *proxies, origin, true);
  const OriginPool& pool = conn.worker.pool();
  for (const auto& c : candidates)
    if (pool.has_idle(c.pool_key)) co_return PredialedOrigin{};
  auto opened = co_await open_request_hop(upstream, candidates, origin, true);
  if (!opened) co_return Unexpected{opened.error()};
  PredialedOrigin leg{std::move(opened->stream), std::move(opened->pool_key)};
  co_return std::move(leg);
}

}  // namespace ferry
