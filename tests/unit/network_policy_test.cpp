// NetworkPolicy: permissive vs strict, grants (built-in, scoped, redefined),
// the after-DNS address check (default deny_ips, deny_private, mapped
// addresses, explicit allows), and describe().
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

#include "policy/grants.h"
#include "policy/network_policy.h"

namespace ferry {
namespace {

using boost::asio::ip::make_address;
using testing::HasSubstr;

std::shared_ptr<const NetworkPolicy> make(PolicySpec spec, const GrantCatalog& grants = GrantCatalog::builtin()) {
  auto p = NetworkPolicy::create(spec, grants);
  EXPECT_TRUE(p) << p.error();
  return p ? *p : nullptr;
}

PolicySpec strict(std::vector<std::string> allow, std::vector<std::string> grants = {}) {
  PolicySpec s;
  s.mode = PolicyMode::strict;
  s.allow = std::move(allow);
  s.grants = std::move(grants);
  return s;
}

std::string denied_address(const NetworkPolicy& p, const char* addr) {
  return p.deny_address(make_address(addr)).value_or("");
}

TEST(NetworkPolicy, PermissiveAllowsEveryHost) {
  PolicySpec s;
  s.allow = {"api.example.com"};
  auto p = make(s);
  EXPECT_FALSE(p->strict());
  EXPECT_EQ(p->deny_host("anything.example.org", 443), std::nullopt);
  EXPECT_EQ(p->deny_host("10.1.2.3", 22), std::nullopt);
  EXPECT_EQ(p->allowed_by("api.example.com", 443), nullptr);
}

TEST(NetworkPolicy, StrictAllowsOnlyItsPatterns) {
  auto p = make(strict({"api.example.com", "*.example.org:443", "10.0.0.0/8"}));
  EXPECT_EQ(p->deny_host("api.example.com", 443), std::nullopt);
  EXPECT_EQ(p->deny_host("a.example.org", 443), std::nullopt);
  EXPECT_EQ(p->deny_host("10.2.3.4", 22), std::nullopt);
  ASSERT_NE(p->allowed_by("a.example.org", 443), nullptr);
  EXPECT_EQ(*p->allowed_by("a.example.org", 443), "*.example.org:443");

  EXPECT_EQ(p->deny_host("evil.com", 443).value_or(""), "evil.com:443 is not in the policy's allow list");
  EXPECT_EQ(p->deny_host("a.example.org", 80).value_or(""), "a.example.org:80 is not in the policy's allow list");
  EXPECT_EQ(p->deny_host("example.org", 443).value_or(""), "example.org:443 is not in the policy's allow list");
  EXPECT_EQ(p->deny_host("::1", 443).value_or(""), "[::1]:443 is not in the policy's allow list");
  EXPECT_EQ(p->deny_host("[::1]", 443).value_or(""), "[::1]:443 is not in the policy's allow list");
  // An IP-literal target needs an address pattern: no name covers it.
  EXPECT_TRUE(p->deny_host("11.0.0.1", 443));
}

TEST(NetworkPolicy, StrictWithNothingAllowedDeniesEverything) {
  auto p = make(strict({}));
  EXPECT_TRUE(p->deny_host("example.com", 443));
  EXPECT_TRUE(p->deny_host("127.0.0.1", 80));
}

TEST(NetworkPolicy, BuiltinGrantsExpandToTheirHosts) {
  auto p = make(strict({}, {"github", "npm", "pypi", "anthropic", "openai", "aws", "docker", "golang"}));
  for (const char* host : {"github.com", "api.github.com", "codeload.github.com", "objects.githubusercontent.com",
                           "registry.npmjs.org", "pypi.org", "files.pythonhosted.org", "api.anthropic.com",
                           "api.openai.com", "s3.us-east-1.amazonaws.com", "registry-1.docker.io", "auth.docker.io",
                           "production.cloudflare.docker.com", "proxy.golang.org", "sum.golang.org"})
    EXPECT_EQ(p->deny_host(host, 443), std::nullopt) << host;
  EXPECT_TRUE(p->deny_host("githubusercontent.com", 443));
  EXPECT_TRUE(p->deny_host("gitlab.com", 443));
  EXPECT_TRUE(p->deny_host("evilgithub.com", 443));
  ASSERT_NE(p->allowed_by("raw.githubusercontent.com", 443), nullptr);
  EXPECT_EQ(*p->allowed_by("raw.githubusercontent.com", 443), "*.githubusercontent.com (grant github)");
}

TEST(NetworkPolicy, ScopedGrantUsesItsProvidersHosts) {
  auto p = make(strict({}, {"github:repo"}));
  EXPECT_EQ(p->deny_host("api.github.com", 443), std::nullopt);
  EXPECT_EQ(*p->allowed_by("api.github.com", 443), "api.github.com (grant github:repo)");
  EXPECT_TRUE(p->deny_host("registry.npmjs.org", 443));
}

TEST(NetworkPolicy, UnknownGrantIsAnErrorNamingIt) {
  for (const char* g : {"gihub", "gihub:repo"}) {
    auto p = NetworkPolicy::create(strict({}, {"npm", g}), GrantCatalog::builtin());
    ASSERT_FALSE(p) << g;
    EXPECT_THAT(p.error(), HasSubstr("grants[1]: unknown grant 'gihub'"));
    EXPECT_THAT(p.error(), HasSubstr("github"));  // lists the known ones
  }
  auto empty_scope = NetworkPolicy::create(strict({}, {"github:"}), GrantCatalog::builtin());
  ASSERT_FALSE(empty_scope);
  EXPECT_THAT(empty_scope.error(), HasSubstr("'github:'"));
}

TEST(NetworkPolicy, DefinedGrantsAddAndReplace) {
  auto grants = GrantCatalog::builtin();
  ASSERT_TRUE(grants.define("internal", {"git.corp", "*.artifacts.corp:443"}));
  ASSERT_TRUE(grants.define("github", {"ghe.corp"}));  // replaces the built-in
  auto p = make(strict({}, {"internal", "github"}), grants);
  EXPECT_EQ(p->deny_host("git.corp", 22), std::nullopt);
  EXPECT_EQ(p->deny_host("x.artifacts.corp", 443), std::nullopt);
  EXPECT_TRUE(p->deny_host("x.artifacts.corp", 80));
  EXPECT_EQ(p->deny_host("ghe.corp", 443), std::nullopt);
  EXPECT_TRUE(p->deny_host("github.com", 443));
}

TEST(NetworkPolicy, InvalidAllowAndDenyIpsNameTheEntry) {
  auto bad_allow = NetworkPolicy::create(strict({"ok.example.com", "", "bad host"}), GrantCatalog{});
  ASSERT_FALSE(bad_allow);
  EXPECT_THAT(bad_allow.error(), HasSubstr("allow[1]"));
  auto bad_allow2 = NetworkPolicy::create(strict({"ok.example.com", "bad host"}), GrantCatalog{});
  ASSERT_FALSE(bad_allow2);
  EXPECT_THAT(bad_allow2.error(), HasSubstr("allow[1]: 'bad host'"));
  PolicySpec s;
  s.deny_ips = std::vector<std::string>{"10.0.0.0/8", "metadata.google.internal"};
  auto bad_deny = NetworkPolicy::create(s, GrantCatalog{});
  ASSERT_FALSE(bad_deny);
  EXPECT_THAT(bad_deny.error(), HasSubstr("deny_ips[1]: 'metadata.google.internal'"));
}

TEST(NetworkPolicy, DefaultDenyIpsBlockMetadataAndLinkLocalInBothModes) {
  for (auto mode : {PolicyMode::permissive, PolicyMode::strict}) {
    PolicySpec s;
    s.mode = mode;
    auto p = make(s);
    EXPECT_EQ(denied_address(*p, "169.254.169.254"), "169.254.169.254 is in deny_ips (169.254.0.0/16)");
    EXPECT_EQ(denied_address(*p, "169.254.0.1"), "169.254.0.1 is in deny_ips (169.254.0.0/16)");
    EXPECT_EQ(denied_address(*p, "fd00:ec2::254"), "fd00:ec2::254 is in deny_ips (fd00:ec2::254/128)");
    EXPECT_EQ(denied_address(*p, "fe80::1"), "fe80::1 is in deny_ips (fe80::/10)");
    EXPECT_EQ(denied_address(*p, "100.100.100.200"), "100.100.100.200 is in deny_ips (100.100.100.200/32)");
    // The IPv4-mapped spelling reaches the same metadata server.
    EXPECT_EQ(denied_address(*p, "::ffff:169.254.169.254"), "::ffff:169.254.169.254 is in deny_ips (169.254.0.0/16)");
    EXPECT_EQ(p->deny_address(make_address("93.184.216.34")), std::nullopt);
    EXPECT_EQ(p->deny_address(make_address("fd00:ec2::253")), std::nullopt);
    // Private ranges stay reachable unless deny_private says otherwise.
    EXPECT_EQ(p->deny_address(make_address("10.0.0.1")), std::nullopt);
    EXPECT_EQ(p->deny_address(make_address("127.0.0.1")), std::nullopt);
  }
  EXPECT_TRUE(NetworkPolicy::default_policy()->deny_address(make_address("169.254.169.254")));
  EXPECT_FALSE(NetworkPolicy::default_policy()->strict());
}

TEST(NetworkPolicy, DenyIpsReplacesTheDefaultAndEmptyTurnsItOff) {
  PolicySpec s;
  s.deny_ips = std::vector<std::string>{"127.0.0.2", "2001:db8::/32"};
  auto p = make(s);
  EXPECT_EQ(denied_address(*p, "127.0.0.2"), "127.0.0.2 is in deny_ips (127.0.0.2/32)");
  EXPECT_EQ(denied_address(*p, "::ffff:127.0.0.2"), "::ffff:127.0.0.2 is in deny_ips (127.0.0.2/32)");
  EXPECT_EQ(denied_address(*p, "2001:db8::9"), "2001:db8::9 is in deny_ips (2001:db8::/32)");
  EXPECT_EQ(p->deny_address(make_address("127.0.0.1")), std::nullopt);
  EXPECT_EQ(p->deny_address(make_address("169.254.169.254")), std::nullopt);  // default replaced

  s.deny_ips = std::vector<std::string>{};
  auto off = make(s);
  EXPECT_EQ(off->deny_address(make_address("169.254.169.254")), std::nullopt);
}

TEST(NetworkPolicy, DenyPrivateCoversPrivateLoopbackAndUlaIncludingMappedForms) {
  PolicySpec s;
  s.deny_private = true;
  auto p = make(s);
  const char* cases[][2] = {
      {"10.1.2.3", "10.0.0.0/8"},
      {"172.16.0.1", "172.16.0.0/12"},
      {"172.31.255.255", "172.16.0.0/12"},
      {"192.168.1.1", "192.168.0.0/16"},
      {"127.0.0.1", "127.0.0.0/8"},
      {"127.9.9.9", "127.0.0.0/8"},
      {"::1", "::1/128"},
      {"fc00::1", "fc00::/7"},
      {"fdff::1", "fc00::/7"},
      {"::ffff:10.0.0.1", "10.0.0.0/8"},
      {"::ffff:127.0.0.1", "127.0.0.0/8"},
      {"::ffff:192.168.0.9", "192.168.0.0/16"},
      {"0.0.0.0", "0.0.0.0/8"},
      {"::", "::/128"},
  };
  for (const auto& [addr, range] : cases)
    EXPECT_EQ(denied_address(*p, addr), std::string(addr) + " is a private address (deny_private: " + range + ")")
        << addr;
  for (const char* ok : {"172.32.0.1", "172.15.255.255", "11.0.0.1", "192.169.0.1", "2001:db8::1", "fe00::1"})
    EXPECT_EQ(p->deny_address(make_address(ok)), std::nullopt) << ok;
  // deny_ips still applies, and is named first.
  EXPECT_THAT(denied_address(*p, "169.254.169.254"), HasSubstr("deny_ips"));
}

TEST(NetworkPolicy, ExplicitAddressAllowExemptsFromDenyPrivateButNotDenyIps) {
  PolicySpec s = strict({"10.0.0.5:22", "192.168.7.0/24", "169.254.169.254", "internal.corp"});
  s.deny_private = true;
  auto p = make(s);
  EXPECT_EQ(p->deny_address(make_address("10.0.0.5")), std::nullopt);
  EXPECT_EQ(p->deny_address(make_address("192.168.7.40")), std::nullopt);
  EXPECT_TRUE(p->deny_address(make_address("10.0.0.6")));
  EXPECT_TRUE(p->deny_address(make_address("192.168.8.1")));
  EXPECT_THAT(denied_address(*p, "169.254.169.254"), HasSubstr("deny_ips"));
  // A name pattern exempts nothing: internal.corp resolving to 10.9.9.9 stays denied.
  EXPECT_TRUE(p->deny_address(make_address("10.9.9.9")));
}

TEST(NetworkPolicy, DescribeSaysModePatternsGrantsAndDenials) {
  auto p = make(strict({"a.example.com", "b.example.com"}, {"github", "npm"}));
  EXPECT_EQ(p->describe(), "strict, 2 patterns, grants github npm");
  PolicySpec s;
  s.deny_private = true;
  s.deny_ips = std::vector<std::string>{};
  EXPECT_EQ(make(s)->describe(), "permissive, 0 patterns, deny_ips off, deny_private");
  s.deny_ips = std::vector<std::string>{"127.0.0.2"};
  s.allow = {"x.example"};
  EXPECT_EQ(make(s)->describe(), "permissive, 1 pattern, deny_ips 1 prefixes, deny_private");
}

TEST(NetworkPolicy, TenThousandPatternsAndGrants) {
  std::vector<std::string> allow;
  for (int i = 0; i < 10000; ++i)
    allow.push_back(i % 2 ? "*.tenant" + std::to_string(i) + ".example.com" : "h" + std::to_string(i) + ".example.com");
  auto p = make(strict(allow, {"github"}));
  EXPECT_EQ(p->describe(), "strict, 10000 patterns, grants github");
  EXPECT_EQ(p->deny_host("h9998.example.com", 443), std::nullopt);
  EXPECT_EQ(p->deny_host("x.tenant9999.example.com", 443), std::nullopt);
  EXPECT_EQ(p->deny_host("api.github.com", 443), std::nullopt);
  EXPECT_TRUE(p->deny_host("h9999.example.com", 443));
  EXPECT_TRUE(p->deny_host("tenant9999.example.com", 443));
}

TEST(GrantCatalog, BuiltinsAreValidAndListed) {
  auto grants = GrantCatalog::builtin();
  auto names = grants.names();
  for (const char* n : {"anthropic", "aws", "crates", "docker", "github", "gitlab", "golang", "npm", "openai", "pypi"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  for (const auto& n : names) {
    auto hosts = grants.hosts(n);
    ASSERT_TRUE(hosts) << n;
    EXPECT_FALSE((*hosts)->empty()) << n;
    HostPatternSet set;
    for (const auto& h : **hosts) EXPECT_TRUE(set.add(h)) << n << ": " << h;
  }
}

TEST(GrantCatalog, DefineChecksNameAndHosts) {
  GrantCatalog grants;
  EXPECT_THAT(grants.define("Bad Name", {"x.example"}).error(), HasSubstr("'Bad Name'"));
  EXPECT_THAT(grants.define("a:b", {"x.example"}).error(), HasSubstr("'a:b'"));
  EXPECT_THAT(grants.define("ok", {"x.example", "no good"}).error(), HasSubstr("hosts[1]: 'no good'"));
  ASSERT_TRUE(grants.define("ok", {"X.Example."}));
  EXPECT_EQ(**grants.hosts("ok"), std::vector<std::string>{"x.example"});
  ASSERT_TRUE(grants.define("none", {}));  // an empty group grants nothing
  EXPECT_TRUE((*grants.hosts("none"))->empty());
}

}  // namespace
}  // namespace ferry
