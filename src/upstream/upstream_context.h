#pragma once
// What the upstream connectors need from the process, in one place, so the
// proxy server and the one-shot commands (`ferry connect`, `tunnel`, `check`)
// dial upstreams the same way. Everything here outlives every connection.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

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

// One authenticator per upstream identity (proxy_key). Those of every
// upstream the static rules can name are built at start and found without a
// lock; a proxy first named at run time (a PAC result) gets one made on
// demand from the same settings, under a lock, and kept for the process.
class AuthRegistry {
 public:
  struct Settings {
    AuthMode mode = AuthMode::automatic;
    auth::Credentials fallback;  // --user/--password-file; URL userinfo wins
    std::shared_ptr<auth::GssMechanism> negotiate;
    std::string spn_override;
    auth::AuthPolicy policy;             // the flags; cleartext and the back-off are filled in per proxy
    std::string kerberos_password_user;  // the --user whose password makes ferry's own ticket
  };
  // The settings for proxies met later (set once, before serving). PAC will
  // have to narrow which of them get password schemes (SPEC §9 auth_proxies).
  void set_defaults(Settings s) { defaults_ = std::move(s); }
  // `policy`: the flags; cleartext and the shared back-off are filled in
  // here. `kerberos_password_user`: the --user whose password Negotiate
  // uses for ferry's own ticket (empty: a keytab or the user's ccache).
  void add(const ProxyUrl& proxy, const Settings& settings);
  // Never null once defaults are set: unknown proxies get an authenticator.
  auth::ProxyAuthenticator* find(const ProxyUrl& proxy) const;
  // Lets find() recognise this ProxyUrl object (one of the route table's)
  // by its address, without building its key on every request.
  void bind(const ProxyUrl& proxy);
  size_t size() const;

 private:
  std::unique_ptr<auth::ProxyAuthenticator> make(const ProxyUrl& proxy, const Settings& settings) const;
  std::map<std::string, std::unique_ptr<auth::ProxyAuthenticator>> by_key_;  // built at start
  std::unordered_map<const ProxyUrl*, auth::ProxyAuthenticator*> by_address_;
  std::optional<Settings> defaults_;
  mutable std::mutex later_mu_;  // guards later_ and backoffs_ after start
  mutable std::map<std::string, std::unique_ptr<auth::ProxyAuthenticator>> later_;  // met at run time
  // One back-off per identity (user name): the domain's bad-password
  // counter does not care which proxy the password was refused by.
  mutable std::map<std::string, std::shared_ptr<auth::AuthBackoff>> backoffs_;
};

struct UpstreamContext {
  Millis connect_timeout;
  const Destinations& destinations;
  TlsClientContext& proxy_tls;  // trust for https:// upstreams (--upstream-ca or system)
  TlsClientContext& origin_tls;
  UpstreamHealth& health;
  const AuthRegistry& auth;  // find() may create: internally locked
  EventLog& log;
  BlockingPool& blocking;  // GSSAPI calls (they may wait for the KDC)
  std::string via = {};    // "1.1 ferry-xxxx" for the CONNECTs ferry sends (loop detection); empty: none
};

}  // namespace ferry
