#include "upstream/upstream_context.h"

namespace ferry {

std::string proxy_key(const ProxyUrl& p) {
  std::string k(proxy_scheme_name(p.scheme));
  k += "://";
  if (p.has_credentials()) k += p.user + "@";
  k += p.address.to_string();
  return k;
}

std::unique_ptr<auth::ProxyAuthenticator> AuthRegistry::make(const ProxyUrl& proxy, AuthMode mode,
                                                             auth::Credentials fallback,
                                                             std::shared_ptr<auth::GssMechanism> negotiate,
                                                             const std::string& spn_override) {
  // Userinfo in the URL wins over --user for that upstream (curl does the same).
  auth::Credentials creds = proxy.has_credentials() ? auth::Credentials{proxy.user, auth::Secret(proxy.password)}
                                                    : std::move(fallback);
  // The SPN comes from the proxy name as configured, never from DNS (a
  // CNAME would name another service), like curl and Chromium.
  auth::NegotiateSetup neg{std::move(negotiate), spn_override.empty() ? "HTTP@" + proxy.address.host : spn_override};
  return std::make_unique<auth::ProxyAuthenticator>(mode, std::move(creds), proxy.to_redacted_string(),
                                                    std::move(neg));
}

void AuthRegistry::add(const ProxyUrl& proxy, AuthMode mode, auth::Credentials fallback,
                       std::shared_ptr<auth::GssMechanism> negotiate, const std::string& spn_override) {
  auto key = proxy_key(proxy);
  if (by_key_.count(key)) return;
  by_key_.emplace(key, make(proxy, mode, std::move(fallback), std::move(negotiate), spn_override));
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
  if (!slot) slot = make(proxy, defaults_->mode, defaults_->fallback, defaults_->negotiate, defaults_->spn_override);
  return slot.get();
}

size_t AuthRegistry::size() const {
  std::lock_guard lock(later_mu_);
  return by_key_.size() + later_.size();
}

}  // namespace ferry
