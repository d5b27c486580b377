#include "server/client_identity.h"

#include "auth/client_tokens.h"
#include "http/head_parser.h"
#include "policy/network_policy.h"

namespace ferry {

namespace {

ProxyError needs_token(std::string details) {
  ProxyError e{ProxyErrc::http_request_denied, std::move(details), 407};
  e.client_auth = true;
  return e;
}

}  // namespace

std::optional<ProxyError> identify_client_token(ClientIdentity& who, const ServerContext& ctx,
                                                const ConfigSnapshot& snapshot, ClientScope scope,
                                                const Secret* token) {
  who.clear();
  const ClientTokenStore* store = ctx.client_tokens;
  if (!store) return std::nullopt;
  if (!token) {
    if (!ctx.client_tokens_required) return std::nullopt;
    return needs_token(
        "this proxy needs a client token (Proxy-Authorization: Basic with the token as password, "
        "or Bearer)");
  }
  auto owner = store->find(token->view(), std::chrono::steady_clock::now());
  if (!owner) return needs_token("the client token is not valid (unknown, revoked or expired)");
  who.client_id = owner->id;
  if (owner->run_profile) {
    who.profile = owner->run_profile;
  } else if (!owner->profile.empty()) {
    const auto& profiles = snapshot.config->profiles;
    auto it = profiles.find(owner->profile);
    if (it == profiles.end())
      return ProxyError{ProxyErrc::proxy_configuration_error,
                        "the client token's profile '" + owner->profile + "' is not in the configuration", 403};
    who.profile = it->second;
  }
  if (who.profile && who.profile->policy)
    who.profile_route.emplace(snapshot.upstream_for(scope), who.profile->policy.get());
  return std::nullopt;
}

std::optional<ProxyError> identify_client(ClientConnection& conn, const http::RequestHead& head) {
  if (!conn.ctx.client_tokens) {
    conn.who.clear();
    return std::nullopt;
  }
  std::optional<Secret> token;  // wiped when it goes
  bool sent = false;
  for (const auto& f : head.fields) {
    if (!iequals(f.name, "Proxy-Authorization")) continue;
    sent = true;
    token = client_token_from(f.value);
    break;
  }
  if (sent && !token) {
    conn.who.clear();
    return needs_token("Proxy-Authorization is not Basic or Bearer with a client token");
  }
  return identify_client_token(conn.who, conn.ctx, *conn.snapshot, conn.scope, token ? &*token : nullptr);
}

std::optional<ProxyError> policy_refusal(const ClientIdentity& who, const Config& config, const HostPort& target) {
  const NetworkPolicy* policy = who.policy(config);
  if (!policy) return std::nullopt;
  auto denied = policy->deny_host(target.host, target.port);
  if (!denied) return std::nullopt;
  const std::string whose = who.profile ? "profile " + who.profile->id : std::string("the global policy");
  return ProxyError{ProxyErrc::http_request_denied, *denied + " (" + whose + ")"};
}

}  // namespace ferry
