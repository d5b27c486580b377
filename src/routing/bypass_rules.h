#pragma once
// Bypass lists: which targets go direct instead of through an upstream.
//
// NoProxyRules follows curl's NO_PROXY semantics: `*` alone matches all;
// a name matches itself and its subdomains on a label boundary (`corp.com`
// matches `a.corp.com`, never `evilcorp.com`); a leading dot is the same as
// none; IP literals match exactly; CIDR prefixes match IP-literal targets;
// an optional `:port` restricts a rule to that port. ExactBypassRules match
// host or host:port exactly, case-insensitively, trailing dot ignored.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "base/ip_prefix.h"

namespace ferry {

class NoProxyRules {
 public:
  // Parses a comma/space separated list; an invalid entry is an error.
  static Expected<NoProxyRules> parse(std::string_view list);

  bool matches(std::string_view host, uint16_t port) const;
  bool empty() const { return rules_.empty() && !match_all_; }
  // Canonical text; parse(to_string()) gives equal rules.
  std::string to_string() const;
  // The rule text that matched, for `ferry route` ("" if none).
  std::string matching_rule(std::string_view host, uint16_t port) const;

 private:
  struct Rule {
    enum class Kind { domain, ip, cidr } kind;
    std::string domain;  // lower-case, no leading or trailing dot
    std::optional<IpPrefix> prefix;
    uint16_t port = 0;  // 0 = any
    std::string text;
  };
  bool rule_matches(const Rule& r, std::string_view host, uint16_t port) const;

  bool match_all_ = false;
  std::vector<Rule> rules_;
};

class ExactBypassRules {
 public:
  static Expected<ExactBypassRules> parse(std::string_view list);
  bool matches(std::string_view host, uint16_t port) const;
  std::string matching_rule(std::string_view host, uint16_t port) const;
  bool empty() const { return rules_.empty(); }
  std::string to_string() const;

 private:
  struct Rule {
    std::string host;   // lower-case, no trailing dot, IPv6 without brackets
    uint16_t port = 0;  // 0 = any
    std::string text;
  };
  std::vector<Rule> rules_;
};

// "Host." and "HOST" both become "host"; IPv6 brackets removed.
std::string normalize_host(std::string_view host);

}  // namespace ferry
