#pragma once
// What a client's token selects (SPEC §7 "Profiles" and "Runs"): the inject
// rules, network policy and upstream override a request is served with,
// instead of the global ones. Static profiles come from `[profiles.NAME]`;
// a run (control API) has its own, made from a named profile and/or inline
// rules and policy. Immutable once built; shared by every request of the
// client, so a reload or a run's deletion never changes a request midway.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/proxy_url.h"
#include "intercept/inject_rule.h"

namespace ferry {

class NetworkPolicy;  // policy/network_policy.h
class ProxyResolver;  // routing/proxy_resolver.h
namespace aws {
class RoleCredentials;  // aws/role_credentials.h
}

struct Profile {
  // What logs name: the profile's name ("ci"), or "run:<id>" for a run.
  std::string id;
  InjectRules rules;                            // replace the global [[inject]] rules
  std::shared_ptr<const NetworkPolicy> policy;  // null: the global [policy]
  // Upstream proxies for this profile's traffic (failover order); unset:
  // the global route. Empty vector: direct.
  std::optional<std::vector<ProxyUrl>> upstream;
  // The route `upstream` gives (with the global bypass lists); null: the
  // snapshot's. Made when the configuration is loaded.
  std::shared_ptr<ProxyResolver> resolver;
  // [profiles.NAME.aws]: the role served at /_ferry/aws/credentials (its cache is shared).
  std::shared_ptr<aws::RoleCredentials> aws;
};

using ProfilePtr = std::shared_ptr<const Profile>;

}  // namespace ferry
