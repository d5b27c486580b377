#include "config/config_loader.h"

#include "aws/role_credentials.h"
#include "config/aws_config.h"

#include <toml++/toml.h>

#include <boost/asio/ip/address.hpp>
#include <charconv>

#include "config/inject_config.h"
#include "config/policy_config.h"
#include "policy/network_policy.h"
#include "routing/bypass_rules.h"
#include "routing/owned_route_resolver.h"

namespace ferry {

bool PortList::allows(uint16_t p) const {
  if (any) return true;
  for (auto x : ports)
    if (x == p) return true;
  return false;
}

std::string PortList::to_string() const {
  if (any) return "*";
  std::string s;
  for (auto p : ports) {
    if (!s.empty()) s += ",";
    s += std::to_string(p);
  }
  return s;
}

const std::vector<KnownKey>& known_keys() {
  static const std::vector<KnownKey> keys = {
      {"listen", "--listen", true},
      {"idle_timeout", "--idle-timeout", true},
      {"connect_timeout", "--connect-timeout", true},
      {"max_connections", "--max-connections", true},
      {"workers", "--workers", true},
      {"relay", "--relay", true},
      {"log_format", "--log-format", true},
      {"log_level", "--log-level", true},
      {"security.allow", "--allow", true},
      {"security.connect_ports", "--connect-ports", true},
      // Spec keys whose features are not built yet: refused rather than
      // silently ignored, so traffic never goes direct by surprise.
      {"socks_listen", "--socks-listen", true},
      {"admin", "--admin", true},
      {"admin_token", "--admin-token", true},
      {"security.client_tokens", "--client-tokens", true},
      {"upstream.proxies", "--upstream", true},
      {"upstream.auth", "--auth", true},
      {"upstream.spn", "--spn", true},
      {"upstream.user", "--user", true},
      {"upstream.realm", "--realm", true},
      {"upstream.password_file", "--password-file", true},
      {"upstream.keytab", "--keytab", true},
      {"upstream.ca", "--upstream-ca", true},
      {"upstream.auth_allow_basic_fallback", "--auth-allow-basic-fallback", true},
      {"upstream.require_mutual_auth", "--require-mutual-auth", true},
      {"interception.ca_dir", "--ca-dir", true},
      {"interception.origin_ca", "--origin-ca", true},
      {"interception.leaf_key_per_host", "--leaf-key-per-host", true},
      {"interception.leaf_cache_size", "--leaf-cache-size", true},
      {"interception.request_log", "--request-log", true},
      {"interception.request_log_bodies", "--request-log-bodies", true},
      {"routing.no_proxy", "--no-proxy", true},
      {"routing.no_proxy_exact", "--no-proxy-exact", true},
      {"routing.pac", "--pac", false},
  };
  return keys;
}

bool is_switch_key(std::string_view toml_key) {
  return toml_key == "upstream.auth_allow_basic_fallback" || toml_key == "upstream.require_mutual_auth" ||
         toml_key == "interception.leaf_key_per_host" || toml_key == "interception.request_log_bodies";
}

namespace {

Unexpected<std::string> bad(const SettingValue& v, std::string_view what) {
  return fail(v.origin + ": " + std::string(what));
}

std::optional<std::string> single(const SettingValue& v) {
  if (v.items.size() != 1) return std::nullopt;
  return v.items.front();
}

// "a,b" in one flag value or several values: both mean a list.
std::vector<std::string> flatten(const SettingValue& v) {
  std::vector<std::string> out;
  for (const auto& item : v.items) {
    std::string_view s = item;
    while (true) {
      auto comma = s.find(',');
      auto part = s.substr(0, comma);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
      if (!part.empty()) out.emplace_back(part);
      if (comma == std::string_view::npos) break;
      s.remove_prefix(comma + 1);
    }
  }
  return out;
}

}  // namespace

Expected<bool> ConfigBuilder::set_interception(std::string_view key, const SettingValue& v) {
  auto& c = config_.interception;
  auto s = single(v);
  if (key == "interception.leaf_key_per_host" || key == "interception.request_log_bodies") {
    if (s != "true" && s != "false") return bad(v, "must be true or false");
    (key == "interception.leaf_key_per_host" ? c.leaf_key_per_host : c.request_log_bodies) = *s == "true";
    return true;
  }
  if (key == "interception.leaf_cache_size") {
    uint64_t n = 0;
    if (!s || s->empty()) return bad(v, "expects a number");
    auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
    if (ec != std::errc() || end != s->data() + s->size()) return bad(v, "'" + *s + "' is not a number");
    if (n < 1 || n > 1'000'000) return bad(v, "must be between 1 and 1000000");
    c.leaf_cache_size = size_t(n);
    return true;
  }
  std::string* slot = key == "interception.ca_dir"        ? &c.ca_dir
                      : key == "interception.origin_ca"   ? &c.origin_ca
                      : key == "interception.request_log" ? &c.request_log
                                                          : nullptr;
  if (!slot) return bad(v, "unknown setting");
  if (!s || s->empty()) return bad(v, "expects one non-empty value");
  *slot = *s;
  return true;
}

Expected<bool> ConfigBuilder::set(std::string_view key, const SettingValue& v) {
  auto& c = config_;
  if (key == "listen") {
    c.listen.clear();
    for (const auto& item : v.items) {
      auto hp = parse_host_port(item);
      if (!hp) return bad(v, "invalid listen address '" + item + "': " + hp.error());
      c.listen.push_back(*hp);
    }
    if (c.listen.empty()) return bad(v, "needs at least one address");
    return true;
  }
  if (key == "idle_timeout" || key == "connect_timeout") {
    auto s = single(v);
    if (!s) return bad(v, "expects one duration");
    auto d = parse_duration(*s);
    if (!d) return bad(v, d.error());
    if (key == "connect_timeout" && d->count() == 0) return bad(v, "must be greater than 0");
    (key == "idle_timeout" ? c.idle_timeout : c.connect_timeout) = *d;
    return true;
  }
  if (key == "max_connections" || key == "workers") {
    auto s = single(v);
    uint64_t n = 0;
    if (!s || s->empty()) return bad(v, "expects a number");
    auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
    if (ec != std::errc() || end != s->data() + s->size()) return bad(v, "'" + *s + "' is not a number");
    if (key == "max_connections") {
      if (n < 1 || n > 1'000'000) return bad(v, "must be between 1 and 1000000");
      c.max_connections = n;
    } else {
      if (n > 256) return bad(v, "must be between 0 (one per core) and 256");
      c.workers = unsigned(n);
    }
    return true;
  }
  if (key == "relay") {
    auto s = single(v);
    if (s == "auto") c.relay = RelayMode::automatic;
    else if (s == "splice") c.relay = RelayMode::splice;
    else if (s == "copy") c.relay = RelayMode::copy;
    else return bad(v, "must be auto, splice or copy");
    return true;
  }
  if (key == "log_format") {
    auto s = single(v);
    if (s == "json") c.log_format = LogFormat::json;
    else if (s == "text") c.log_format = LogFormat::text;
    else return bad(v, "must be json or text");
    return true;
  }
  if (key == "log_level") {
    auto s = single(v);
    if (s == "debug" || s == "trace") c.log_level = LogLevel::debug;
    else if (s == "info") c.log_level = LogLevel::info;
    else if (s == "warn" || s == "warning") c.log_level = LogLevel::warn;
    else if (s == "error") c.log_level = LogLevel::error;
    else if (s == "off") c.log_level = LogLevel::off;
    else return bad(v, "must be debug, info, warn, error or off");
    return true;
  }
  if (key == "security.allow") {
    c.allow.clear();
    for (const auto& item : flatten(v)) {
      auto p = IpPrefix::parse(item);
      if (!p) return bad(v, p.error());
      c.allow.push_back(*p);
    }
    if (c.allow.empty()) return bad(v, "needs at least one address or CIDR prefix");
    c.allow_explicit = true;
    return true;
  }
  if (key == "security.connect_ports") {
    PortList ports;
    for (const auto& item : flatten(v)) {
      if (item == "*") {
        ports.any = true;
        continue;
      }
      auto p = parse_port(item);
      if (!p) return bad(v, "'" + item + "' is not a port (1-65535) or *");
      ports.ports.push_back(*p);
    }
    if (!ports.any && ports.ports.empty()) return bad(v, "needs at least one port, or *");
    c.connect_ports = ports;
    return true;
  }
  if (key == "socks_listen") {
    c.socks_listen.clear();
    for (const auto& item : flatten(v)) {
      auto hp = parse_host_port(item);
      if (!hp) return bad(v, "invalid listen address '" + item + "': " + hp.error());
      c.socks_listen.push_back(*hp);
    }
    return true;
  }
  if (key == "upstream.proxies") {
    c.upstreams.clear();
    for (const auto& item : flatten(v)) {
      // parse_proxy_url's errors already mask the password.
      auto url = parse_proxy_url(item);
      if (!url) return bad(v, url.error());
      c.upstreams.push_back(*url);
    }
    return true;
  }
  if (key == "upstream.auth") {
    auto s = single(v);
    static constexpr AuthMode modes[] = {AuthMode::automatic, AuthMode::negotiate, AuthMode::ntlm,
                                         AuthMode::digest,    AuthMode::basic,     AuthMode::none};
    for (auto m : modes)
      if (s && *s == auth_mode_name(m)) {
        c.auth = m;
        return true;
      }
    return bad(v, "must be auto, negotiate, ntlm, digest, basic or none");
  }
  if (key == "upstream.user" || key == "upstream.password_file" || key == "upstream.ca" || key == "upstream.spn" ||
      key == "upstream.realm" || key == "upstream.keytab") {
    auto s = single(v);
    if (!s || s->empty()) return bad(v, "expects one non-empty value");
    std::string* slot = key == "upstream.user"     ? &c.user
                        : key == "upstream.ca"     ? &c.upstream_ca
                        : key == "upstream.spn"    ? &c.spn
                        : key == "upstream.realm"  ? &c.realm
                        : key == "upstream.keytab" ? &c.keytab
                                                   : &c.password_file;
    *slot = *s;
    return true;
  }
  if (key.starts_with("interception.")) return set_interception(key, v);
  if (key == "admin" || key == "admin_token" || key == "security.client_tokens") {
    auto s = single(v);
    if (!s || s->empty()) return bad(v, "expects one non-empty value");
    (key == "admin" ? c.admin : key == "admin_token" ? c.admin_token_file : c.client_tokens_file) = *s;
    return true;
  }
  if (is_switch_key(key)) {
    auto s = single(v);
    if (s != "true" && s != "false") return bad(v, "must be true or false");
    (key == "upstream.require_mutual_auth" ? c.require_mutual_auth : c.auth_allow_basic_fallback) = *s == "true";
    return true;
  }
  if (key == "routing.no_proxy" || key == "routing.no_proxy_exact") {
    std::string list;
    for (const auto& item : flatten(v)) list += (list.empty() ? "" : ",") + item;
    const bool exact = key == "routing.no_proxy_exact";
    // Validated here so a bad entry is reported against its flag or line.
    if (exact) {
      if (auto r = ExactBypassRules::parse(list); !r) return bad(v, r.error());
      c.no_proxy_exact = list;
      c.no_proxy_exact_set = true;
    } else {
      if (auto r = NoProxyRules::parse(list); !r) return bad(v, r.error());
      c.no_proxy = list;
      c.no_proxy_set = true;
    }
    return true;
  }
  for (const auto& k : known_keys())
    if (k.toml_key == key) return bad(v, "is not supported by this version of ferry yet");
  return bad(v, "unknown setting");
}

Expected<bool> ConfigBuilder::load_toml(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return fail(path + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " +
                std::string(e.description()));
  }

  auto to_items = [&](const toml::node& node, const std::string& origin) -> Expected<std::vector<std::string>> {
    std::vector<std::string> items;
    auto scalar = [&](const toml::node& n) -> std::optional<std::string> {
      if (auto s = n.as_string()) return s->get();
      if (auto i = n.as_integer()) return std::to_string(i->get());
      if (auto b = n.as_boolean()) return std::string(b->get() ? "true" : "false");
      return std::nullopt;
    };
    if (auto arr = node.as_array()) {
      for (const auto& el : *arr) {
        auto s = scalar(el);
        if (!s) return fail(origin + ": array elements must be strings or integers");
        items.push_back(*s);
      }
    } else if (auto s = scalar(node)) {
      items.push_back(*s);
    } else {
      return fail(origin + ": expected a string, an integer or an array");
    }
    return items;
  };

  // Walk every key, so that an unknown one anywhere is reported.
  std::vector<std::pair<std::string, const toml::node*>> leaves;
  const toml::node* policy = nullptr;
  const toml::node* grants = nullptr;
  const toml::node* profiles = nullptr;
  for (const auto& [k, node] : root) {
    std::string key(k.str());
    if (key == "inject") {  // [[inject]]: an array of tables with keys of its own
      auto rules = load_inject_rules(node, path, env_);
      if (!rules) return fail(rules.error());
      // Ahead of any [[mcp]] server's rule (keys are read in order: "inject" < "mcp").
      config_.inject.insert(config_.inject.begin(), rules->begin(), rules->end());
      continue;
    }
    // Tables with keys of their own, read once every key is known (a
    // policy names grants; a profile has a policy and rules).
    if (key == "relay" || key == "mcp") {
      auto loaded = load_relays(path, key, node);
      if (!loaded) return loaded;
      continue;
    }
    if (key == "policy" || key == "grants" || key == "profiles") {
      (key == "policy" ? policy : key == "grants" ? grants : profiles) = &node;
      continue;
    }
    if (auto tbl = node.as_table()) {
      for (const auto& [k2, node2] : *tbl) leaves.emplace_back(key + "." + std::string(k2.str()), &node2);
    } else {
      leaves.emplace_back(key, &node);  // a value or an array of tables
    }
  }
  for (const auto& [key, node] : leaves) {
    std::string origin = path + ":" + std::to_string(node->source().begin.line) + " (" + key + ")";
    const KnownKey* known = nullptr;
    for (const auto& k : known_keys())
      if (k.toml_key == key) known = &k;
    if (!known) return fail(origin + ": unknown key '" + key + "'");
    if (!known->implemented) return fail(origin + ": is not supported by this version of ferry yet");
    auto items = to_items(*node, origin);
    if (!items) return fail(items.error());
    auto r = set(key, SettingValue{*items, origin});
    if (!r) return r;
  }
  if (policy || grants || profiles) {
    auto loaded = load_policies(path, policy, grants, profiles);
    if (!loaded) return loaded;
  }
  return true;
}

Expected<bool> ConfigBuilder::load_relays(const std::string& path, std::string_view kind, const toml::node& node) {
  const toml::array* entries = node.as_array();
  if (!entries) return fail(path + ": [[" + std::string(kind) + "]] must be an array of tables");
  for (const auto& entry : *entries) {
    const std::string origin = path + ":" + std::to_string(entry.source().begin.line) + " (" + std::string(kind) + ")";
    const toml::table* t = entry.as_table();
    if (!t) return fail(origin + ": expected a table");
    auto text = [&](std::string_view key) { return (*t)[key].value<std::string>(); };
    const bool mcp = kind == "mcp";
    for (const auto& [k, v] : *t) {
      const std::string_view key = k.str();
      const bool known = key == "name" || (mcp ? key == "url" || key == "header" || key == "value" : key == "target");
      if (!known)
        return fail(origin + ": unknown key '" + std::string(key) + "' (" +
                    (mcp ? "an [[mcp]] has name, url, header and value" : "a [[relay]] has name and target") + ")");
    }
    auto name = text("name");
    auto target = text(mcp ? "url" : "target");
    if (!name || !target) return fail(origin + ": needs name and " + (mcp ? "url" : "target"));
    auto route = make_relay_route(kind, *name, *target);
    if (!route) return fail(origin + ": " + route.error());
    for (const auto& r : config_.relays)
      if (r.prefix == route->prefix) return fail(origin + ": " + route->prefix + " is defined twice");
    if (mcp) {
      // The server's credential: an inject rule for its host and port.
      if (!text("header") || !text("value")) return fail(origin + ": needs header and value");
      toml::table rule{{"host", route->base.authority.host},
                       {"port", int64_t(route->base.authority.port)},
                       {"header", *text("header")},
                       {"value", *text("value")}};
      toml::array rules;
      rules.push_back(std::move(rule));
      auto made = load_inject_rules(rules, path, env_, config_.inject.size() + 1);
      if (!made) return fail(origin + ": " + made.error());
      for (auto& r : *made) config_.inject.push_back(std::move(r));
    }
    config_.relays.push_back(std::move(*route));
  }
  return true;
}

Expected<bool> ConfigBuilder::load_policies(const std::string& path, const toml::node* policy, const toml::node* grants,
                                            const toml::node* profiles) {
  auto where = [&](const toml::node& n, std::string_view key) {
    return path + ":" + std::to_string(n.source().begin.line) + " (" + std::string(key) + ")";
  };
  // parse_policy's errors start with the key path ("policy.mode: ...").
  auto at_line = [&](const toml::node& n) { return path + ":" + std::to_string(n.source().begin.line) + ": "; };
  if (grants && !grants->is_table()) return fail(where(*grants, "grants") + ": expected a table of [grants.NAME]");
  auto catalog = parse_grants(grants ? grants->as_table() : nullptr);
  if (!catalog) return fail(path + ": " + catalog.error());
  grants_ = std::move(*catalog);
  if (policy) {
    if (!policy->is_table()) return fail(where(*policy, "policy") + ": expected a table");
    auto parsed = parse_policy(*policy->as_table(), *grants_, "policy");
    if (!parsed) return fail(at_line(*policy) + parsed.error());
    config_.policy = std::move(*parsed);
  }
  if (!profiles) return true;
  const toml::table* all = profiles->as_table();
  if (!all) return fail(where(*profiles, "profiles") + ": expected [profiles.NAME] tables");
  for (const auto& [name_key, node] : *all) {
    const std::string name(name_key.str());
    const std::string origin = where(node, "profiles." + name);
    const toml::table* t = node.as_table();
    if (!t) return fail(origin + ": expected a table");
    auto profile = std::make_shared<Profile>();
    profile->id = name;
    for (const auto& [k, value] : *t) {
      const std::string key(k.str());
      if (key == "policy") {
        if (!value.is_table()) return fail(origin + ": policy must be a table");
        auto parsed = parse_policy(*value.as_table(), *grants_, "profiles." + name + ".policy");
        if (!parsed) return fail(at_line(value) + parsed.error());
        profile->policy = std::move(*parsed);
      } else if (key == "inject") {
        auto rules = load_inject_rules(value, path, env_);
        if (!rules) return fail(rules.error());
        profile->rules = std::move(*rules);
      } else if (key == "upstream") {
        std::vector<ProxyUrl> proxies;
        auto add = [&](const toml::node& n) -> Expected<bool> {
          auto text = n.value<std::string>();
          if (!text) return fail(origin + ": upstream entries must be strings");
          if (*text == "direct" || *text == "DIRECT") return true;
          auto url = parse_proxy_url(*text);
          if (!url) return fail(origin + ": " + url.error());
          proxies.push_back(std::move(*url));
          return true;
        };
        if (auto arr = value.as_array()) {
          for (const auto& el : *arr)
            if (auto r = add(el); !r) return r;
        } else if (auto r = add(value); !r) {
          return r;
        }
        // The profile's route: its proxies, the global bypass lists (as
        // they stand at this key: flags given later do not change it).
        RouteTable::Inputs in;
        in.upstreams = proxies;
        in.no_proxy = config_.no_proxy;
        in.no_proxy_exact = config_.no_proxy_exact;
        auto table = RouteTable::build(in);
        if (!table) return fail(origin + ": upstream: " + table.error());
        profile->resolver = std::make_shared<OwnedRouteResolver>(std::move(*table));
        profile->upstream = std::move(proxies);
      } else if (key == "aws") {
        if (!value.is_table()) return fail(origin + ": aws must be a table");
        auto cfg = parse_aws_config(*value.as_table(), "profiles." + name + ".aws");
        if (!cfg) return fail(at_line(value) + cfg.error());
        auto base = aws::base_source_for(*cfg, env_);
        if (!base) return fail(at_line(value) + "profiles." + name + ".aws: " + base.error());
        profile->aws = std::make_shared<aws::RoleCredentials>(std::move(*cfg), std::move(*base));
      } else {
        return fail(origin + ": unknown key '" + key + "' (a profile has policy, inject, upstream and aws)");
      }
    }
    config_.profiles[name] = std::move(profile);
  }
  return true;
}

Expected<Config> ConfigBuilder::finish() {
  auto& c = config_;
  // No [policy]: permissive, with the default deny_ips (link-local and
  // cloud metadata addresses) still checked after DNS (SPEC §7).
  if (!c.policy) c.policy = NetworkPolicy::default_policy();
  c.grants = std::make_shared<const GrantCatalog>(grants_ ? std::move(*grants_) : GrantCatalog::builtin());
  const bool tokens_required = !c.client_tokens_file.empty();
  if (c.allow.empty()) {
    if (tokens_required && !c.allow_explicit) {
      // The token is the key (SPEC §2): containers reach a host listener
      // from their own addresses.
      c.allow.push_back(*IpPrefix::parse("0.0.0.0/0"));
      c.allow.push_back(*IpPrefix::parse("::/0"));
    } else {
      c.allow.push_back(*IpPrefix::parse("127.0.0.0/8"));
      c.allow.push_back(*IpPrefix::parse("::1/128"));
    }
  }
  // SOCKS listeners too: without --allow a remote one would reject every client.
  auto check_listeners = [&](const std::vector<HostPort>& listeners, const std::string& flag) -> Expected<bool> {
    for (const auto& l : listeners) {
      bool loopback = l.host == "localhost";
      boost::system::error_code ec;
      auto addr = boost::asio::ip::make_address(l.host, ec);
      if (ec && !loopback) return fail(flag + " " + l.to_string() + ": must be an IP address or localhost");
      if (!ec) loopback = addr.is_loopback();
      if (!loopback && !c.allow_explicit && !tokens_required)
        return fail("refusing to listen on " + l.to_string() + " (" + flag +
                    ") without --allow or --client-tokens: a non-loopback listener would be an open proxy (name "
                    "the client networks with --allow CIDR,..., or require tokens)");
    }
    return true;
  };
  if (auto r = check_listeners(c.listen, "--listen"); !r) return fail(r.error());
  if (auto r = check_listeners(c.socks_listen, "--socks-listen"); !r) return fail(r.error());
  return c;
}

}  // namespace ferry
