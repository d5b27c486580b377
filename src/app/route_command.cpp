#include "app/route_command.h"

#include <iostream>

#include "app/serve_command.h"
#include "http/request_target.h"
#include "upstream/upstream_runtime.h"

namespace ferry {

namespace {

struct RouteQuery {
  TrafficKind kind;
  HostPort target;
  std::string shown;  // the URL as printed: userinfo removed, query masked
};

Expected<RouteQuery> parse_query(const std::string& url) {
  if (url.starts_with("http://") || url.starts_with("https://")) {
    auto t = http::parse_absolute_target(url);
    if (!t) return fail("'" + http::loggable_target(url) + "': " + t.error());
    return RouteQuery{t->tls ? TrafficKind::https_url : TrafficKind::plain_http, t->authority,
                      http::loggable_target(url)};
  }
  if (url.find("://") != std::string::npos)
    return fail("'" + http::loggable_target(url) + "': only http:// and https:// URLs, or HOST:PORT for a tunnel");
  auto hp = parse_host_port(url);
  if (!hp) return fail("'" + redact_userinfo(url) + "': " + hp.error() + " (give a URL, or HOST:PORT for a tunnel)");
  return RouteQuery{TrafficKind::tunnel, *hp, hp->to_string()};
}

std::string_view kind_name(TrafficKind k) {
  switch (k) {
    case TrafficKind::plain_http: return "http";
    case TrafficKind::https_url: return "https";
    case TrafficKind::tunnel: return "tunnel";
  }
  return "http";
}

// Where credentials for an upstream come from, without saying what they are.
std::string credential_source(const Config& config, const ProxyUrl& p) {
  if (p.has_credentials())
    return p.scheme == ProxyScheme::socks5 || p.scheme == ProxyScheme::socks5h ? "SOCKS5 user/password from the URL"
                                                                               : "from the URL's userinfo";
  if (p.scheme == ProxyScheme::socks5 || p.scheme == ProxyScheme::socks5h) return "none";
  if (!config.user.empty())
    return config.password_file.empty() ? "--user (password prompted)" : "--user with --password-file";
  return "none";
}

}  // namespace

int run_route(const Config& config, const std::string& url, bool json) {
  auto query = parse_query(url);
  if (!query) {
    std::cerr << "ferry route: " << query.error() << "\n";
    return 2;
  }
  auto rt = build_upstream_runtime(config, process_env(), listener_names(config), false);
  if (!rt) {
    std::cerr << "ferry route: " << rt.error() << "\n";
    return 2;
  }
  const RouteDecision d = (*rt)->routes.route(query->kind, query->target.host, query->target.port);
  const std::string auth = std::string(auth_mode_name(config.auth));
  const InjectRules rules = matching_rules(config.inject, query->target.host, query->target.port);
  if (json) {
    std::string out = "{\"url\":" + json_quote(query->shown) + ",\"traffic\":\"" + std::string(kind_name(query->kind)) +
                      "\",\"direct\":" + (d.direct ? "true" : "false") + ",\"rule\":" + json_quote(d.rule) +
                      ",\"proxies\":[";
    for (size_t i = 0; i < d.proxies.size(); ++i) {
      if (i) out += ",";
      out += "{\"url\":" + json_quote(d.proxies[i].to_redacted_string()) +
             ",\"credentials\":" + json_quote(credential_source(config, d.proxies[i])) + "}";
    }
    out += "],\"auth\":" + json_quote(auth) + ",\"inject\":[";
    for (size_t i = 0; i < rules.size(); ++i) out += (i ? "," : "") + json_quote(rules[i]->describe());
    out += "]}";
    std::cout << out << "\n";
    return 0;
  }
  std::cout << "url:     " << query->shown << "\n"
            << "traffic: " << kind_name(query->kind) << "\n"
            << "route:   " << (d.direct ? "direct" : "upstream proxy") << "\n"
            << "rule:    " << d.rule << "\n";
  for (size_t i = 0; i < d.proxies.size(); ++i)
    std::cout << (i == 0 ? "proxy:   " : "then:    ") << d.proxies[i].to_redacted_string()
              << "  (credentials: " << credential_source(config, d.proxies[i]) << ")\n";
  if (!d.direct) std::cout << "auth:    " << auth << "\n";
  // Names and references only: describe() never shows a value.
  for (const auto& r : rules) std::cout << "inject:  intercepted, " << r->describe() << "\n";
  return 0;
}

}  // namespace ferry
