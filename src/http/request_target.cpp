#include "http/request_target.h"

namespace ferry::http {

namespace {
bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}
}  // namespace

std::string AbsoluteTarget::host_header() const {
  const uint16_t default_port = tls ? 443 : 80;
  return authority.port == default_port ? authority.host_for_url() : authority.to_string();
}

std::string AbsoluteTarget::origin_key() const { return (tls ? "https://" : "http://") + authority.to_string(); }

Expected<AbsoluteTarget> parse_absolute_target(std::string_view target) {
  AbsoluteTarget out;
  if (starts_with_ci(target, "http://")) {
    target.remove_prefix(7);
  } else if (starts_with_ci(target, "https://")) {
    out.tls = true;
    target.remove_prefix(8);
  } else if (!target.empty() && target.front() == '/') {
    return fail("request target is not absolute (configure ferry as a proxy, not as a server)");
  } else {
    return fail("unsupported request target (only http:// and https:// URLs)");
  }
  if (target.find('#') != std::string_view::npos) return fail("fragment in request target");
  auto end = target.find_first_of("/?");
  auto authority = target.substr(0, end);
  if (authority.find('@') != std::string_view::npos) return fail("userinfo in request target");
  auto hp = parse_host_port(authority, out.tls ? 443 : 80);
  if (!hp) return fail("bad host in request target: " + hp.error());
  out.authority = std::move(*hp);
  if (end == std::string_view::npos) {
    out.origin_form = "/";
  } else {
    auto rest = target.substr(end);
    out.origin_form = rest.front() == '?' ? "/" + std::string(rest) : std::string(rest);
  }
  return out;
}

Expected<HostPort> parse_authority_target(std::string_view target) {
  if (target.find('@') != std::string_view::npos) return fail("userinfo in CONNECT target");
  auto hp = parse_host_port(target);
  if (!hp) return fail("bad CONNECT target (want host:port): " + hp.error());
  return hp;
}

std::string loggable_target(std::string_view target) {
  std::string out;
  auto scheme_end = target.find("://");
  std::string_view rest = target;
  if (scheme_end != std::string_view::npos) {
    out.append(target.substr(0, scheme_end + 3));
    rest = target.substr(scheme_end + 3);
    auto auth_end = rest.find_first_of("/?#");
    auto at = rest.substr(0, auth_end).rfind('@');
    if (at != std::string_view::npos) rest.remove_prefix(at + 1);
  } else if (auto at = target.rfind('@'); at != std::string_view::npos && target.find('/') == std::string_view::npos) {
    rest = target.substr(at + 1);  // authority-form with userinfo
  }
  auto q = rest.find_first_of("?#");
  out.append(rest.substr(0, q));
  if (q != std::string_view::npos) out.append("?…");
  return out;
}

}  // namespace ferry::http
