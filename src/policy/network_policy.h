#pragma once
// A network policy (SPEC §7 "Policy"): which targets a client may reach.
// Immutable once built and shared as std::shared_ptr<const NetworkPolicy> by
// every request of a profile, so a reload never changes one midway.
//
// Two checks, both needed on every path (CONNECT, plain HTTP, SOCKS5, raw
// tunnels, each request inside an intercepted tunnel):
//  1. deny_host(host, port) on the target as the client names it, before
//     anything is resolved or dialled -> 403 http_request_denied.
//  2. deny_address(addr) on EVERY address the connection may go to: each
//     resolved address, and the address of an IP-literal target. The caller
//     connects only to addresses that passed, from that same resolution (no
//     second lookup: a DNS-rebinding answer cannot slip in between)
//     -> 403 destination_ip_prohibited when none is left.
//
// Rules:
//  - permissive: deny_host allows every target; strict: only a target that
//    matches an `allow` pattern or a host of a listed grant (an IP-literal
//    target must match an IP or CIDR pattern; names never match addresses).
//  - deny_ips (IPs/CIDRs) applies in both modes. Absent, it defaults to the
//    link-local and cloud metadata addresses (kDefaultDenyIps); `[]` turns it
//    off; a list replaces the default.
//  - deny_private = true (either mode) adds loopback, RFC 1918, ULA and
//    "this host" (kPrivateRanges). An address that an allow IP/CIDR pattern
//    lists explicitly is exempt from deny_private (`allow = ["10.0.0.5"]`
//    reaches one internal host while the rest stay closed), but never from
//    deny_ips: deny_ips is the hard wall and says so by being explicit.
//  - IPv4-mapped IPv6 addresses (::ffff:169.254.169.254) are checked as the
//    IPv4 address they reach.
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "base/ip_prefix.h"
#include "policy/grants.h"
#include "policy/host_patterns.h"
#include "policy/ip_prefix_set.h"

namespace ferry {

enum class PolicyMode { permissive, strict };

// The default deny_ips: link-local (where cloud metadata lives:
// 169.254.169.254, AWS's fd00:ec2::254) and Alibaba's 100.100.100.200.
inline constexpr std::string_view kDefaultDenyIps[] = {"169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128",
                                                       "100.100.100.200/32"};
// What deny_private adds.
inline constexpr std::string_view kPrivateRanges[] = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8",
                                                      "0.0.0.0/8",  "::1/128",       "::/128",         "fc00::/7"};

// A policy as written, before checking: from TOML (config/policy_config.h)
// or from a run's JSON.
struct PolicySpec {
  PolicyMode mode = PolicyMode::permissive;
  std::vector<std::string> allow;
  std::vector<std::string> grants;                   // "github", "github:repo"
  std::optional<std::vector<std::string>> deny_ips;  // unset: kDefaultDenyIps
  bool deny_private = false;
};

class NetworkPolicy {
 public:
  // Errors name the key and the value: "allow[3]: 'a b' is not a host
  // name…", "grants[0]: unknown grant 'gihub' (known: …)", "deny_ips[1]: …".
  static Expected<std::shared_ptr<const NetworkPolicy>> create(const PolicySpec& spec, const GrantCatalog& grants);
  // What an empty [policy] table gives: permissive, default deny_ips.
  static std::shared_ptr<const NetworkPolicy> default_policy();

  // nullopt when host:port may be reached; else the details for
  // 403 http_request_denied: "example.com:443 is not in the policy's allow
  // list" (the caller adds the profile). `host` as the client named it.
  std::optional<std::string> deny_host(std::string_view host, uint16_t port) const;
  // The pattern that allows host:port in strict mode ("*.github.com (grant
  // github)"), or null (permissive, or denied): for `ferry route` and logs.
  const std::string* allowed_by(std::string_view host, uint16_t port) const;

  // nullopt when a connection may go to addr; else the details for
  // 403 destination_ip_prohibited: "169.254.169.254 is in deny_ips
  // (169.254.0.0/16)".
  std::optional<std::string> deny_address(const boost::asio::ip::address& addr) const;

  // "strict, 12 patterns, grants github npm, deny_private" — for `ferry
  // route`/`check` and logs; names no host.
  std::string describe() const;

  PolicyMode mode() const { return mode_; }
  bool strict() const { return mode_ == PolicyMode::strict; }

 private:
  PolicyMode mode_ = PolicyMode::permissive;
  HostPatternSet allow_;  // the allow patterns and every grant's hosts
  size_t allow_count_ = 0;
  std::vector<std::string> grant_names_;
  IpPrefixSet deny_ips_;
  bool deny_ips_default_ = true;
  IpPrefixSet private_;  // empty unless deny_private
};

}  // namespace ferry
