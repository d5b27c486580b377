#include "routing/route_table.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cstdlib>
#include <optional>

#include "base/host_port.h"
#include "net/host_addresses.h"

namespace ferry {

GetEnv process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

bool is_loopback_target(std::string_view raw) {
  auto host = normalize_host(raw);
  if (host == "localhost" || host.ends_with(".localhost")) return true;
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(host, ec);
  if (ec) return false;
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, addr.to_v6());
  return addr.is_loopback();
}

namespace {

// Whether `host` names this machine: a loopback name or address, or one of
// its interface addresses (read once per call of read_env_proxies, lazily).
class ThisHost {
 public:
  bool named_by(std::string_view host) {
    if (is_loopback_target(host)) return true;
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(normalize_host(host), ec);
    if (ec) return false;
    if (!addresses_) addresses_ = host_interface_addresses();
    return std::find(addresses_->begin(), addresses_->end(), addr) != addresses_->end();
  }

 private:
  std::optional<std::vector<boost::asio::ip::address>> addresses_;
};

bool is_wildcard(std::string_view host) {
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(normalize_host(host), ec);
  return !ec && addr.is_unspecified();
}

}  // namespace

Expected<EnvProxies> read_env_proxies(const GetEnv& getenv, const std::vector<std::string>& own_listeners) {
  EnvProxies env;
  ThisHost this_host;
  // Lowercase wins (curl; and http_proxy is the only safe form under CGI).
  auto lookup = [&](const std::string& lower, std::string& source) -> std::optional<std::string> {
    std::string upper = lower;
    for (auto& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
    if (auto v = getenv(lower); v && !v->empty()) {
      source = lower;
      return v;
    }
    if (auto v = getenv(upper); v && !v->empty()) {
      source = upper;
      return v;
    }
    return std::nullopt;
  };
  auto read_proxy = [&](const std::string& lower, std::optional<ProxyUrl>& slot,
                        std::string& source) -> Expected<bool> {
    auto raw = lookup(lower, source);
    if (!raw) return true;
    auto url = parse_proxy_url(*raw);
    if (!url) return fail(source + ": " + url.error());
    for (const auto& own : own_listeners) {
      auto own_hp = parse_host_port(own);
      // A wildcard listener answers on every address of this host.
      bool same = own_hp && own_hp->port == url->address.port &&
                  (own_hp->host == url->address.host ||
                   (is_loopback_target(own_hp->host) && is_loopback_target(url->address.host)) ||
                   (is_wildcard(own_hp->host) && this_host.named_by(url->address.host)));
      if (same) {
        env.warnings.push_back(source + " points at ferry's own listener " + own + "; ignored");
        return true;
      }
    }
    slot = *url;
    return true;
  };
  if (auto r = read_proxy("http_proxy", env.http_proxy, env.http_source); !r) return fail(r.error());
  if (auto r = read_proxy("https_proxy", env.https_proxy, env.https_source); !r) return fail(r.error());
  if (auto r = read_proxy("all_proxy", env.all_proxy, env.all_source); !r) return fail(r.error());
  std::string ignored;
  if (auto v = lookup("no_proxy", ignored)) env.no_proxy = *v;
  if (auto v = getenv("FERRY_NO_PROXY_EXACT")) env.no_proxy_exact = *v;
  return env;
}

Expected<RouteTable> RouteTable::build(const Inputs& in) {
  RouteTable t;
  std::string exact = in.no_proxy_exact, no_proxy = in.no_proxy;
  if (in.upstreams.empty() && in.env) {
    // The environment's bypass lists apply only when nothing else was configured.
    if (exact.empty()) exact = in.env->no_proxy_exact;
    if (no_proxy.empty()) no_proxy = in.env->no_proxy;
  }
  auto e = ExactBypassRules::parse(exact);
  if (!e) return fail(e.error());
  auto n = NoProxyRules::parse(no_proxy);
  if (!n) return fail(n.error());
  t.exact_ = std::move(*e);
  t.no_proxy_ = std::move(*n);
  t.upstreams_ = in.upstreams;
  if (t.upstreams_.empty() && in.env) {
    if (in.env->http_proxy) t.env_http_.push_back(*in.env->http_proxy);
    if (in.env->https_proxy) t.env_https_.push_back(*in.env->https_proxy);
    if (in.env->all_proxy) t.env_all_.push_back(*in.env->all_proxy);
    t.env_http_src_ = in.env->http_source;
    t.env_https_src_ = in.env->https_source;
    t.env_all_src_ = in.env->all_source;
  }
  return t;
}

RouteDecision RouteTable::route(TrafficKind kind, std::string_view host, uint16_t port) const {
  RouteDecision d;
  if (is_loopback_target(host)) {
    d.rule = "loopback";
    return d;
  }
  if (auto r = exact_.matching_rule(host, port); !r.empty()) {
    d.rule = "no_proxy_exact " + r;
    return d;
  }
  if (auto r = no_proxy_.matching_rule(host, port); !r.empty()) {
    d.rule = "no_proxy " + r;
    return d;
  }
  if (!upstreams_.empty()) {
    d.direct = false;
    d.proxies = upstreams_;
    d.rule = "upstream";
    return d;
  }
  auto use = [&](const std::vector<ProxyUrl>& p, const std::string& src) {
    d.direct = false;
    d.proxies = p;
    d.rule = "env " + src;
  };
  const bool http = !env_http_.empty(), https = !env_https_.empty(), all = !env_all_.empty();
  switch (kind) {
    case TrafficKind::plain_http:
      if (http) use(env_http_, env_http_src_);
      else if (all) use(env_all_, env_all_src_);
      break;
    case TrafficKind::https_url:
      if (https) use(env_https_, env_https_src_);
      else if (all) use(env_all_, env_all_src_);
      break;
    case TrafficKind::tunnel:
      if (https) use(env_https_, env_https_src_);
      else if (all) use(env_all_, env_all_src_);
      else if (http) use(env_http_, env_http_src_);
      break;
  }
  if (d.direct) d.rule = "default";
  return d;
}

std::string RouteTable::to_string() const {
  std::string s;
  s += "no_proxy_exact=" + exact_.to_string() + "\n";
  s += "no_proxy=" + no_proxy_.to_string() + "\n";
  std::string ups;
  for (const auto& u : upstreams_) ups += (ups.empty() ? "" : ",") + u.to_redacted_string();
  s += "upstream=" + ups + "\n";
  auto env_line = [&](const char* name, const std::vector<ProxyUrl>& p) {
    s += std::string(name) + "=" + (p.empty() ? "" : p.front().to_redacted_string()) + "\n";
  };
  env_line("env_http_proxy", env_http_);
  env_line("env_https_proxy", env_https_);
  env_line("env_all_proxy", env_all_);
  return s;
}

std::vector<const ProxyUrl*> RouteTable::all_proxies() const {
  std::vector<const ProxyUrl*> out;
  for (const auto* list : {&upstreams_, &env_http_, &env_https_, &env_all_})
    for (const auto& p : *list) out.push_back(&p);
  return out;
}

Expected<RouteTable> RouteTable::parse(std::string_view text) {
  Inputs in;
  EnvProxies env;
  bool any_env = false;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty()) continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos) return fail("route table line without '='");
    auto key = line.substr(0, eq), value = line.substr(eq + 1);
    auto proxy = [&](std::optional<ProxyUrl>& slot, std::string& src, const char* name) -> Expected<bool> {
      if (value.empty()) return true;
      auto u = parse_proxy_url(value);
      if (!u) return fail(u.error());
      slot = *u;
      src = name;
      any_env = true;
      return true;
    };
    Expected<bool> ok = true;
    if (key == "no_proxy_exact") in.no_proxy_exact = value;
    else if (key == "no_proxy") in.no_proxy = value;
    else if (key == "upstream") {
      std::string_view rest = value;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        auto u = parse_proxy_url(rest.substr(0, comma));
        if (!u) return fail(u.error());
        in.upstreams.push_back(*u);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
    } else if (key == "env_http_proxy") ok = proxy(env.http_proxy, env.http_source, "http_proxy");
    else if (key == "env_https_proxy") ok = proxy(env.https_proxy, env.https_source, "https_proxy");
    else if (key == "env_all_proxy") ok = proxy(env.all_proxy, env.all_source, "all_proxy");
    else return fail("unknown route table key '" + std::string(key) + "'");
    if (!ok) return fail(ok.error());
  }
  if (any_env) in.env = env;
  return build(in);
}

}  // namespace ferry
