#pragma once
// What every session shares: the current configuration snapshot, the
// process-wide state and counters. Owned by ProxyServer; passed by reference.
#include <atomic>
#include <string>

#include "config/config.h"
#include "http/via.h"
#include "intercept/request_log.h"
#include "log/event_log.h"
#include "net/dns_pool.h"
#include "net/tcp_connector.h"
#include "net/tls_stream.h"
#include "server/certificate_source.h"
#include "server/config_snapshot.h"
#include "upstream/upstream_runtime.h"

namespace ferry {

class ClientTokenStore;  // auth/client_tokens.h

struct ServerContext {
  ServerContext(std::shared_ptr<const Config> config, EventLog& l, http::Via v, UpstreamRuntime& up)
      : log(l), via(std::move(v)), via_1_1(via.value(1)), via_1_0(via.value(0)), runtime(up),
        snapshots(std::make_shared<const ConfigSnapshot>(std::move(config), borrow_for_process(up.routes),
                                                         ProcessState{destinations, remote_destinations, *up.proxy_tls,
                                                                      up.origin_tls ? *up.origin_tls : tls, up.health,
                                                                      up.auth, l, up.blocking, via_1_1})) {}

  // Our Via element for a message received as HTTP/1.<minor>.
  const std::string& via_for(int minor) const { return minor == 0 ? via_1_0 : via_1_1; }

  EventLog& log;
  const http::Via via;
  const std::string via_1_1;  // "1.1 ferry-xxxx", for responses ferry makes
  const std::string via_1_0;
  DnsPool dns;
  DestinationFilter filter;  // ferry's listeners and host addresses, filled in before serving
  const Destinations destinations{dns, filter, ClientScope::local};
  const Destinations remote_destinations{dns, filter, ClientScope::remote};
  TlsClientContext tls;      // system trust for origins, unless --origin-ca
  UpstreamRuntime& runtime;  // health, auth state, the GSSAPI pool: they outlive snapshots
  // Leaf certificates for intercepted tunnels; null when no inject rule
  // can ever apply (set before serving).
  CertificateSource* certificates = nullptr;
  RequestLog* request_log = nullptr;  // --request-log; null: off
  // Client tokens (SPEC §7): from --client-tokens and runs; null when
  // neither exists (no request is asked for a token).
  const ClientTokenStore* client_tokens = nullptr;
  bool client_tokens_required = false;  // --client-tokens: no token, no service
  // The configuration requests are served under (config_snapshot.h).
  SnapshotSource snapshots;

  static ClientScope scope_of(const tcp::socket& client) {
    error_code ec;
    auto ep = client.remote_endpoint(ec);
    return ec ? ClientScope::remote : scope_of_client(ep.address());
  }

  std::atomic<size_t> connections{0};
  std::atomic<bool> draining{false};
};

}  // namespace ferry
