// base/: host_port, ip_prefix, duration, proxy_error.
#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>
#include <set>
#include <string>

#include "base/duration.h"
#include "base/host_port.h"
#include "base/ip_prefix.h"
#include "base/proxy_error.h"

namespace ferry {
namespace {

namespace ip = boost::asio::ip;

// ---------------------------------------------------------------- HostPort

struct HostPortCase {
  const char* text;
  std::optional<uint16_t> default_port;
  const char* host;
  uint16_t port;
  const char* round_trip;
};

class HostPortOk : public testing::TestWithParam<HostPortCase> {};

TEST_P(HostPortOk, Parses) {
  const auto& c = GetParam();
  auto hp = parse_host_port(c.text, c.default_port);
  ASSERT_TRUE(hp) << c.text << ": " << hp.error();
  EXPECT_EQ(hp->host, c.host);
  EXPECT_EQ(hp->port, c.port);
  EXPECT_EQ(hp->to_string(), c.round_trip);
  auto again = parse_host_port(hp->to_string());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *hp);
}

INSTANTIATE_TEST_SUITE_P(
    All, HostPortOk,
    testing::Values(HostPortCase{"127.0.0.1:3128", std::nullopt, "127.0.0.1", 3128, "127.0.0.1:3128"},
                    HostPortCase{"Example.COM:443", std::nullopt, "example.com", 443, "example.com:443"},
                    HostPortCase{"my_host-1.corp:8080", std::nullopt, "my_host-1.corp", 8080, "my_host-1.corp:8080"},
                    HostPortCase{"[::1]:3128", std::nullopt, "::1", 3128, "[::1]:3128"},
                    HostPortCase{"[2001:DB8:0:0::1]:80", std::nullopt, "2001:db8::1", 80, "[2001:db8::1]:80"},
                    HostPortCase{"[::ffff:192.0.2.1]:80", std::nullopt, "::ffff:192.0.2.1", 80,
                                 "[::ffff:192.0.2.1]:80"},
                    HostPortCase{"host:1", std::nullopt, "host", 1, "host:1"},
                    HostPortCase{"host:65535", std::nullopt, "host", 65535, "host:65535"},
                    HostPortCase{"host", uint16_t(80), "host", 80, "host:80"},
                    HostPortCase{"[::1]", uint16_t(443), "::1", 443, "[::1]:443"},
                    HostPortCase{"host:8080", uint16_t(80), "host", 8080, "host:8080"}),
    [](const testing::TestParamInfo<HostPortCase>& i) { return "Case" + std::to_string(i.index); });

TEST(HostPort, Rejections) {
  const char* bad[] = {"",         "host",    "host:",          "host:0",    "host:65536",
                       "host:abc", "host:-1", "host:+80",       "host: 80",  "host:80 ",
                       "::1",      "::1:80",  "2001:db8::1",    "[::1",      "[::1]80",
                       "[::1]:",   "[::1]:0", "[192.0.2.1]:80", "[host]:80", ":80",
                       "ho st:80", "h%41:80", "host/x:80",      "a@b:80",    "host:123456"};
  for (const char* t : bad) EXPECT_FALSE(parse_host_port(t)) << t;
  EXPECT_FALSE(parse_host_port("::1", 80)) << "IPv6 without brackets even with a default port";
  EXPECT_FALSE(parse_host_port("", 80));
  EXPECT_FALSE(parse_host_port(std::string(254, 'a') + ":80"));
}

TEST(HostPort, ErrorForUnbracketedV6SaysBrackets) {
  auto hp = parse_host_port("::1:3128");
  ASSERT_FALSE(hp);
  EXPECT_NE(hp.error().find("bracket"), std::string::npos) << hp.error();
}

TEST(HostPort, HostForUrl) {
  EXPECT_EQ((HostPort{"::1", 80}).host_for_url(), "[::1]");
  EXPECT_EQ((HostPort{"a.b", 80}).host_for_url(), "a.b");
  EXPECT_TRUE((HostPort{"::1", 80}).is_ipv6_literal());
  EXPECT_FALSE((HostPort{"1.2.3.4", 80}).is_ipv6_literal());
}

TEST(ParsePort, Range) {
  EXPECT_EQ(parse_port("1"), uint16_t(1));
  EXPECT_EQ(parse_port("65535"), uint16_t(65535));
  EXPECT_EQ(parse_port("08080"), uint16_t(8080));
  EXPECT_EQ(parse_port("000080"), std::nullopt) << "more than 5 characters";
  EXPECT_EQ(parse_port("0"), std::nullopt);
  EXPECT_EQ(parse_port("65536"), std::nullopt);
  EXPECT_EQ(parse_port(""), std::nullopt);
  EXPECT_EQ(parse_port("8o"), std::nullopt);
  EXPECT_EQ(parse_port("-1"), std::nullopt);
}

TEST(Strings, IequalsAndToLower) {
  EXPECT_TRUE(iequals("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(iequals("a", "ab"));
  EXPECT_FALSE(iequals("[", "{"));  // only ASCII letters fold
  EXPECT_FALSE(iequals("\xc3\x89", "\xc3\xa9"));
  EXPECT_EQ(to_lower("MiXeD-123"), "mixed-123");
}

// ---------------------------------------------------------------- IpPrefix

ip::address addr(const char* s) { return ip::make_address(s); }

TEST(IpPrefix, V4Cidr) {
  auto p = IpPrefix::parse("10.0.0.0/8");
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(p->contains(addr("10.0.0.0")));
  EXPECT_TRUE(p->contains(addr("10.255.255.255")));
  EXPECT_FALSE(p->contains(addr("11.0.0.0")));
  EXPECT_FALSE(p->contains(addr("9.255.255.255")));
  EXPECT_FALSE(p->contains(addr("::a00:1"))) << "v4-compatible v6 is not v4";
  EXPECT_EQ(p->to_string(), "10.0.0.0/8");
}

TEST(IpPrefix, HostBitsMasked) {
  auto p = IpPrefix::parse("192.168.1.77/24");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->to_string(), "192.168.1.0/24");
  EXPECT_TRUE(p->contains(addr("192.168.1.1")));
  EXPECT_FALSE(p->contains(addr("192.168.2.1")));
  EXPECT_EQ(*p, *IpPrefix::parse("192.168.1.0/24"));
}

TEST(IpPrefix, OddLengths) {
  auto p = IpPrefix::parse("172.16.0.0/12");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->contains(addr("172.31.255.255")));
  EXPECT_FALSE(p->contains(addr("172.32.0.0")));
  auto q = IpPrefix::parse("192.0.2.128/25");
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->contains(addr("192.0.2.200")));
  EXPECT_FALSE(q->contains(addr("192.0.2.127")));
}

TEST(IpPrefix, V4HostPrefix) {
  auto p = IpPrefix::parse("127.0.0.1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->to_string(), "127.0.0.1/32");
  EXPECT_TRUE(p->contains(addr("127.0.0.1")));
  EXPECT_FALSE(p->contains(addr("127.0.0.2")));
}

TEST(IpPrefix, V6CidrAndHost) {
  auto p = IpPrefix::parse("2001:db8::/32");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->contains(addr("2001:db8:ffff::1")));
  EXPECT_FALSE(p->contains(addr("2001:db9::1")));
  EXPECT_FALSE(p->contains(addr("10.0.0.1")));
  auto h = IpPrefix::parse("::1");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->to_string(), "::1/128");
  EXPECT_TRUE(h->contains(addr("::1")));
  EXPECT_FALSE(h->contains(addr("::2")));
  EXPECT_FALSE(h->contains(addr("127.0.0.1")));
  auto odd = IpPrefix::parse("fe80::/10");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains(addr("febf::1")));
  EXPECT_FALSE(odd->contains(addr("fec0::1")));
}

TEST(IpPrefix, ZeroLength) {
  auto v4 = IpPrefix::parse("0.0.0.0/0");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->contains(addr("1.2.3.4")));
  EXPECT_TRUE(v4->contains(addr("255.255.255.255")));
  EXPECT_FALSE(v4->contains(addr("::1")));
  auto v6 = IpPrefix::parse("::/0");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(addr("2001:db8::1")));
  EXPECT_TRUE(v6->contains(addr("::1")));
  auto weird = IpPrefix::parse("10.1.2.3/0");
  ASSERT_TRUE(weird);
  EXPECT_EQ(weird->to_string(), "0.0.0.0/0");
}

TEST(IpPrefix, V4MappedAddressMatchesV4Prefix) {
  auto p = IpPrefix::parse("127.0.0.0/8");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->contains(addr("::ffff:127.0.0.1")));
  EXPECT_FALSE(p->contains(addr("::ffff:128.0.0.1")));
  auto host = IpPrefix::parse("192.0.2.1");
  ASSERT_TRUE(host);
  EXPECT_TRUE(host->contains(addr("::ffff:192.0.2.1")));
}

TEST(IpPrefix, V4MappedPrefixWrittenAsV4MappedHost) {
  auto p = IpPrefix::parse("::ffff:192.0.2.1");
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(p->contains(addr("192.0.2.1")));
  EXPECT_TRUE(p->contains(addr("::ffff:192.0.2.1")));
  EXPECT_FALSE(p->contains(addr("192.0.2.2")));
}

TEST(IpPrefix, V4MappedPrefixWithV6Length) {
  // "::ffff:10.0.0.0/104" is the IPv6 spelling of 10.0.0.0/8: a v6 prefix
  // length over a v4-mapped network.
  auto p = IpPrefix::parse("::ffff:10.0.0.0/104");
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(p->contains(addr("10.1.2.3")));
  EXPECT_TRUE(p->contains(addr("::ffff:10.1.2.3")));
  EXPECT_FALSE(p->contains(addr("11.0.0.1")));
}

TEST(IpPrefix, Rejections) {
  for (const char* t : {"", "abc", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/9",
                        "10.0.0.0/8x", "10.0.0/8", "::1/129", "::1/", "[::1]/128", " 10.0.0.0/8", "10.0.0.0/ 8",
                        "10.0.0.256", "localhost", "/8", "10.0.0.0/99999999999"}) {
    auto p = IpPrefix::parse(t);
    EXPECT_FALSE(p) << t;
    if (!p) {
      EXPECT_NE(p.error().find(std::string(t)), std::string::npos) << "error names the input: " << p.error();
    }
  }
}

// ---------------------------------------------------------------- durations

TEST(Duration, Parses) {
  struct Case {
    const char* text;
    int64_t ms;
  };
  const Case cases[] = {
      {"0", 0},        {"0s", 0},         {"250ms", 250},  {"10s", 10'000}, {"10", 10'000},
      {"5m", 300'000}, {"1h", 3'600'000}, {"90s", 90'000}, {"1ms", 1},      {"24h", 86'400'000},
  };
  for (const auto& c : cases) {
    auto d = parse_duration(c.text);
    ASSERT_TRUE(d) << c.text << ": " << d.error();
    EXPECT_EQ(d->count(), c.ms) << c.text;
  }
}

TEST(Duration, Rejections) {
  for (const char* t : {"", "s", "ms", "-1s", "+1s", "1.5s", "10 s", " 10s", "10S", "10sec", "5d", "1m30s",
                        "99999999999999999999", "99999999999h", "abc"}) {
    auto d = parse_duration(t);
    EXPECT_FALSE(d) << t;
    if (!d) {
      EXPECT_NE(d.error().find(std::string(t)), std::string::npos) << d.error();
    }
  }
}

TEST(Duration, Formats) {
  EXPECT_EQ(format_duration(Millis(0)), "0s");
  EXPECT_EQ(format_duration(Millis(250)), "250ms");
  EXPECT_EQ(format_duration(Millis(1500)), "1500ms");
  EXPECT_EQ(format_duration(Millis(10'000)), "10s");
  EXPECT_EQ(format_duration(Millis(90'000)), "90s");
  EXPECT_EQ(format_duration(Millis(300'000)), "5m");
  EXPECT_EQ(format_duration(Millis(3'600'000)), "1h");
  EXPECT_EQ(format_duration(Millis(5'400'000)), "90m");
}

TEST(Duration, FormatRoundTrips) {
  for (int64_t ms : {0, 1, 999, 1000, 61'000, 60'000, 7'200'000, 123'456'789}) {
    auto d = parse_duration(format_duration(Millis(ms)));
    ASSERT_TRUE(d) << ms;
    EXPECT_EQ(d->count(), ms);
  }
}

// ---------------------------------------------------------------- proxy errors

TEST(ProxyErrc, NamesAndStatusesForEveryValue) {
  struct Case {
    ProxyErrc e;
    const char* name;
    int status;
  };
  const Case cases[] = {
      {ProxyErrc::dns_error, "dns_error", 502},
      {ProxyErrc::dns_timeout, "dns_timeout", 504},
      {ProxyErrc::destination_unavailable, "destination_unavailable", 502},
      {ProxyErrc::destination_ip_prohibited, "destination_ip_prohibited", 403},
      {ProxyErrc::connection_refused, "connection_refused", 502},
      {ProxyErrc::connection_terminated, "connection_terminated", 502},
      {ProxyErrc::connection_timeout, "connection_timeout", 504},
      {ProxyErrc::connection_read_timeout, "connection_read_timeout", 504},
      {ProxyErrc::connection_limit_reached, "connection_limit_reached", 503},
      {ProxyErrc::tls_protocol_error, "tls_protocol_error", 502},
      {ProxyErrc::tls_certificate_error, "tls_certificate_error", 502},
      {ProxyErrc::http_request_error, "http_request_error", 400},
      {ProxyErrc::http_request_denied, "http_request_denied", 403},
      {ProxyErrc::http_response_incomplete, "http_response_incomplete", 502},
      {ProxyErrc::http_response_header_section_size, "http_response_header_section_size", 502},
      {ProxyErrc::http_response_timeout, "http_response_timeout", 504},
      {ProxyErrc::http_upgrade_failed, "http_upgrade_failed", 502},
      {ProxyErrc::http_protocol_error, "http_protocol_error", 502},
      {ProxyErrc::proxy_internal_error, "proxy_internal_error", 500},
      {ProxyErrc::proxy_configuration_error, "proxy_configuration_error", 500},
      {ProxyErrc::proxy_loop_detected, "proxy_loop_detected", 502},
  };
  std::set<std::string_view> names;
  for (const auto& c : cases) {
    EXPECT_EQ(proxy_errc_name(c.e), c.name);
    EXPECT_EQ(default_status(c.e), c.status) << c.name;
    names.insert(proxy_errc_name(c.e));
  }
  EXPECT_EQ(names.size(), std::size(cases)) << "names are distinct";
  EXPECT_EQ(static_cast<int>(ProxyErrc::proxy_loop_detected) + 1, static_cast<int>(std::size(cases)))
      << "a new ProxyErrc value needs a row here";
}

TEST(ProxyError, HttpStatus) {
  EXPECT_EQ((ProxyError{ProxyErrc::dns_error, ""}).http_status(), 502);
  EXPECT_EQ((ProxyError{ProxyErrc::http_request_denied, "", 407}).http_status(), 407);
}

}  // namespace
}  // namespace ferry
