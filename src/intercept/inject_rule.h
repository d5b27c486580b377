#pragma once
// [[inject]] rules (SPEC §7): which intercepted requests get a credential,
// and what is done to their heads and bodies.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "base/secret.h"
#include "intercept/secret_value.h"

namespace ferry {

// A rule's host: "api.example.com" (exact), "*.example.com" or an IP literal.
// Names compare case-insensitively with a trailing dot ignored.
// "*.example.com" matches every name strictly below example.com on a label
// boundary (a.example.com, a.b.example.com) but NOT example.com itself, as a
// TLS wildcard does not: an API apex and its subdomains often need different
// credentials, and a second rule names the apex when it needs one.
// IP literals match the same address written in any form ([::1], 0:0::1).
class HostPattern {
 public:
  static Expected<HostPattern> parse(std::string_view text);
  bool matches(std::string_view host) const;
  // The canonical text; parse(to_string()) gives an equal pattern.
  std::string to_string() const;
  bool operator==(const HostPattern&) const = default;

 private:
  std::string name_;  // lower-case, no trailing dot; a wildcard's suffix without "*."; a canonical IP
  bool wildcard_ = false;
  bool ip_ = false;
};

struct HeaderValue {
  std::string name;
  SecretValue value;
};

struct Substitution {
  std::string placeholder;
  SecretValue value;
};

struct InjectRule {
  HostPattern host;
  uint16_t port = 443;
  std::optional<HeaderValue> header;     // set, replacing the client's fields of that name
  std::vector<HeaderValue> add_headers;  // also replace a client field of the same name (see head_injection.h)
  std::vector<std::string> remove_headers;
  std::optional<Substitution> substitute;
  bool scrub_responses = false;
  size_t number = 0;   // 1-based, for "rule N"
  std::string origin;  // file:line

  bool applies_to(std::string_view host_name, uint16_t p) const { return p == port && host.matches(host_name); }
  // Some value reads a file or runs a command: resolve it off the event loop.
  bool may_block() const;
  // After the origin answered 401: the next resolve re-runs commands and re-reads files.
  void invalidate() const;
  // For `ferry route`: "rule 1 (ferry.toml:12): api.github.com:443, header
  // Authorization = <literal>${env:GITHUB_TOKEN}". No value is ever shown.
  std::string describe() const;
};

using InjectRules = std::vector<std::shared_ptr<const InjectRule>>;

// The rules that apply to host:port, in file order. All of them apply; when
// two set the same header, the later rule's value is the one sent (each set
// replaces the fields before it).
InjectRules matching_rules(const InjectRules& rules, std::string_view host, uint16_t port);

// RFC 9110 token, and not a field ferry itself manages (framing, Host,
// hop-by-hop, Proxy-Authorization): a rule cannot change how a message is
// delimited or where it goes.
Expected<bool> check_rule_header_name(std::string_view name);

// A rule with its values resolved for one request.
struct ResolvedRule {
  std::shared_ptr<const InjectRule> rule;
  std::optional<Secret> header;
  std::vector<Secret> add_headers;  // parallel to rule->add_headers
  std::optional<Secret> substitute;
};

// Resolves every value of the rule (may block: see InjectRule::may_block).
// An error names the rule and the reference at fault, never a value.
Expected<ResolvedRule> resolve_rule(const std::shared_ptr<const InjectRule>& rule);

}  // namespace ferry
