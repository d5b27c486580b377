#include "intercept/inject_rule.h"

#include <boost/asio/ip/address.hpp>

#include "base/host_port.h"
#include "http/head_parser.h"

namespace ferry {

namespace {

std::string_view strip_host(std::string_view s) {
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') return s.substr(1, s.size() - 2);
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}

std::optional<std::string> canonical_ip(std::string_view s) {
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(std::string(s), ec);
  if (ec) return std::nullopt;
  return addr.to_string();
}

bool is_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  char prev = '.';
  for (char c : s) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;  // no empty label, none ending in '-'
      label = 0;
      prev = c;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (c == '-' && label > 0);
    if (!ok || ++label > 63) return false;
    prev = c;
  }
  return label != 0 && prev != '-';
}

}  // namespace

Expected<HostPattern> HostPattern::parse(std::string_view text) {
  HostPattern p;
  const std::string lowered = to_lower(text);
  std::string_view s = lowered;
  const bool bracketed = s.starts_with('[');
  s = strip_host(s);
  if (auto ip = canonical_ip(s)) {
    p.name_ = *ip;
    p.ip_ = true;
    return p;
  }
  if (bracketed) return fail("'" + std::string(text) + "' is not an IPv6 address");
  if (s.starts_with("*.")) {
    p.wildcard_ = true;
    s.remove_prefix(2);
  }
  if (!is_dns_name(s))
    return fail("'" + std::string(text) + "' is not a host name, '*.' followed by a domain, or an IP address");
  if (p.wildcard_ && canonical_ip(s)) return fail("'" + std::string(text) + "': a wildcard needs a domain name");
  p.name_ = s;
  return p;
}

bool HostPattern::matches(std::string_view host) const {
  const std::string lowered = to_lower(host);
  const std::string_view h = strip_host(lowered);
  if (ip_) {
    auto ip = canonical_ip(h);
    return ip && *ip == name_;
  }
  // A name pattern never matches an address: "*.0.0.1" must not catch 10.0.0.1.
  const bool maybe_ip = h.find(':') != h.npos || h.find_first_not_of("0123456789.") == h.npos;
  if (maybe_ip && canonical_ip(h)) return false;
  if (!wildcard_) return h == name_;
  return h.size() > name_.size() + 1 && h.ends_with(name_) && h[h.size() - name_.size() - 1] == '.';
}

std::string HostPattern::to_string() const {
  if (ip_) return name_.find(':') != std::string::npos ? "[" + name_ + "]" : name_;
  return wildcard_ ? "*." + name_ : name_;
}

bool InjectRule::may_block() const {
  bool block = header && header->value.may_block();
  for (const auto& h : add_headers) block = block || h.value.may_block();
  return block || (substitute && substitute->value.may_block());
}

void InjectRule::invalidate() const {
  if (header) header->value.invalidate();
  for (const auto& h : add_headers) h.value.invalidate();
  if (substitute) substitute->value.invalidate();
}

std::string InjectRule::describe() const {
  std::string out = "rule " + std::to_string(number);
  if (!origin.empty()) out += " (" + origin + ")";
  out += ": " + host.to_string() + ":" + std::to_string(port);
  if (header) out += ", header " + header->name + " = " + header->value.describe();
  for (const auto& h : add_headers) out += ", add " + h.name + " = " + h.value.describe();
  for (const auto& name : remove_headers) out += ", remove " + name;
  if (substitute) out += ", substitute " + substitute->placeholder + " = " + substitute->value.describe();
  if (scrub_responses) out += ", scrub responses";
  return out;
}

InjectRules matching_rules(const InjectRules& rules, std::string_view host, uint16_t port) {
  InjectRules out;
  for (const auto& r : rules)
    if (r->applies_to(host, port)) out.push_back(r);
  return out;
}

Expected<bool> check_rule_header_name(std::string_view name) {
  if (!http::is_token(name)) return fail("'" + std::string(name) + "' is not a valid header name");
  static constexpr std::string_view managed[] = {"host",       "content-length",      "transfer-encoding", "connection",
                                                 "keep-alive", "proxy-connection",    "upgrade",           "te",
                                                 "trailer",    "proxy-authorization", "proxy-authenticate"};
  for (auto m : managed)
    if (iequals(name, m)) return fail("'" + std::string(name) + "' is managed by ferry and cannot be set or removed");
  return true;
}

Expected<ResolvedRule> resolve_rule(const std::shared_ptr<const InjectRule>& rule) {
  ResolvedRule out;
  out.rule = rule;
  const std::string where =
      "rule " + std::to_string(rule->number) + (rule->origin.empty() ? "" : " (" + rule->origin + ")");
  auto resolve = [&](const SecretValue& v, std::string_view what) -> Expected<Secret> {
    auto s = v.current();
    if (!s) return fail(where + ", " + std::string(what) + ": " + s.error());
    return s;
  };
  if (rule->header) {
    auto s = resolve(rule->header->value, "header " + rule->header->name);
    if (!s) return fail(s.error());
    out.header = std::move(*s);
  }
  for (const auto& h : rule->add_headers) {
    auto s = resolve(h.value, "add_headers." + h.name);
    if (!s) return fail(s.error());
    out.add_headers.push_back(std::move(*s));
  }
  if (rule->substitute) {
    auto s = resolve(rule->substitute->value, "substitute");
    if (!s) return fail(s.error());
    out.substitute = std::move(*s);
  }
  return out;
}

}  // namespace ferry
