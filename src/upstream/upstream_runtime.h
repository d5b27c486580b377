#pragma once
// The process-lifetime routing state built once at start from the config
// and the environment: the compiled route table, one authenticator per
// upstream, the health record and the trust store for https:// upstreams.
#include <memory>
#include <string>
#include <vector>

#include "auth/negotiate/mit_gss.h"
#include "config/config.h"
#include "routing/route_table.h"
#include "upstream/upstream_context.h"

namespace ferry {

struct UpstreamRuntime {
  RouteTable routes;
  AuthRegistry auth;
  UpstreamHealth health;
  std::unique_ptr<TlsClientContext> proxy_tls;
  // --origin-ca: trust for the origins ferry itself speaks TLS to (intercepted
  // hosts, https:// absolute-form URLs); null: system trust.
  std::unique_ptr<TlsClientContext> origin_tls;
  std::shared_ptr<auth::GssMechanism> negotiate;  // null when Negotiate is off
  BlockingPool blocking;                          // for GSSAPI calls (a slow KDC ties one up)
  std::vector<std::string> warnings;              // for the log: env proxies ignored, ...
  bool from_env = false;                          // the upstreams came from *_PROXY
};

// With `load_secrets`, reads the password (file or terminal prompt) when
// some upstream may need it; `ferry route` passes false and never asks.
// Errors name the setting; they never contain a secret.
// `own_listeners` are "host:port" of ferry's listeners (self-loop check).
Expected<std::unique_ptr<UpstreamRuntime>> build_upstream_runtime(const Config& config, const GetEnv& getenv,
                                                                  const std::vector<std::string>& own_listeners,
                                                                  bool load_secrets = true);

}  // namespace ferry
