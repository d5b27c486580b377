#pragma once
// What the upstream connectors need from the process, in one place, so the
// proxy server and the one-shot commands (`ferry connect`, `tunnel`, `check`)
// dial upstreams the same way. Everything here outlives every connection.
#include <map>
#include <memory>
#include <string>

#include "auth/proxy_authenticator.h"
#include "base/duration.h"
#include "config/proxy_url.h"
#include "log/event_log.h"
#include "net/tcp_connector.h"
#include "net/tls_stream.h"
#include "upstream/upstream_health.h"

namespace ferry {

// The identity of an upstream for pools, health and auth state:
// "scheme://[user@]host:port" (the password never takes part).
std::string proxy_key(const ProxyUrl& p);

// One authenticator per upstream, built at start for every upstream the
// route table can name; read-only afterwards, so lookups need no lock.
class AuthRegistry {
 public:
  void add(const ProxyUrl& proxy, AuthMode mode, auth::Credentials fallback);
  auth::ProxyAuthenticator* find(const ProxyUrl& proxy) const;

 private:
  std::map<std::string, std::unique_ptr<auth::ProxyAuthenticator>> by_key_;
};

struct UpstreamContext {
  Millis connect_timeout;
  const DestinationFilter& destinations;
  TlsClientContext& proxy_tls;  // trust for https:// upstreams (--upstream-ca or system)
  TlsClientContext& origin_tls;
  UpstreamHealth& health;
  const AuthRegistry& auth;
  EventLog& log;
};

}  // namespace ferry
