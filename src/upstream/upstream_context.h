#pragma once
// What the upstream connectors need from the process, in one place, so the
// proxy server and the one-shot commands (`ferry connect`, `tunnel`, `check`)
// dial upstreams the same way. Everything here outlives every connection.
#include <map>
#include <unordered_map>
#include <optional>
#include <memory>
#include <string>

#include "auth/proxy_authenticator.h"
#include "base/duration.h"
#include "config/proxy_url.h"
#include "log/event_log.h"
#include "net/tcp_connector.h"
#include "net/tls_stream.h"
#include "upstream/blocking_pool.h"
#include "upstream/upstream_health.h"

namespace ferry {

// The identity of an upstream for pools, health and auth state:
// "scheme://[user@]host:port" (the password never takes part).
std::string proxy_key(const ProxyUrl& p);

// One authenticator per upstream, built at start for every upstream the
// route table can name; read-only afterwards, so lookups need no lock.
class AuthRegistry {
 public:
  // `policy`: the flags; cleartext and the shared back-off are filled in
  // here. `kerberos_password_user`: the --user whose password Negotiate
  // uses for ferry's own ticket (empty: a keytab or the user's ccache).
  void add(const ProxyUrl& proxy, AuthMode mode, auth::Credentials fallback,
           std::shared_ptr<auth::GssMechanism> negotiate, const std::string& spn_override, auth::AuthPolicy policy = {},
           const std::string& kerberos_password_user = {});
  auth::ProxyAuthenticator* find(const ProxyUrl& proxy) const;
  // Lets find() recognise this ProxyUrl object (one of the route table's)
  // by its address, without building its key on every request.
  void bind(const ProxyUrl& proxy);

 private:
  std::map<std::string, std::unique_ptr<auth::ProxyAuthenticator>> by_key_;
  std::unordered_map<const ProxyUrl*, auth::ProxyAuthenticator*> by_address_;
  // One back-off per identity (user name): the domain's bad-password
  // counter does not care which proxy the password was refused by.
  std::map<std::string, std::shared_ptr<auth::AuthBackoff>> backoffs_;
};

struct UpstreamContext {
  Millis connect_timeout;
  const DestinationFilter& destinations;
  TlsClientContext& proxy_tls;  // trust for https:// upstreams (--upstream-ca or system)
  TlsClientContext& origin_tls;
  UpstreamHealth& health;
  const AuthRegistry& auth;
  EventLog& log;
  BlockingPool& blocking;  // GSSAPI calls (they may wait for the KDC)
};

}  // namespace ferry
