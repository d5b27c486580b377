#pragma once
// The immutable configuration snapshot every session reads. Built once at
// start from flags, the TOML file and the environment; never mutated after.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/auth_mode.h"
#include "base/duration.h"
#include "base/host_port.h"
#include "base/ip_prefix.h"
#include "config/proxy_url.h"
#include "intercept/inject_rule.h"
#include "log/event_log.h"
#include "policy/profile.h"
#include "routing/relay_routes.h"

namespace ferry {

class GrantCatalog;  // policy/grants.h

enum class RelayMode { automatic, splice, copy };

// How ferry answers an upstream proxy's 407 (SPEC §2 --auth).

struct PortList {
  bool any = false;
  std::vector<uint16_t> ports;
  bool allows(uint16_t p) const;
  std::string to_string() const;
};

// TLS interception (SPEC §7): where the CA lives, how leaves are made,
// what trusts origins, the request log.
struct InterceptionSettings {
  std::string ca_dir;     // --ca-dir; empty: $XDG_DATA_HOME/ferry/ca (default_ca_dir)
  std::string origin_ca;  // --origin-ca; empty: system trust
  bool leaf_key_per_host = false;
  size_t leaf_cache_size = 1024;
  std::string request_log;  // --request-log FILE; empty: off
  bool request_log_bodies = false;
};

struct Config {
  std::vector<HostPort> listen{HostPort{"127.0.0.1", 3128}};
  std::vector<IpPrefix> allow;  // filled with loopback defaults by finalize()
  bool allow_explicit = false;
  PortList connect_ports{false, {443}};
  Millis idle_timeout{5 * 60 * 1000};
  Millis connect_timeout{10 * 1000};
  Millis header_timeout{30 * 1000};
  size_t max_connections = 4096;
  unsigned workers = 0;  // 0 = one per core
  RelayMode relay = RelayMode::automatic;
  LogFormat log_format = LogFormat::json;
  LogLevel log_level = LogLevel::info;

  // Upstream proxies, in failover order. Explicit ones (flags or config)
  // are authoritative: the proxy environment variables are then not read.
  std::vector<ProxyUrl> upstreams;
  AuthMode auth = AuthMode::automatic;
  std::string user;           // --user: applies to upstreams without userinfo
  std::string password_file;  // --password-file
  std::string upstream_ca;    // --upstream-ca: trust for https:// upstreams
  std::string spn;            // --spn: Negotiate service name (default HTTP@<upstream host>)
  std::string realm;          // --realm: appended to a bare --user for Kerberos
  std::string keytab;         // --keytab: client keytab for Negotiate
  // --auth-allow-basic-fallback: auto may answer with Basic over http://
  // when Negotiate cannot make a token (the password in cleartext).
  bool auth_allow_basic_fallback = false;
  // --require-mutual-auth: refuse a Negotiate success without a verified
  // mutual-auth token from the proxy (Squid never sends one).
  bool require_mutual_auth = false;
  InterceptionSettings interception;
  std::string no_proxy;        // --no-proxy, raw list
  std::string no_proxy_exact;  // --no-proxy-exact, raw list
  bool no_proxy_set = false, no_proxy_exact_set = false;
  std::vector<HostPort> socks_listen;  // --socks-listen
  // `ferry tunnel HOST:PORT`: the --listen listeners carry raw TCP to this
  // target instead of speaking HTTP. Not a config key.
  std::optional<HostPort> tunnel_target;

  // [[inject]] rules in file order. Shared, not copied: a rule's values cache
  // what files and commands gave (Config itself is copied in places).
  InjectRules inject;

  // [policy] (SPEC §7): the global network policy; never null once
  // finished (permissive with the default deny_ips when the file has none).
  std::shared_ptr<const NetworkPolicy> policy;
  // [profiles.NAME]: what a client token can select.
  std::map<std::string, ProfilePtr, std::less<>> profiles;
  // Built-in grants plus [grants.NAME], for policies made later (runs).
  std::shared_ptr<const GrantCatalog> grants;
  std::string client_tokens_file;  // --client-tokens: clients must present a token
  std::string admin;               // --admin: unix socket path or loopback host:port; empty: off
  std::string admin_token_file;    // --admin-token
  // [[relay]] and [[mcp]]: origin-form paths ferry forwards to a target.
  std::vector<RelayRoute> relays;
};

}  // namespace ferry
