#pragma once
// What every session shares: the immutable configuration and the few
// process-wide counters. Owned by ProxyServer; passed by reference.
#include <atomic>
#include <string>

#include "config/config.h"
#include "http/via.h"
#include "log/event_log.h"
#include "net/dns_pool.h"
#include "net/tcp_connector.h"
#include "net/tls_stream.h"
#include "routing/proxy_resolver.h"
#include "upstream/upstream_runtime.h"

namespace ferry {

struct ServerContext {
  ServerContext(const Config& c, EventLog& l, http::Via v, UpstreamRuntime& up)
      : config(c), log(l), via(std::move(v)), via_1_1(via.value(1)), via_1_0(via.value(0)), routes(up.routes),
        resolver(std::make_unique<StaticProxyResolver>(up.routes)),
        upstream{c.connect_timeout, destinations, *up.proxy_tls, tls, up.health, up.auth, l, up.blocking, via_1_1},
        remote_upstream{
            c.connect_timeout, remote_destinations, *up.proxy_tls, tls, up.health, up.auth, l, up.blocking, via_1_1} {}

  // Our Via element for a message received as HTTP/1.<minor>.
  const std::string& via_for(int minor) const { return minor == 0 ? via_1_0 : via_1_1; }

  const Config& config;
  EventLog& log;
  const http::Via via;
  const std::string via_1_1;  // "1.1 ferry-xxxx", for responses ferry makes
  const std::string via_1_0;
  DnsPool dns;
  DestinationFilter filter;  // ferry's listeners and host addresses, filled in before serving
  const Destinations destinations{dns, filter, ClientScope::local};
  const Destinations remote_destinations{dns, filter, ClientScope::remote};
  TlsClientContext tls;
  const RouteTable& routes;
  // Where requests go (SPEC §3): the static rules today; PAC plugs in here.
  std::unique_ptr<ProxyResolver> resolver;
  UpstreamContext upstream;         // borrows destinations and tls above
  UpstreamContext remote_upstream;  // the same, with the remote-client destination policy

  // The upstream context for a client's requests: clients on other hosts
  // may not reach into this host (SPEC §3.3 loopback rule is for the local user).
  UpstreamContext& upstream_for(ClientScope scope) { return scope == ClientScope::local ? upstream : remote_upstream; }
  UpstreamContext& upstream_for(const tcp::socket& client) { return upstream_for(scope_of(client)); }
  static ClientScope scope_of(const tcp::socket& client) {
    error_code ec;
    auto ep = client.remote_endpoint(ec);
    return ec ? ClientScope::remote : scope_of_client(ep.address());
  }

  std::atomic<size_t> connections{0};
  std::atomic<bool> draining{false};
};

}  // namespace ferry
