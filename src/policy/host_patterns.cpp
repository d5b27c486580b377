#include "policy/host_patterns.h"

#include <array>
#include <optional>

#include "base/host_port.h"

namespace ferry {

namespace ip = boost::asio::ip;

namespace {

constexpr size_t kMaxName = 253;

bool name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; }

// Labels of letters, digits, '-' and '_', 1..63 long, not starting or ending with '-'.
bool is_dns_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxName) return false;
  size_t label = 0;
  char prev = '.';
  for (char c : s) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else if (!name_char(c) || (c == '-' && label == 0) || ++label > 63) {
      return false;
    }
    prev = c;
  }
  return label != 0 && prev != '-';
}

// A last label of digits or 0x…: getaddrinfo reads such a name as an IPv4
// address in inet_aton's forms (10.1 is 10.0.0.1, 0x7f.1 is 127.0.0.1).
bool numeric_last_label(std::string_view name) {
  auto dot = name.rfind('.');
  std::string_view last = dot == std::string_view::npos ? name : name.substr(dot + 1);
  if (last.starts_with("0x")) return true;
  return !last.empty() && last.find_first_not_of("0123456789") == std::string_view::npos;
}

struct Parsed {
  enum class Kind { exact, suffix, address } kind;
  std::string name;  // exact name, or a suffix without "*."
  std::optional<IpPrefix> prefix;
  uint16_t port = 0;
  std::string text;  // canonical
};

Expected<Parsed> parse_pattern(std::string_view pattern) {
  const std::string quoted = "'" + std::string(pattern) + "'";
  if (pattern.empty()) return fail("empty pattern");
  if (pattern == "*")
    return fail(quoted + " is not a pattern: mode = \"permissive\" allows every host, or write *.domain");
  const std::string lowered = to_lower(pattern);
  std::string_view s = lowered, host = s, port_text;
  bool bracketed = false, has_port = false;
  if (s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return fail(quoted + ": unterminated '['");
    bracketed = true;
    host = s.substr(1, close - 1);
    auto rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail(quoted + ": expected ':port' after ']'");
      has_port = true;
      port_text = rest.substr(1);
    }
  } else if (auto colon = s.find(':'); colon != std::string_view::npos && s.find(':', colon + 1) == s.npos) {
    host = s.substr(0, colon);  // one colon: host:port (two or more: a bare IPv6 address or prefix)
    has_port = true;
    port_text = s.substr(colon + 1);
  }
  Parsed p{};
  if (has_port) {
    auto port = parse_port(port_text);
    if (!port) return fail(quoted + ": invalid port (must be 1-65535)");
    p.port = *port;
  }
  const std::string port_suffix = p.port ? ":" + std::to_string(p.port) : "";

  // An address, or a CIDR prefix: what comes before any '/' is an address.
  boost::system::error_code ec;
  const auto written = ip::make_address(std::string(host.substr(0, host.find('/'))), ec);
  if (!ec || host.find('/') != std::string_view::npos) {
    auto prefix = IpPrefix::parse(host);
    if (!prefix) return fail(quoted + ": " + prefix.error());
    const auto& net = prefix->network();
    if (bracketed && !written.is_v6()) return fail(quoted + ": brackets are for IPv6 addresses");
    p.kind = Parsed::Kind::address;
    const bool host_prefix = prefix->bits() == (net.is_v4() ? 32 : 128);
    std::string t = host_prefix ? net.to_string() : prefix->to_string();
    if (p.port && net.is_v6()) t = "[" + t + "]";
    p.text = t + port_suffix;
    p.prefix = *prefix;
    return p;
  }
  if (bracketed) return fail(quoted + " is not an IPv6 address or prefix");
  if (host.ends_with('.')) host.remove_suffix(1);
  if (host.starts_with("*.")) {
    p.kind = Parsed::Kind::suffix;
    host.remove_prefix(2);
  } else {
    p.kind = Parsed::Kind::exact;
  }
  if (!is_dns_name(host))
    return fail(quoted + " is not a host name, *.domain, IP address or CIDR prefix (with an optional :port)");
  if (numeric_last_label(host))
    return fail(quoted + " ends in a numeric label: write an IP address (10.0.0.1) or a CIDR prefix (10.0.0.0/8)");
  p.name = host;
  p.text = (p.kind == Parsed::Kind::suffix ? "*." : "") + p.name + port_suffix;
  return p;
}

// The host as patterns compare it: brackets and one trailing dot removed,
// lower-cased, in a caller's buffer (no allocation per request).
struct NormalHost {
  std::array<char, kMaxName + 2> buf;
  std::string_view view;
  bool colon = false;
};

bool normalize(std::string_view host, NormalHost& out) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.ends_with('.')) host.remove_suffix(1);
  if (host.empty() || host.size() > kMaxName) return false;
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
    if (c == ':') out.colon = true;
    out.buf[i] = c;
  }
  out.buf[host.size()] = '\0';
  out.view = std::string_view(out.buf.data(), host.size());
  return true;
}

}  // namespace

Expected<std::string> HostPatternSet::canonical(std::string_view pattern) {
  auto p = parse_pattern(pattern);
  if (!p) return fail(p.error());
  return std::move(p->text);
}

bool HostPatternSet::add_entry(Entries& entries, uint16_t port, std::string text) {
  for (const auto& e : entries)
    if (e.port == port) return false;  // the same pattern again: the first one's text is reported
  entries.push_back(Entry{port, std::move(text)});
  return true;
}

Expected<bool> HostPatternSet::add(std::string_view pattern, std::string_view label) {
  auto p = parse_pattern(pattern);
  if (!p) return fail(p.error());
  std::string text = label.empty() ? p->text : p->text + " (" + std::string(label) + ")";
  switch (p->kind) {
    case Parsed::Kind::exact: size_ += add_entry(exact_[p->name], p->port, std::move(text)); break;
    case Parsed::Kind::suffix: size_ += add_entry(suffixes_[p->name], p->port, std::move(text)); break;
    case Parsed::Kind::address: {
      const size_t before = addresses_.size();
      addresses_.add(*p->prefix, p->port, std::move(text));
      size_ += addresses_.size() - before;
      break;
    }
  }
  return true;
}

const std::string* HostPatternSet::find(const NameMap& map, std::string_view name, uint16_t port) {
  auto it = map.find(name);
  if (it == map.end()) return nullptr;
  for (const auto& e : it->second)
    if (e.port == 0 || e.port == port) return &e.text;
  return nullptr;
}

const std::string* HostPatternSet::match(std::string_view raw_host, uint16_t port) const {
  NormalHost h;
  if (!normalize(raw_host, h)) return nullptr;
  const std::string_view host = h.view;
  boost::system::error_code ec;
  if (h.colon) {
    auto v6 = ip::make_address_v6(h.buf.data(), ec);
    return ec ? nullptr : addresses_.match(v6, port);
  }
  if (numeric_last_label(host)) {
    // Only a dotted quad is an address here; 10.1 or 0x7f.1 matches nothing.
    auto v4 = ip::make_address_v4(h.buf.data(), ec);
    return ec ? nullptr : addresses_.match(v4, port);
  }
  for (char c : host)
    if (!name_char(c) && c != '.') return nullptr;
  if (host.front() == '.' || host.find("..") != std::string_view::npos) return nullptr;
  if (const auto* t = find(exact_, host, port)) return t;
  if (suffixes_.empty()) return nullptr;
  // Each proper suffix that starts a label: a.b.c -> b.c, c.
  for (size_t dot = host.find('.'); dot != std::string_view::npos; dot = host.find('.', dot + 1))
    if (const auto* t = find(suffixes_, host.substr(dot + 1), port)) return t;
  return nullptr;
}

}  // namespace ferry
