// Routing rules: proxy URLs, curl NO_PROXY semantics, exact bypass, env precedence.
#include <gtest/gtest.h>

#include <map>

#include "config/proxy_url.h"
#include "net/host_addresses.h"
#include "routing/bypass_rules.h"
#include "routing/route_table.h"

namespace ferry {
namespace {

TEST(ProxyUrl, ParsesSchemesAndDefaults) {
  struct Case {
    const char* in;
    ProxyScheme scheme;
    const char* host;
    uint16_t port;
  } cases[] = {
      {"http://proxy.corp:8080", ProxyScheme::http, "proxy.corp", 8080},
      {"proxy.corp:3128", ProxyScheme::http, "proxy.corp", 3128},
      {"HTTPS://Proxy.Corp", ProxyScheme::https, "proxy.corp", 443},
      {"http://proxy.corp", ProxyScheme::http, "proxy.corp", 1080},
      {"socks5://127.0.0.1:1080/", ProxyScheme::socks5, "127.0.0.1", 1080},
      {"socks5h://[::1]:9050", ProxyScheme::socks5h, "::1", 9050},
  };
  for (const auto& c : cases) {
    auto u = parse_proxy_url(c.in);
    ASSERT_TRUE(u) << c.in << ": " << u.error();
    EXPECT_EQ(u->scheme, c.scheme) << c.in;
    EXPECT_EQ(u->address.host, c.host) << c.in;
    EXPECT_EQ(u->address.port, c.port) << c.in;
  }
}

TEST(ProxyUrl, UserinfoIsPercentDecodedAndRedacted) {
  auto u = parse_proxy_url("http://bob%40corp:s3cr%3At@proxy:8080");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->user, "bob@corp");
  EXPECT_EQ(u->password.view(), "s3cr:t");
  EXPECT_EQ(u->to_redacted_string(), "http://proxy:8080");
}

TEST(ProxyUrl, RejectsAndNeverEchoesThePassword) {
  const char* bad[] = {
      "ftp://u:hunter2@proxy:21",
      "http://u:hunter2@proxy:8080/path",
      "http://u:hunter2@proxy:8080/?q",
      "http://u:hunter2@proxy:8080#f",
      "http://u:hunter2@proxy:99999",
      "http://u:hunter2@",
      "http://u:hunter2@pro xy:80",
      "http://:hunter2@proxy:80",
      "http://u:hunter2%zz@proxy:80",
      "http://u:hunter2@::1:80",
      // A password holding URL delimiters must not leak through the error.
      "http://u:hun/ter2hunter2@proxy:8080",
      "http://u:hunter2?x@proxy:8080",
      "http://u:hunter2#x@proxy:8080",
      "u:hunter2/x@proxy:8080",
  };
  for (const char* in : bad) {
    auto u = parse_proxy_url(in);
    ASSERT_FALSE(u) << in;
    EXPECT_EQ(u.error().find("hunter2"), std::string::npos) << u.error();
    EXPECT_EQ(u.error().find("ter2"), std::string::npos) << u.error();
    EXPECT_NE(u.error().find("invalid proxy URL"), std::string::npos) << u.error();
  }
}

TEST(ProxyUrl, RedactionDropsTheWholeUserinfo) {
  EXPECT_EQ(redact_userinfo("http://alice:pa/ss@proxy:8080"), "http://***@proxy:8080");
  EXPECT_EQ(redact_userinfo("alice:pw@host:443"), "***@host:443");
  EXPECT_EQ(redact_userinfo("http://proxy:8080"), "http://proxy:8080");
}

TEST(NoProxyRules, CurlSemantics) {
  auto rules =
      NoProxyRules::parse("corp.com, .internal.example ,10.0.0.0/8,192.168.1.5,[::1]:8080,api.test:8443,Trailing.Dot.");
  ASSERT_TRUE(rules) << rules.error();
  struct Case {
    const char* host;
    uint16_t port;
    bool bypass;
  } cases[] = {
      {"corp.com", 80, true},
      {"a.corp.com", 443, true},
      {"A.B.CORP.COM.", 443, true},
      {"evilcorp.com", 80, false},
      {"corp.com.evil.net", 80, false},
      {"internal.example", 80, true},
      {"x.internal.example", 80, true},
      {"10.1.2.3", 80, true},
      {"11.1.2.3", 80, false},
      {"192.168.1.5", 443, true},
      {"192.168.1.6", 443, false},
      {"::1", 8080, true},
      {"[::1]", 8080, true},
      {"::1", 8081, false},
      {"api.test", 8443, true},
      {"api.test", 443, false},
      {"trailing.dot", 80, true},
      {"sub.trailing.dot.", 80, true},
  };
  for (const auto& c : cases) EXPECT_EQ(rules->matches(c.host, c.port), c.bypass) << c.host << ":" << c.port;
}

TEST(NoProxyRules, CidrMatchesOnlyIpLiterals) {
  auto rules = NoProxyRules::parse("127.0.0.0/8,fd00::/8");
  ASSERT_TRUE(rules);
  EXPECT_TRUE(rules->matches("fd12::1", 80));
  EXPECT_FALSE(rules->matches("fe80::1", 80));
  EXPECT_FALSE(rules->matches("localhost", 80));  // names are not resolved
}

TEST(NoProxyRules, StarAloneMatchesAll) {
  auto rules = NoProxyRules::parse("*");
  ASSERT_TRUE(rules);
  EXPECT_TRUE(rules->matches("anything.example", 1));
  auto not_all = NoProxyRules::parse("*.corp.com");
  ASSERT_TRUE(not_all);
  EXPECT_TRUE(not_all->matches("a.corp.com", 1));
  EXPECT_FALSE(not_all->matches("example.org", 1));
}

TEST(NoProxyRules, RejectsGarbage) {
  for (const char* bad : {"host:0", "host:99999", "10.0.0.0/33", "bad_!host", "[::1"})
    EXPECT_FALSE(NoProxyRules::parse(bad)) << bad;
}

TEST(NoProxyRules, ToStringRoundTrips) {
  for (const char* in : {"corp.com,.a.b,10.0.0.0/8,::1,[::1]:80,x.y:8080", "*", ""}) {
    auto r = NoProxyRules::parse(in);
    ASSERT_TRUE(r) << in;
    auto again = NoProxyRules::parse(r->to_string());
    ASSERT_TRUE(again) << r->to_string();
    EXPECT_EQ(again->to_string(), r->to_string());
  }
}

TEST(ExactBypassRules, ExactHostOrHostPort) {
  auto rules = ExactBypassRules::parse("GitHub.com,api.example:8443,[::1]:9000");
  ASSERT_TRUE(rules);
  EXPECT_TRUE(rules->matches("github.com", 443));
  EXPECT_TRUE(rules->matches("GITHUB.COM.", 80));
  EXPECT_FALSE(rules->matches("api.github.com", 443));
  EXPECT_TRUE(rules->matches("api.example", 8443));
  EXPECT_FALSE(rules->matches("api.example", 443));
  EXPECT_TRUE(rules->matches("::1", 9000));
}

using Env = std::map<std::string, std::string>;
GetEnv fake_env(const Env& env) {
  return [env](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

TEST(EnvProxies, PrecedenceTable) {
  struct Case {
    Env env;
    TrafficKind kind;
    const char* expect;  // proxy host, or "" for direct
  } cases[] = {
      {{{"HTTP_PROXY", "http://upper:1"}, {"http_proxy", "http://lower:1"}}, TrafficKind::plain_http, "lower"},
      {{{"HTTP_PROXY", "http://upper:1"}}, TrafficKind::plain_http, "upper"},
      {{{"HTTPS_PROXY", "http://s:1"}}, TrafficKind::plain_http, ""},
      {{{"ALL_PROXY", "http://all:1"}}, TrafficKind::plain_http, "all"},
      {{{"http_proxy", "http://h:1"}, {"all_proxy", "http://all:1"}}, TrafficKind::plain_http, "h"},
      {{{"https_proxy", "http://s:1"}, {"http_proxy", "http://h:1"}}, TrafficKind::https_url, "s"},
      {{{"http_proxy", "http://h:1"}}, TrafficKind::https_url, ""},
      {{{"https_proxy", "http://s:1"}, {"all_proxy", "http://all:1"}, {"http_proxy", "http://h:1"}},
       TrafficKind::tunnel,
       "s"},
      {{{"all_proxy", "http://all:1"}, {"http_proxy", "http://h:1"}}, TrafficKind::tunnel, "all"},
      {{{"http_proxy", "http://h:1"}}, TrafficKind::tunnel, "h"},
      {{}, TrafficKind::tunnel, ""},
  };
  for (const auto& c : cases) {
    auto env = read_env_proxies(fake_env(c.env), {});
    ASSERT_TRUE(env) << env.error();
    RouteTable::Inputs in;
    in.env = *env;
    auto table = RouteTable::build(in);
    ASSERT_TRUE(table);
    auto d = table->route(c.kind, "example.org", 443);
    if (std::string(c.expect).empty()) {
      EXPECT_TRUE(d.direct) << d.rule;
    } else {
      ASSERT_FALSE(d.direct);
      ASSERT_FALSE(d.proxies.empty());
      EXPECT_EQ(d.proxies[0].address.host, c.expect);
    }
  }
}

TEST(EnvProxies, SelfLoopIgnoredWithWarning) {
  auto env = read_env_proxies(fake_env({{"http_proxy", "http://localhost:3128"}}), {"127.0.0.1:3128"});
  ASSERT_TRUE(env);
  EXPECT_FALSE(env->http_proxy);
  ASSERT_EQ(env->warnings.size(), 1u);
  EXPECT_NE(env->warnings[0].find("own listener"), std::string::npos);
}

TEST(EnvProxies, SelfLoopThroughWildcardListener) {
  // 0.0.0.0:3128 answers on loopback and on every address of this host
  // (HTTPS_PROXY=http://<LAN address>:3128 copied from a profile).
  for (const auto& a : host_interface_addresses()) {
    if (!a.is_v4()) continue;
    auto env = read_env_proxies(fake_env({{"https_proxy", "http://" + a.to_string() + ":3128"}}), {"0.0.0.0:3128"});
    ASSERT_TRUE(env);
    EXPECT_FALSE(env->https_proxy) << a.to_string();
    ASSERT_EQ(env->warnings.size(), 1u) << a.to_string();
  }
  // Someone else on the same port, or this host on another port, is no loop.
  auto env = read_env_proxies(fake_env({{"https_proxy", "http://203.0.113.9:3128"}}), {"0.0.0.0:3128"});
  ASSERT_TRUE(env);
  EXPECT_TRUE(env->https_proxy);
  env = read_env_proxies(fake_env({{"https_proxy", "http://127.0.0.1:3129"}}), {"0.0.0.0:3128"});
  ASSERT_TRUE(env);
  EXPECT_TRUE(env->https_proxy);
}

TEST(EnvProxies, BadValueNamesVariableNotPassword) {
  auto env = read_env_proxies(fake_env({{"HTTPS_PROXY", "http://u:topsecret@proxy:8080/x"}}), {});
  ASSERT_FALSE(env);
  EXPECT_NE(env.error().find("HTTPS_PROXY"), std::string::npos);
  EXPECT_EQ(env.error().find("topsecret"), std::string::npos);
}

TEST(RouteTable, OrderLoopbackExactNoProxyUpstream) {
  RouteTable::Inputs in;
  in.upstreams = {*parse_proxy_url("http://p1:8080"), *parse_proxy_url("http://p2:8080")};
  in.no_proxy = ".corp.com";
  in.no_proxy_exact = "github.com";
  in.env = *read_env_proxies(fake_env({{"http_proxy", "http://envproxy:1"}, {"no_proxy", "example.org"}}), {});
  auto t = RouteTable::build(in);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->route(TrafficKind::plain_http, "localhost", 80).rule, "loopback");
  EXPECT_EQ(t->route(TrafficKind::plain_http, "app.localhost", 80).rule, "loopback");
  EXPECT_EQ(t->route(TrafficKind::plain_http, "127.8.9.10", 80).rule, "loopback");
  EXPECT_EQ(t->route(TrafficKind::plain_http, "::1", 80).rule, "loopback");
  EXPECT_EQ(t->route(TrafficKind::tunnel, "github.com", 443).rule, "no_proxy_exact github.com");
  EXPECT_EQ(t->route(TrafficKind::tunnel, "git.corp.com", 443).rule, "no_proxy corp.com");
  // Explicit upstreams are authoritative: the env's proxy and bypass list are not read.
  auto d = t->route(TrafficKind::plain_http, "example.org", 80);
  ASSERT_FALSE(d.direct);
  ASSERT_EQ(d.proxies.size(), 2u);
  EXPECT_EQ(d.proxies[0].address.host, "p1");
  EXPECT_EQ(d.rule, "upstream");
}

TEST(RouteTable, ToStringRoundTripsWithoutSecrets) {
  RouteTable::Inputs in;
  in.upstreams = {*parse_proxy_url("http://alice:pw123@p1:8080"), *parse_proxy_url("socks5h://[::1]:1080")};
  in.no_proxy = "corp.com,10.0.0.0/8";
  in.no_proxy_exact = "github.com:443";
  auto t = RouteTable::build(in);
  ASSERT_TRUE(t);
  auto text = t->to_string();
  EXPECT_EQ(text.find("pw123"), std::string::npos);
  auto again = RouteTable::parse(text);
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(again->to_string(), text);
}

}  // namespace
}  // namespace ferry
