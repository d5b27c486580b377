#pragma once
// The host patterns of a network policy's allow list (SPEC §7 "Policy").
//
//   api.github.com      exactly that name. A bare name does NOT cover its
//                       subdomains (unlike NO_PROXY): SPEC has `host` and
//                       `*.suffix` as two patterns, and an allow list should
//                       grant no more than it says.
//   *.github.com        every name strictly below github.com on a label
//                       boundary (a.github.com, a.b.github.com); never
//                       github.com itself or badgithub.com. Write both when
//                       both are meant.
//   10.1.2.3, ::1       that address (any spelling: [::1], 0:0::1, and the
//                       IPv4-mapped ::ffff:10.1.2.3 for an IPv4 pattern).
//   10.0.0.0/8, fd00::/8  any address in the prefix.
//   any of these + :port  only that port: api.github.com:443,
//                       *.corp:8443, [::1]:443, [fd00::/8]:443, 10.0.0.0/8:22.
//                       IPv6 takes brackets when it has a port.
//
// Names compare case-insensitively, one trailing dot ignored; IDNs are not
// special (write their xn-- form). Name patterns never match IP-literal
// targets and address patterns never match names (what a name resolves to
// is NetworkPolicy::deny_address's job). A name whose last label is numeric
// (1.2.3, 0x7f.1) is neither: resolvers read it as an address in
// inet_aton's forms, so it matches no pattern, and such patterns are refused.
//
// match() costs a few hash lookups whatever the set's size: one for the exact
// name, one per label suffix of the host, one per distinct prefix length.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/expected.h"
#include "policy/ip_prefix_set.h"

namespace ferry {

class HostPatternSet {
 public:
  // Adds one pattern. `label`, when given, is appended to the text match()
  // reports: "*.github.com (grant github)". An invalid pattern is an error
  // that quotes it.
  Expected<bool> add(std::string_view pattern, std::string_view label = {});
  // The canonical text of a pattern (lower-case, canonical IP spelling), or
  // the error add() would give: for checking patterns before use.
  static Expected<std::string> canonical(std::string_view pattern);

  // The text of a pattern that allows host:port, or null. `host` is as a
  // request names it: a name, an IP literal, "[v6]". The pointer stays valid
  // until the next add() or the set's end.
  const std::string* match(std::string_view host, uint16_t port) const;
  // Only the address patterns, ignoring their ports.
  const std::string* match_address_any_port(const boost::asio::ip::address& addr) const {
    return addresses_.match_any_port(addr);
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct Entry {
    uint16_t port;  // 0 = any
    std::string text;
  };
  using Entries = std::vector<Entry>;
  // Heterogeneous lookup: match() looks names up as string_views, no copy.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using NameMap = std::unordered_map<std::string, Entries, NameHash, std::equal_to<>>;

  static bool add_entry(Entries& entries, uint16_t port, std::string text);
  static const std::string* find(const NameMap& map, std::string_view name, uint16_t port);

  NameMap exact_;     // "api.github.com"
  NameMap suffixes_;  // "*.github.com" keyed by "github.com"
  IpPrefixSet addresses_;
  size_t size_ = 0;
};

}  // namespace ferry
