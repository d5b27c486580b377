#pragma once
// What a client's token selected (SPEC §7 "Client tokens"): its profile,
// the id logs name it by (a run id, never the token) and, when the profile
// has a policy of its own, the upstream context that carries it. Held by an
// HTTP client connection (per request) and by a SOCKS5 session (per tunnel).
#include <optional>
#include <string>

#include "config/config.h"
#include "policy/profile.h"
#include "server/config_snapshot.h"

namespace ferry {

struct ClientIdentity {
  ProfilePtr profile;     // null: the global rules and policy
  std::string client_id;  // "" when no token was given
  std::optional<ProfileRoute> profile_route;

  void clear() {
    profile.reset();
    client_id.clear();
    profile_route.reset();
  }
  // The profile's inject rules / policy, else the global ones.
  const InjectRules& inject_rules(const Config& config) const { return profile ? profile->rules : config.inject; }
  const NetworkPolicy* policy(const Config& config) const {
    return profile && profile->policy ? profile->policy.get() : config.policy.get();
  }
  // Where requests go (SPEC §3): the profile's own route when it names
  // upstreams, else the snapshot's.
  ProxyResolver& resolver(const ConfigSnapshot& snapshot) const {
    return profile && profile->resolver ? *profile->resolver : *snapshot.resolver;
  }
  // Where connections go from: the snapshot's context for the client's
  // scope, with the profile's policy when it has one.
  const UpstreamContext& upstream(const ConfigSnapshot& snapshot, ClientScope scope) const {
    return profile_route ? profile_route->upstream : snapshot.upstream_for(scope);
  }
};

}  // namespace ferry
