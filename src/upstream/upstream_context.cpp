#include "upstream/upstream_context.h"

namespace ferry {

std::string proxy_key(const ProxyUrl& p) {
  std::string k(proxy_scheme_name(p.scheme));
  k += "://";
  if (p.has_credentials()) k += p.user + "@";
  k += p.address.to_string();
  return k;
}

void AuthRegistry::add(const ProxyUrl& proxy, AuthMode mode, auth::Credentials fallback,
                       std::shared_ptr<auth::GssMechanism> negotiate, const std::string& spn_override,
                       auth::AuthPolicy policy, const std::string& kerberos_password_user) {
  auto key = proxy_key(proxy);
  if (by_key_.count(key)) return;
  // Userinfo in the URL wins over --user for that upstream (curl does the same).
  auth::Credentials creds = proxy.has_credentials() ? auth::Credentials{proxy.user, proxy.password}
                                                    : std::move(fallback);
  // The SPN comes from the proxy name as configured, never from DNS (a
  // CNAME would name another service), like curl and Chromium.
  auth::NegotiateSetup neg{std::move(negotiate), spn_override.empty() ? "HTTP@" + proxy.address.host : spn_override};
  policy.cleartext = proxy.scheme != ProxyScheme::https;
  policy.kerberos_password = !kerberos_password_user.empty() && kerberos_password_user == creds.user;
  auto& backoff = backoffs_[creds.user];
  if (!backoff) backoff = std::make_shared<auth::AuthBackoff>();
  policy.backoff = backoff;
  by_key_.emplace(key, std::make_unique<auth::ProxyAuthenticator>(mode, std::move(creds), proxy.to_redacted_string(),
                                                                  std::move(neg), auth::ProxyAuthenticator::Clock::now,
                                                                  std::move(policy)));
}

void AuthRegistry::bind(const ProxyUrl& proxy) {
  auto it = by_key_.find(proxy_key(proxy));
  if (it != by_key_.end()) by_address_[&proxy] = it->second.get();
}

auth::ProxyAuthenticator* AuthRegistry::find(const ProxyUrl& proxy) const {
  if (auto a = by_address_.find(&proxy); a != by_address_.end()) return a->second;
  auto it = by_key_.find(proxy_key(proxy));
  return it == by_key_.end() ? nullptr : it->second.get();
}

}  // namespace ferry
