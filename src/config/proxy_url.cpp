#include "config/proxy_url.h"

namespace ferry {

std::string_view proxy_scheme_name(ProxyScheme s) {
  switch (s) {
    case ProxyScheme::http: return "http";
    case ProxyScheme::https: return "https";
    case ProxyScheme::socks5: return "socks5";
    case ProxyScheme::socks5h: return "socks5h";
  }
  return "http";
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());  // one buffer: a password leaves no reallocated copy
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(char(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// Where "://" ends a scheme (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" /
// "." )), or npos. A "://" after anything else is not a scheme's: it may sit
// in a password ("alice:pa://ss@proxy") or after the userinfo, and treating
// what precedes it as a scheme would print the password.
size_t scheme_end(std::string_view text) {
  auto end = text.find("://");
  if (end == std::string_view::npos) return end;
  for (size_t i = 0; i < end; ++i) {
    char c = text[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (!alpha && (i == 0 || !other)) return std::string_view::npos;
  }
  return end == 0 ? std::string_view::npos : end;
}

}  // namespace

std::string redact_userinfo(std::string_view text) {
  // Everything between "://" (or the start) and the LAST '@' goes, user
  // name included: a password may itself hold '/', '?', '#' or '@', and a
  // value that does not parse must not leak either. Over-redacting a path
  // with an '@' in it is the safe mistake.
  auto end = scheme_end(text);
  size_t auth_start = end == std::string_view::npos ? 0 : end + 3;
  auto at = text.rfind('@');
  if (at == std::string_view::npos || at < auth_start) return std::string(text);
  std::string out(text.substr(0, auth_start));
  out.append("***");
  out.append(text.substr(at));
  return out;
}

std::string ProxyUrl::to_redacted_string() const {
  std::string s(proxy_scheme_name(scheme));
  s += "://";
  // Userinfo removed entirely (SPEC §5): a user name is an identity that
  // logs and `ferry route` output must not spread either.
  s += address.to_string();
  return s;
}

Expected<ProxyUrl> parse_proxy_url(std::string_view text) {
  const std::string shown = redact_userinfo(text);
  auto error = [&](std::string_view why) { return fail("invalid proxy URL '" + shown + "': " + std::string(why)); };
  ProxyUrl url;
  std::string_view rest = text;
  auto end = scheme_end(rest);
  if (end != std::string_view::npos) {
    auto scheme = to_lower(rest.substr(0, end));
    if (scheme == "http") url.scheme = ProxyScheme::http;
    else if (scheme == "https") url.scheme = ProxyScheme::https;
    else if (scheme == "socks5") url.scheme = ProxyScheme::socks5;
    else if (scheme == "socks5h") url.scheme = ProxyScheme::socks5h;
    else return error("unsupported scheme '" + scheme + "' (use http, https, socks5 or socks5h)");
    rest.remove_prefix(end + 3);
  }
  // One trailing slash is allowed; any other path, a query or a fragment is not.
  auto path = rest.find_first_of("/?#");
  if (path != std::string_view::npos) {
    if (rest.substr(path) != "/") return error("a proxy URL has no path, query or fragment");
    rest = rest.substr(0, path);
  }
  auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    auto colon = userinfo.find(':');
    if (!percent_decode(userinfo.substr(0, colon), url.user)) return error("bad percent-encoding in the user name");
    if (colon != std::string_view::npos) {
      std::string password;
      const bool decoded = percent_decode(userinfo.substr(colon + 1), password);
      url.password = Secret(std::move(password));  // wipes `password`
      if (!decoded) return error("bad percent-encoding in the password");
    }
    if (url.user.empty()) return error("empty user name before '@'");
    rest.remove_prefix(at + 1);
  }
  if (rest.empty()) return error("missing host");
  // curl's defaults: 1080 for every proxy scheme but https (443).
  const uint16_t default_port = url.scheme == ProxyScheme::https ? 443 : 1080;
  auto hp = parse_host_port(rest, default_port);
  if (!hp) return error(hp.error());
  url.address = std::move(*hp);
  return url;
}

}  // namespace ferry
