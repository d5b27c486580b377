#pragma once
// The routing rules of SPEC §3 (after client and policy checks) compiled into
// one immutable model: loopback goes direct, then the exact bypass list, then
// the NO_PROXY list, then the upstream chain (from flags/config, or else from
// the environment), otherwise direct.
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "config/proxy_url.h"
#include "routing/bypass_rules.h"

namespace ferry {

// What kind of traffic is being routed; it picks the environment variable.
enum class TrafficKind {
  plain_http,  // absolute-form http:// request
  https_url,   // absolute-form https:// request
  tunnel,      // CONNECT, SOCKS5, `ferry connect`, `ferry tunnel`
};

struct EnvProxies {
  std::optional<ProxyUrl> http_proxy, https_proxy, all_proxy;
  std::string no_proxy;                               // raw list
  std::string no_proxy_exact;                         // FERRY_NO_PROXY_EXACT
  std::vector<std::string> warnings;                  // e.g. an env proxy that points at ferry itself
  std::string http_source, https_source, all_source;  // which variable each came from
};

using GetEnv = std::function<std::optional<std::string>(const std::string&)>;
GetEnv process_env();

// Reads HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY (lowercase wins over
// uppercase) and FERRY_NO_PROXY_EXACT. A proxy equal to one of `own_listeners`
// ("host:port") is dropped with a warning; an unparsable one is an error that
// names the variable with the password masked.
Expected<EnvProxies> read_env_proxies(const GetEnv& getenv, const std::vector<std::string>& own_listeners);

struct RouteDecision {
  bool direct = true;
  // Failover order, when !direct: a view into the RouteTable, which is
  // immutable and outlives every decision (no copy per request).
  std::span<const ProxyUrl> proxies;
  std::string rule;  // why, in words: "loopback", "no_proxy_exact github.com", ...
};

class RouteTable {
 public:
  struct Inputs {
    std::vector<ProxyUrl> upstreams;  // flags/config: authoritative when non-empty
    std::string no_proxy;
    std::string no_proxy_exact;
    std::optional<EnvProxies> env;  // used only when upstreams is empty
  };
  static Expected<RouteTable> build(const Inputs& inputs);

  RouteDecision route(TrafficKind kind, std::string_view host, uint16_t port) const;
  // Canonical text of the rules (credentials masked); build() of its parse gives the same text.
  std::string to_string() const;
  static Expected<RouteTable> parse(std::string_view text);
  // Every proxy a decision can name (for per-proxy state built at start).
  std::vector<const ProxyUrl*> all_proxies() const;
  // The proxy lists a decision can view (upstreams, then the env ones).
  std::vector<std::span<const ProxyUrl>> proxy_spans() const { return {upstreams_, env_http_, env_https_, env_all_}; }

 private:
  ExactBypassRules exact_;
  NoProxyRules no_proxy_;
  std::vector<ProxyUrl> upstreams_;
  // Each holds the one proxy its variable named, or none: vectors so that a
  // decision can view them like the upstream list.
  std::vector<ProxyUrl> env_http_, env_https_, env_all_;
  std::string env_http_src_, env_https_src_, env_all_src_;
};

bool is_loopback_target(std::string_view host);

}  // namespace ferry
