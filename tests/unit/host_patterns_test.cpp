// Policy host patterns: exact names, *.suffix on label boundaries, ports,
// IP literals and CIDRs (IPv6, mapped forms), errors, and a 10,000-pattern set.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "policy/host_patterns.h"

namespace ferry {
namespace {

using testing::HasSubstr;

HostPatternSet make(std::initializer_list<const char*> patterns) {
  HostPatternSet set;
  for (const char* p : patterns) {
    auto r = set.add(p);
    EXPECT_TRUE(r) << p << ": " << r.error();
  }
  return set;
}

// The pattern text that matched, "" when none did.
std::string matched(const HostPatternSet& set, std::string_view host, uint16_t port = 443) {
  const auto* t = set.match(host, port);
  return t ? *t : "";
}

TEST(HostPatterns, ExactNameIsExact) {
  auto set = make({"api.github.com"});
  EXPECT_EQ(matched(set, "api.github.com"), "api.github.com");
  EXPECT_EQ(matched(set, "API.GitHub.COM"), "api.github.com");
  EXPECT_EQ(matched(set, "api.github.com."), "api.github.com");
  EXPECT_EQ(matched(set, "api.github.com", 80), "api.github.com");  // no port: any port
  // A bare name does not cover subdomains, nor is it a suffix or prefix.
  EXPECT_EQ(matched(set, "x.api.github.com"), "");
  EXPECT_EQ(matched(set, "github.com"), "");
  EXPECT_EQ(matched(set, "evilapi.github.com"), "");
  EXPECT_EQ(matched(set, "api.github.com.evil.org"), "");
  EXPECT_EQ(matched(set, "api.github.co"), "");
}

TEST(HostPatterns, WildcardMatchesStrictSubdomainsOnLabelBoundary) {
  auto set = make({"*.example.com"});
  EXPECT_EQ(matched(set, "a.example.com"), "*.example.com");
  EXPECT_EQ(matched(set, "a.b.example.com"), "*.example.com");
  EXPECT_EQ(matched(set, "A.Example.Com."), "*.example.com");
  EXPECT_EQ(matched(set, "example.com"), "");
  EXPECT_EQ(matched(set, "badexample.com"), "");
  EXPECT_EQ(matched(set, "a.badexample.com"), "");
  EXPECT_EQ(matched(set, ".example.com"), "");
  EXPECT_EQ(matched(set, "a..example.com"), "");
  EXPECT_EQ(matched(set, "example.com.evil.org"), "");
  EXPECT_EQ(matched(set, "a b.example.com"), "");
  // A wildcard never matches an address, even one that ends like it.
  auto numeric = make({"*.example.com", "*.in-addr.arpa"});
  EXPECT_EQ(matched(numeric, "10.0.0.1"), "");
}

TEST(HostPatterns, ApexAndSubdomainsNeedBothPatterns) {
  auto set = make({"example.com", "*.example.com"});
  EXPECT_EQ(matched(set, "example.com"), "example.com");
  EXPECT_EQ(matched(set, "www.example.com"), "*.example.com");
}

TEST(HostPatterns, PortsRestrictAPattern) {
  auto set = make({"api.example.com:8443", "*.corp:22", "10.0.0.0/8:443", "[::1]:443", "[fd00::/8]:80", "1.2.3.4:5"});
  EXPECT_EQ(matched(set, "api.example.com", 8443), "api.example.com:8443");
  EXPECT_EQ(matched(set, "api.example.com", 443), "");
  EXPECT_EQ(matched(set, "git.corp", 22), "*.corp:22");
  EXPECT_EQ(matched(set, "git.corp", 443), "");
  EXPECT_EQ(matched(set, "10.9.8.7", 443), "10.0.0.0/8:443");
  EXPECT_EQ(matched(set, "10.9.8.7", 80), "");
  EXPECT_EQ(matched(set, "[::1]", 443), "[::1]:443");
  EXPECT_EQ(matched(set, "::1", 443), "[::1]:443");
  EXPECT_EQ(matched(set, "::1", 80), "");
  EXPECT_EQ(matched(set, "fd12::3", 80), "[fd00::/8]:80");
  EXPECT_EQ(matched(set, "fd12::3", 443), "");
  EXPECT_EQ(matched(set, "1.2.3.4", 5), "1.2.3.4:5");
}

TEST(HostPatterns, SameHostWithSeveralPorts) {
  auto set = make({"api.example.com:80", "api.example.com:443"});
  EXPECT_EQ(matched(set, "api.example.com", 80), "api.example.com:80");
  EXPECT_EQ(matched(set, "api.example.com", 443), "api.example.com:443");
  EXPECT_EQ(matched(set, "api.example.com", 8080), "");
  EXPECT_EQ(set.size(), 2u);
  ASSERT_TRUE(set.add("API.example.com.:443"));  // the same pattern again
  EXPECT_EQ(set.size(), 2u);
}

TEST(HostPatterns, IpLiteralsMatchExactlyInAnySpelling) {
  auto set = make({"192.0.2.7", "2001:db8::1", "[2001:db8::2]"});
  EXPECT_EQ(matched(set, "192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(matched(set, "192.0.2.8"), "");
  EXPECT_EQ(matched(set, "2001:DB8:0:0::1"), "2001:db8::1");
  EXPECT_EQ(matched(set, "[2001:db8::1]"), "2001:db8::1");
  EXPECT_EQ(matched(set, "2001:db8::2"), "2001:db8::2");
  EXPECT_EQ(matched(set, "2001:db8::3"), "");
  // The IPv4-mapped spelling reaches the IPv4 address: it matches too.
  EXPECT_EQ(matched(set, "::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(matched(set, "[::ffff:c000:207]"), "192.0.2.7");
  // A name pattern never matches an address, an address pattern never a name.
  auto names = make({"localhost", "192.0.2.7"});
  EXPECT_EQ(matched(names, "127.0.0.1"), "");
  EXPECT_EQ(matched(names, "192-0-2-7.nip.io"), "");
}

TEST(HostPatterns, CidrsMatchTheirRangeAndReportTheLongest) {
  auto set = make({"10.0.0.0/8", "10.1.0.0/16", "fd00::/8", "::ffff:172.16.0.0/108", "192.168.1.77/24"});
  EXPECT_EQ(matched(set, "10.200.0.1"), "10.0.0.0/8");
  EXPECT_EQ(matched(set, "10.1.2.3"), "10.1.0.0/16");
  EXPECT_EQ(matched(set, "11.0.0.1"), "");
  EXPECT_EQ(matched(set, "fdff:1::1"), "fd00::/8");
  EXPECT_EQ(matched(set, "fe00::1"), "");
  EXPECT_EQ(matched(set, "172.16.5.5"), "172.16.0.0/12");  // the mapped prefix is the IPv4 one
  EXPECT_EQ(matched(set, "172.32.0.1"), "");
  EXPECT_EQ(matched(set, "192.168.1.1"), "192.168.1.0/24");  // host bits dropped
  EXPECT_EQ(matched(set, "::ffff:10.0.0.1"), "10.0.0.0/8");
  auto all = make({"0.0.0.0/0"});
  EXPECT_EQ(matched(all, "203.0.113.9"), "0.0.0.0/0");
  EXPECT_EQ(matched(all, "2001:db8::1"), "");  // an IPv4 prefix, even /0, is not IPv6
  EXPECT_EQ(matched(all, "example.com"), "");
}

TEST(HostPatterns, NumericLookingNamesMatchNothing) {
  // getaddrinfo reads 10.1 as 10.0.0.1 and 0x7f.1 as 127.0.0.1: neither may
  // pass as a name, nor as an address it does not spell.
  auto set = make({"10.0.0.1", "*.example.com", "0.0.0.0/0"});
  EXPECT_EQ(matched(set, "10.1"), "");
  EXPECT_EQ(matched(set, "0x7f.1"), "");
  EXPECT_EQ(matched(set, "a.example.com.1"), "");
  EXPECT_EQ(matched(set, "10.0.0.1"), "10.0.0.1");
}

TEST(HostPatterns, CanonicalTextRoundTrips) {
  const char* cases[][2] = {
      {"Api.GitHub.com.", "api.github.com"},
      {"*.Example.COM", "*.example.com"},
      {"EXAMPLE.com:0443", "example.com:443"},
      {"[2001:DB8::1]", "2001:db8::1"},
      {"[2001:db8::1]:443", "[2001:db8::1]:443"},
      {"2001:db8::/32", "2001:db8::/32"},
      {"[fd00::/8]:80", "[fd00::/8]:80"},
      {"10.1.2.3/8", "10.0.0.0/8"},
      {"10.0.0.0/8:22", "10.0.0.0/8:22"},
      {"::ffff:10.0.0.1", "10.0.0.1"},
      {"1.2.3.4/32", "1.2.3.4"},
      {"xn--bcher-kva.example", "xn--bcher-kva.example"},
  };
  for (const auto& [in, want] : cases) {
    auto c = HostPatternSet::canonical(in);
    ASSERT_TRUE(c) << in << ": " << c.error();
    EXPECT_EQ(*c, want) << in;
    auto again = HostPatternSet::canonical(*c);
    ASSERT_TRUE(again) << *c;
    EXPECT_EQ(*again, *c);
  }
}

TEST(HostPatterns, InvalidPatternsAreErrorsNamingThem) {
  const char* bad[] = {"",
                       "*",
                       "*example.com",
                       "*.",
                       "a.*.example.com",
                       "example..com",
                       "-example.com",
                       "exa mple.com",
                       ".example.com",
                       "example.com:0",
                       "example.com:65536",
                       "example.com:",
                       "example.com:http",
                       "[::1",
                       "[::1]443",
                       "[10.0.0.1]",
                       "[example.com]",
                       "10.0.0.0/33",
                       "fd00::/129",
                       "10.0.0.0/",
                       "example.com/8",
                       "10.1",
                       "*.0.0.1",
                       "host.0x7f",
                       "bücher.example",
                       "a/b"};
  for (const char* p : bad) {
    auto c = HostPatternSet::canonical(p);
    EXPECT_FALSE(c) << "accepted '" << p << "' as " << (c ? *c : "");
    if (!c && *p) {
      EXPECT_THAT(c.error(), HasSubstr(std::string("'") + p + "'")) << p;
    }
    HostPatternSet set;
    EXPECT_FALSE(set.add(p)) << p;
    EXPECT_TRUE(set.empty());
  }
  EXPECT_THAT(HostPatternSet::canonical("*").error(), HasSubstr("permissive"));
}

TEST(HostPatterns, LabelIsAppendedToTheReportedText) {
  HostPatternSet set;
  ASSERT_TRUE(set.add("*.github.com", "grant github"));
  EXPECT_EQ(matched(set, "api.github.com"), "*.github.com (grant github)");
}

TEST(HostPatterns, AddressPatternsIgnoringPorts) {
  auto set = make({"10.0.0.5:22", "example.com"});
  EXPECT_NE(set.match_address_any_port(boost::asio::ip::make_address("10.0.0.5")), nullptr);
  EXPECT_EQ(set.match_address_any_port(boost::asio::ip::make_address("10.0.0.6")), nullptr);
}

// 10,000 patterns of every kind: each matches what it should, near misses
// match nothing, and lookups cost hash probes, not a scan of the set.
TEST(HostPatterns, TenThousandPatterns) {
  HostPatternSet set;
  for (int i = 0; i < 2500; ++i) {
    ASSERT_TRUE(set.add("host" + std::to_string(i) + ".example.com"));
    ASSERT_TRUE(set.add("*.zone" + std::to_string(i) + ".example.net"));
    ASSERT_TRUE(set.add("svc" + std::to_string(i) + ".corp:8443"));
    ASSERT_TRUE(set.add("10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".0/24"));
  }
  ASSERT_EQ(set.size(), 10000u);
  for (int i = 0; i < 2500; i += 7) {
    const std::string n = std::to_string(i);
    EXPECT_EQ(matched(set, "host" + n + ".example.com"), "host" + n + ".example.com");
    EXPECT_EQ(matched(set, "a.b.zone" + n + ".example.net"), "*.zone" + n + ".example.net");
    EXPECT_EQ(matched(set, "svc" + n + ".corp", 8443), "svc" + n + ".corp:8443");
    EXPECT_EQ(matched(set, "svc" + n + ".corp", 443), "");
    EXPECT_EQ(matched(set, "10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".9"),
              "10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".0/24");
    EXPECT_EQ(matched(set, "zone" + n + ".example.net"), "");
    EXPECT_EQ(matched(set, "x.host" + n + ".example.com"), "");
  }
  EXPECT_EQ(matched(set, "host2500.example.com"), "");
  EXPECT_EQ(matched(set, "10.10.0.1"), "");

  // Lookups through the whole set stay right (their cost is measured in
  // bench/micro/policy_bench.cpp, not asserted here).
  size_t hits = 0;
  for (int i = 0; i < 6000; ++i) {
    hits += set.match("deep.name.zone" + std::to_string(i % 3000) + ".example.net", 443) != nullptr;
    hits += set.match("miss" + std::to_string(i) + ".example.org", 443) != nullptr;
  }
  EXPECT_EQ(hits, 2u * 2500);
}

}  // namespace
}  // namespace ferry
