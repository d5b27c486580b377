// The routing seam: the static rules as a ProxyResolver, proxy lists with
// DIRECT as an element, request plans over such lists, and authenticators
// for proxies first met at run time.
#include "routing/proxy_resolver.h"

#include <gtest/gtest.h>

#include <boost/asio/thread_pool.hpp>

#include "net/dns_pool.h"
#include "upstream/upstream_dialer.h"

namespace ferry {
namespace {

RouteTable table_with(std::vector<std::string> upstreams, std::string no_proxy = "") {
  RouteTable::Inputs in;
  for (const auto& u : upstreams) in.upstreams.push_back(*parse_proxy_url(u));
  in.no_proxy = std::move(no_proxy);
  auto t = RouteTable::build(in);
  EXPECT_TRUE(t.has_value());
  return std::move(*t);
}

RouteQuery query(TrafficKind kind, std::string_view host, uint16_t port, std::string_view authority,
                 std::string_view path = "/") {
  RouteQuery q;
  q.kind = kind;
  q.host = host;
  q.port = port;
  q.authority = authority;
  q.path = path;
  return q;
}

TEST(StaticProxyResolver, RulesBecomeLists) {
  const auto table = table_with({"http://p1:8080", "socks5h://p2:1080"}, ".corp");
  StaticProxyResolver r(table);
  auto loop = r.answer(query(TrafficKind::plain_http, "127.0.0.1", 80, "127.0.0.1"));
  EXPECT_TRUE(loop.proxies->direct_only());
  EXPECT_EQ(loop.rule, "loopback");
  auto bypass = r.answer(query(TrafficKind::tunnel, "git.corp", 443, "git.corp:443"));
  EXPECT_EQ(bypass.proxies->to_string(), "DIRECT");
  auto up = r.answer(query(TrafficKind::plain_http, "example.com", 80, "example.com", "/a?b"));
  EXPECT_EQ(up.proxies->to_string(), "http://p1:8080; socks5h://p2:1080");
  EXPECT_EQ(up.rule, "upstream");
}

TEST(StaticProxyResolver, ListsAreBuiltOnceAndShareTheTablesProxies) {
  const auto table = table_with({"http://p1:8080"});
  StaticProxyResolver r(table);
  auto a = r.answer(query(TrafficKind::plain_http, "a.example", 80, "a.example"));
  auto b = r.answer(query(TrafficKind::tunnel, "b.example", 443, "b.example:443"));
  EXPECT_EQ(a.proxies.get(), b.proxies.get());  // no allocation per request
  // The chain's proxy is the table's object (the AuthRegistry knows it by address).
  EXPECT_EQ(&a.proxies->chains.front().first(), table.all_proxies().front());
}

TEST(StaticProxyResolver, AsynchronousAnswerMatches) {
  const auto table = table_with({"http://p1:8080"});
  StaticProxyResolver r(table);
  asio::io_context io;
  std::string got;
  auto run = [&]() -> awaitable<void> {
    auto res = co_await r.resolve(query(TrafficKind::https_url, "x.example", 443, "x.example"));
    got = res ? res->proxies->to_string() : res.error().details;
  };
  asio::co_spawn(io, run, asio::detached);
  io.run();
  EXPECT_EQ(got, "http://p1:8080");
}

TEST(RouteQuery, UrlAsPacSeesIt) {
  EXPECT_EQ(query(TrafficKind::plain_http, "h", 8080, "h:8080", "/p?q=1").url(), "http://h:8080/p?q=1");
  EXPECT_EQ(query(TrafficKind::https_url, "h", 443, "h", "/p").url(), "https://h/p");
  // CONNECT: no path, as browsers pass it.
  EXPECT_EQ(query(TrafficKind::tunnel, "h", 443, "h:443", "/secret").url(), "https://h:443/");
}

struct DialerBed {
  DnsPool dns;
  DestinationFilter filter;
  Destinations destinations{dns, filter};
  TlsClientContext tls;
  UpstreamHealth health;
  AuthRegistry auth;
  EventLog log{LogFormat::json, LogLevel::error};
  BlockingPool blocking{1};
  UpstreamContext ctx{Millis(1000), destinations, tls, tls, health, auth, log, blocking};
};

TEST(PlanRequestHops, DirectIsAnElementOfTheList) {
  DialerBed bed;
  auto list = make_proxy_list({proxy_chain(*parse_proxy_url("http://a:8080")), direct_chain(),
                               proxy_chain(*parse_proxy_url("socks5://b:1080"))});
  EXPECT_EQ(list->to_string(), "http://a:8080; DIRECT; socks5://b:1080");
  HostPort origin{"o.example", 80};
  auto plan = plan_request_hops(bed.ctx, *list, origin, false);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_TRUE(plan[0].absolute_form);
  EXPECT_EQ(plan[0].pool_key, "forward http://a:8080");
  EXPECT_EQ(plan[1].proxy, nullptr);
  EXPECT_EQ(plan[1].route, "direct");
  EXPECT_EQ(plan[1].pool_key, "http://o.example:80");
  EXPECT_FALSE(plan[2].absolute_form);
  EXPECT_EQ(plan[2].pool_key, "socks5://b:1080 http://o.example:80");
  EXPECT_EQ(route_summary(*list), "http://a:8080 (+2 more)");
}

TEST(PlanRequestHops, ADownUpstreamGoesLastButDirectKeepsItsPlace) {
  DialerBed bed;
  auto list = make_proxy_list({proxy_chain(*parse_proxy_url("http://a:8080")),
                               proxy_chain(*parse_proxy_url("http://b:8080")), direct_chain()});
  bed.health.mark_failed("http://a:8080");
  auto plan = plan_request_hops(bed.ctx, *list, HostPort{"o", 80}, false);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].route, "http://b:8080");
  EXPECT_EQ(plan[1].route, "direct");
  EXPECT_EQ(plan[2].route, "http://a:8080");
}

TEST(AuthRegistry, ProxyFirstMetAtRunTimeGetsAnAuthenticatorOnce) {
  AuthRegistry reg;
  const auto known = *parse_proxy_url("http://known:8080");
  reg.add(known, AuthRegistry::Settings{});
  const auto pac_named = *parse_proxy_url("http://pac-named:3128");
  // Without defaults (one-off commands that build their own): none.
  EXPECT_EQ(reg.find(pac_named), nullptr);
  auth::Credentials creds;
  creds.user = "bob";
  creds.password = auth::Secret("pw");
  reg.set_defaults({AuthMode::basic, creds, nullptr, "", {}, {}});
  auto* a = reg.find(pac_named);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->proxy_name(), "http://pac-named:3128");
  EXPECT_TRUE(a->has_credentials());
  // Another object for the same proxy finds the same authenticator (state
  // such as a learnt scheme survives across requests).
  const auto again = *parse_proxy_url("http://pac-named:3128");
  EXPECT_EQ(reg.find(again), a);
  EXPECT_EQ(reg.size(), 2u);
}

}  // namespace
}  // namespace ferry
