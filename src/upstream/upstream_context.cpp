#include "upstream/upstream_context.h"

namespace ferry {

std::string proxy_key(const ProxyUrl& p) {
  std::string k(proxy_scheme_name(p.scheme));
  k += "://";
  if (p.has_credentials()) k += p.user + "@";
  k += p.address.to_string();
  return k;
}

std::unique_ptr<auth::ProxyAuthenticator> AuthRegistry::make(const ProxyUrl& proxy, const Settings& settings) const {
  // Userinfo in the URL wins over --user for that upstream (curl does the same).
  auth::Credentials creds = proxy.has_credentials() ? auth::Credentials{proxy.user, proxy.password} : settings.fallback;
  // The SPN comes from the proxy name as configured, never from DNS (a
  // CNAME would name another service), like curl and Chromium.
  auth::NegotiateSetup neg{settings.negotiate,
                           settings.spn_override.empty() ? "HTTP@" + proxy.address.host : settings.spn_override};
  auth::AuthPolicy policy = settings.policy;
  policy.cleartext = proxy.scheme != ProxyScheme::https;
  policy.kerberos_password = !settings.kerberos_password_user.empty() && settings.kerberos_password_user == creds.user;
  auto& backoff = backoffs_[creds.user];
  if (!backoff) backoff = std::make_shared<auth::AuthBackoff>();
  policy.backoff = backoff;
  return std::make_unique<auth::ProxyAuthenticator>(settings.mode, std::move(creds), proxy.to_redacted_string(),
                                                    std::move(neg), auth::ProxyAuthenticator::Clock::now,
                                                    std::move(policy));
}

void AuthRegistry::add(const ProxyUrl& proxy, const Settings& settings) {
  auto key = proxy_key(proxy);
  if (by_key_.count(key)) return;
  by_key_.emplace(key, make(proxy, settings));
}

void AuthRegistry::bind(const ProxyUrl& proxy) {
  auto it = by_key_.find(proxy_key(proxy));
  if (it != by_key_.end()) by_address_[&proxy] = it->second.get();
}

auth::ProxyAuthenticator* AuthRegistry::find(const ProxyUrl& proxy) const {
  if (auto a = by_address_.find(&proxy); a != by_address_.end()) return a->second;
  const auto key = proxy_key(proxy);
  if (auto it = by_key_.find(key); it != by_key_.end()) return it->second.get();
  if (!defaults_) return nullptr;
  std::lock_guard lock(later_mu_);
  auto& slot = later_[key];
  if (!slot) slot = make(proxy, *defaults_);
  return slot.get();
}

size_t AuthRegistry::size() const {
  std::lock_guard lock(later_mu_);
  return by_key_.size() + later_.size();
}

}  // namespace ferry
