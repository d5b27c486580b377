#include "routing/bypass_rules.h"

#include <boost/asio/ip/address.hpp>

#include "base/host_port.h"

namespace ferry {

namespace ip = boost::asio::ip;

std::string normalize_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::string h = to_lower(host);
  boost::system::error_code ec;
  auto addr = ip::make_address(h, ec);
  return ec ? h : addr.to_string();  // canonical IPv6 spelling
}

namespace {

std::vector<std::string_view> split_entries(std::string_view list) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < list.size()) {
    while (i < list.size() && (list[i] == ',' || list[i] == ' ' || list[i] == '\t')) ++i;
    size_t j = i;
    while (j < list.size() && list[j] != ',' && list[j] != ' ' && list[j] != '\t') ++j;
    if (j > i) out.push_back(list.substr(i, j - i));
    i = j;
  }
  return out;
}

// Splits "host:port", "[v6]:port", "v6" (bare IPv6, no port), "host".
Expected<std::pair<std::string, uint16_t>> split_host_port(std::string_view entry) {
  std::string_view host = entry, port;
  if (!entry.empty() && entry.front() == '[') {
    auto close = entry.find(']');
    if (close == std::string_view::npos) return fail("unterminated '['");
    host = entry.substr(1, close - 1);
    auto rest = entry.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail("expected ':' after ']'");
      port = rest.substr(1);
    }
  } else if (entry.find(':') != entry.rfind(':')) {
    host = entry;  // bare IPv6 literal or IPv6 CIDR
  } else if (auto colon = entry.find(':'); colon != std::string_view::npos) {
    host = entry.substr(0, colon);
    port = entry.substr(colon + 1);
  }
  uint16_t p = 0;
  if (!port.empty() || entry.ends_with(":")) {
    auto parsed = parse_port(port);
    if (!parsed) return fail("invalid port");
    p = *parsed;
  }
  return std::pair{std::string(host), p};
}

std::string with_port(std::string text, uint16_t port) {
  if (!port) return text;
  if (text.find(':') != std::string::npos) text = "[" + text + "]";
  return text + ":" + std::to_string(port);
}

}  // namespace

Expected<NoProxyRules> NoProxyRules::parse(std::string_view list) {
  NoProxyRules rules;
  for (auto entry : split_entries(list)) {
    if (entry == "*") {
      rules.match_all_ = true;
      continue;
    }
    std::string shown(entry);
    // A CIDR contains '/', and an IPv6 CIDR's colons are not a port.
    if (entry.find('/') != std::string_view::npos) {
      auto prefix = IpPrefix::parse(entry);
      if (!prefix) return fail("NO_PROXY entry '" + shown + "': " + prefix.error());
      rules.rules_.push_back({Rule::Kind::cidr, {}, *prefix, 0, prefix->to_string()});
      continue;
    }
    auto hp = split_host_port(entry);
    if (!hp) return fail("NO_PROXY entry '" + shown + "': " + hp.error());
    auto [host, port] = *hp;
    boost::system::error_code ec;
    auto addr = ip::make_address(host, ec);
    if (!ec) {
      auto prefix = IpPrefix::parse(addr.to_string());
      rules.rules_.push_back({Rule::Kind::ip, {}, *prefix, port, with_port(addr.to_string(), port)});
      continue;
    }
    std::string_view name = host;
    while (!name.empty() && name.front() == '.') name.remove_prefix(1);
    if (name.starts_with("*.")) name.remove_prefix(2);  // "*.corp.com" written glob-style
    std::string domain = normalize_host(name);
    if (domain.empty()) return fail("NO_PROXY entry '" + shown + "': empty host");
    for (char c : domain) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
      if (!ok) return fail("NO_PROXY entry '" + shown + "': invalid host name");
    }
    rules.rules_.push_back({Rule::Kind::domain, domain, std::nullopt, port, with_port(domain, port)});
  }
  return rules;
}

bool NoProxyRules::rule_matches(const Rule& r, std::string_view raw_host, uint16_t port) const {
  if (r.port && r.port != port) return false;
  std::string host = normalize_host(raw_host);
  boost::system::error_code ec;
  auto addr = ip::make_address(host, ec);
  switch (r.kind) {
    case Rule::Kind::ip:
    case Rule::Kind::cidr: return !ec && r.prefix->contains(addr);
    case Rule::Kind::domain:
      if (!ec) return false;
      if (host == r.domain) return true;
      return host.size() > r.domain.size() && host.ends_with(r.domain) &&
             host[host.size() - r.domain.size() - 1] == '.';
  }
  return false;
}

bool NoProxyRules::matches(std::string_view host, uint16_t port) const {
  if (match_all_) return true;
  for (const auto& r : rules_)
    if (rule_matches(r, host, port)) return true;
  return false;
}

std::string NoProxyRules::matching_rule(std::string_view host, uint16_t port) const {
  if (match_all_) return "*";
  for (const auto& r : rules_)
    if (rule_matches(r, host, port)) return r.text;
  return {};
}

std::string NoProxyRules::to_string() const {
  std::string s = match_all_ ? "*" : "";
  for (const auto& r : rules_) {
    if (!s.empty()) s += ",";
    s += r.text;
  }
  return s;
}

Expected<ExactBypassRules> ExactBypassRules::parse(std::string_view list) {
  ExactBypassRules rules;
  for (auto entry : split_entries(list)) {
    auto hp = split_host_port(entry);
    if (!hp) return fail("exact bypass entry '" + std::string(entry) + "': " + hp.error());
    auto host = normalize_host(hp->first);
    if (host.empty()) return fail("exact bypass entry '" + std::string(entry) + "': empty host");
    rules.rules_.push_back({host, hp->second, with_port(host, hp->second)});
  }
  return rules;
}

bool ExactBypassRules::matches(std::string_view host, uint16_t port) const {
  return !matching_rule(host, port).empty();
}

std::string ExactBypassRules::matching_rule(std::string_view raw_host, uint16_t port) const {
  auto host = normalize_host(raw_host);
  for (const auto& r : rules_)
    if (r.host == host && (!r.port || r.port == port)) return r.text;
  return {};
}

std::string ExactBypassRules::to_string() const {
  std::string s;
  for (const auto& r : rules_) {
    if (!s.empty()) s += ",";
    s += r.text;
  }
  return s;
}

}  // namespace ferry
