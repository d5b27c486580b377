#include "policy/network_policy.h"

#include <span>

namespace ferry {

namespace {

// Checked constants: a typo in the tables above is a failed test, not a crash.
void add_ranges(IpPrefixSet& set, std::span<const std::string_view> texts) {
  for (auto t : texts)
    if (auto p = IpPrefix::parse(t)) set.add(*p, 0, p->to_string());
}

// host:port as the client named it, IPv6 in brackets.
std::string target_text(std::string_view host, uint16_t port) {
  const bool bare_v6 = host.find(':') != std::string_view::npos && !host.starts_with('[');
  return (bare_v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

}  // namespace

Expected<std::shared_ptr<const NetworkPolicy>> NetworkPolicy::create(const PolicySpec& spec,
                                                                     const GrantCatalog& grants) {
  auto policy = std::make_shared<NetworkPolicy>();
  policy->mode_ = spec.mode;
  for (size_t i = 0; i < spec.allow.size(); ++i)
    if (auto r = policy->allow_.add(spec.allow[i]); !r) return fail("allow[" + std::to_string(i) + "]: " + r.error());
  policy->allow_count_ = spec.allow.size();
  for (size_t i = 0; i < spec.grants.size(); ++i) {
    const std::string& grant = spec.grants[i];
    auto hosts = grants.hosts(grant);
    if (!hosts) return fail("grants[" + std::to_string(i) + "]: " + hosts.error());
    for (const auto& h : **hosts)
      if (auto r = policy->allow_.add(h, "grant " + grant); !r)
        return fail("grants[" + std::to_string(i) + "]: " + r.error());
    policy->grant_names_.push_back(grant);
  }
  if (spec.deny_ips) {
    policy->deny_ips_default_ = false;
    for (size_t i = 0; i < spec.deny_ips->size(); ++i) {
      auto p = IpPrefix::parse((*spec.deny_ips)[i]);
      if (!p) return fail("deny_ips[" + std::to_string(i) + "]: " + p.error());
      policy->deny_ips_.add(*p, 0, p->to_string());
    }
  } else {
    add_ranges(policy->deny_ips_, kDefaultDenyIps);
  }
  if (spec.deny_private) add_ranges(policy->private_, kPrivateRanges);
  return std::shared_ptr<const NetworkPolicy>(std::move(policy));
}

std::shared_ptr<const NetworkPolicy> NetworkPolicy::default_policy() {
  return create(PolicySpec{}, GrantCatalog{}).value();
}

const std::string* NetworkPolicy::allowed_by(std::string_view host, uint16_t port) const {
  return strict() ? allow_.match(host, port) : nullptr;
}

std::optional<std::string> NetworkPolicy::deny_host(std::string_view host, uint16_t port) const {
  if (!strict() || allow_.match(host, port)) return std::nullopt;
  return target_text(host, port) + " is not in the policy's allow list";
}

std::optional<std::string> NetworkPolicy::deny_address(const boost::asio::ip::address& addr) const {
  if (const auto* rule = deny_ips_.match_any_port(addr)) return addr.to_string() + " is in deny_ips (" + *rule + ")";
  if (const auto* range = private_.match_any_port(addr); range && !allow_.match_address_any_port(addr))
    return addr.to_string() + " is a private address (deny_private: " + *range + ")";
  return std::nullopt;
}

std::string NetworkPolicy::describe() const {
  std::string out = strict() ? "strict" : "permissive";
  out += ", " + std::to_string(allow_count_) + (allow_count_ == 1 ? " pattern" : " patterns");
  if (!grant_names_.empty()) {
    out += ", grants ";
    for (size_t i = 0; i < grant_names_.size(); ++i) out += (i ? " " : "") + grant_names_[i];
  }
  if (!deny_ips_default_)
    out += deny_ips_.empty() ? ", deny_ips off" : ", deny_ips " + std::to_string(deny_ips_.size()) + " prefixes";
  if (!private_.empty()) out += ", deny_private";
  return out;
}

}  // namespace ferry
