#pragma once
// Carries a connection along a resolved proxy list: its chains in failover
// order, DIRECT being one of them. A connection-level failure marks
// the upstream down for the health penalty and moves on to the next; a
// refusal by an upstream ends the attempt (SPEC §3).
#include <span>
#include <string>

#include "routing/proxy_resolver.h"
#include "upstream/proxy_hop.h"

namespace ferry {

struct RoutedTunnel {
  ByteStreamPtr stream;
  std::string early_bytes;
  std::string route;  // "direct" or the upstream's redacted URL, for logs
};

// A byte tunnel to `target` (CONNECT, SOCKS5 inbound, `ferry connect`);
// `forwarded_via`: the client's Via lines, for a CONNECT sent upstream.
awaitable<Expected<RoutedTunnel, ProxyError>> open_tunnel(const UpstreamContext& ctx, const ProxyList& proxies,
                                                          const HostPort& target, bool client_speaks_first,
                                                          std::string_view forwarded_via = {});

// How a plain HTTP request reaches its origin: either a connection to an
// http(s) upstream that takes absolute-form requests, or a byte stream to
// the origin itself (direct or through a SOCKS5 / CONNECT tunnel), which
// takes origin-form requests. For https:// origins the stream is TLS.
struct RequestHop {
  ByteStreamPtr stream;
  const ProxyUrl* forward_proxy = nullptr;  // absolute-form requests go to this proxy
  std::string pool_key;
  std::string route;
};

// One way to reach an origin for a request, in attempt order; its pool key
// says which idle connections can serve it (a forward proxy's connection
// serves any origin, a tunnel only its own).
struct HopCandidate {
  const ProxyChain* chain = nullptr;  // the resolved chain this candidate dials
  const ProxyUrl* proxy = nullptr;    // its proxy; null = direct
  bool absolute_form = false;         // http(s) upstream and a plain http:// origin
  std::string pool_key;
  std::string route;
};
// The candidates point into `proxies`, which must outlive them.
std::vector<HopCandidate> plan_request_hops(const UpstreamContext& ctx, const ProxyList& proxies,
                                            const HostPort& origin, bool origin_tls);

// The route of a list for logs before any chain was tried: the first
// chain, "(+N more)" when failover has more.
std::string route_summary(const ProxyList& proxies);

// Dials the candidates in order with failover.
awaitable<Expected<RequestHop, ProxyError>> open_request_hop(const UpstreamContext& ctx,
                                                             std::span<const HopCandidate> candidates,
                                                             const HostPort& origin, bool origin_tls);

// Records a connection-level failure of `proxy` found after the dial (a
// forward proxy that closed without answering): the 60 s skip and the log.
void report_upstream_failure(const UpstreamContext& ctx, const ProxyUrl& proxy, const ProxyError& e, bool failing_over);

}  // namespace ferry
