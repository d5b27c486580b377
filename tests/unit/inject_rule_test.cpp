// HostPattern, InjectRule matching, header name checks, resolve_rule.
#include "intercept/inject_rule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ferry {
namespace {

using testing::HasSubstr;
using testing::Not;

HostPattern pattern(std::string_view text) {
  auto p = HostPattern::parse(text);
  EXPECT_TRUE(p) << text << ": " << (p ? "" : p.error());
  return p ? *p : HostPattern{};
}

const SecretValue::EnvLookup kNoEnv = [](const std::string&) { return std::optional<std::string>(); };

SecretValue literal(std::string_view text) { return SecretValue::parse(text, kNoEnv).value(); }

TEST(HostPattern, ExactNamesIgnoreCaseAndTrailingDot) {
  auto p = pattern("API.GitHub.com.");
  EXPECT_EQ(p.to_string(), "api.github.com");
  EXPECT_TRUE(p.matches("api.github.com"));
  EXPECT_TRUE(p.matches("API.GITHUB.COM"));
  EXPECT_TRUE(p.matches("api.github.com."));
  EXPECT_FALSE(p.matches("github.com"));
  EXPECT_FALSE(p.matches("x.api.github.com"));
  EXPECT_FALSE(p.matches("api.github.com.evil"));
}

TEST(HostPattern, WildcardMatchesBelowOnALabelBoundaryButNotTheApex) {
  auto p = pattern("*.Example.com");
  EXPECT_EQ(p.to_string(), "*.example.com");
  EXPECT_TRUE(p.matches("a.example.com"));
  EXPECT_TRUE(p.matches("a.b.example.com"));
  EXPECT_TRUE(p.matches("A.EXAMPLE.COM."));
  EXPECT_FALSE(p.matches("example.com")) << "the apex needs its own rule";
  EXPECT_FALSE(p.matches("badexample.com")) << "label boundary";
  EXPECT_FALSE(p.matches(".example.com"));
  EXPECT_FALSE(p.matches("example.com.evil"));
}

TEST(HostPattern, IpLiteralsMatchTheSameAddress) {
  auto v4 = pattern("127.0.0.1");
  EXPECT_TRUE(v4.matches("127.0.0.1"));
  EXPECT_FALSE(v4.matches("127.0.0.2"));
  auto v6 = pattern("[::1]");
  EXPECT_EQ(v6.to_string(), "[::1]");
  EXPECT_TRUE(v6.matches("::1"));
  EXPECT_TRUE(v6.matches("[::1]"));
  EXPECT_TRUE(v6.matches("0:0:0:0:0:0:0:1"));
  EXPECT_FALSE(v6.matches("::2"));
  EXPECT_TRUE(pattern("2001:DB8::1").matches("[2001:db8:0::1]"));
  // Name patterns never match an address.
  EXPECT_FALSE(pattern("*.0.0.1").matches("10.0.0.1"));
  EXPECT_FALSE(pattern("*.1").matches("::1"));
}

TEST(HostPattern, RoundTrips) {
  for (const char* text : {"api.github.com", "*.example.com", "10.1.2.3", "[2001:db8::1]", "a_b.internal", "a-b.c"})
    EXPECT_EQ(pattern(pattern(text).to_string()), pattern(text)) << text;
}

TEST(HostPattern, RejectsNonsense) {
  for (const char* bad : {"", "*", "*.", "a*.example.com", "*.1.2.3.4", "exa mple.com", "a..b", "[nothost]",
                          "https://api.github.com", "host:443", "-", "-a.com", "a-.com"})
    EXPECT_FALSE(HostPattern::parse(bad)) << bad;
}

std::shared_ptr<const InjectRule> rule(size_t number, std::string_view host, uint16_t port = 443,
                                       std::optional<std::pair<std::string, std::string>> header = std::nullopt) {
  InjectRule r;
  r.number = number;
  r.host = pattern(host);
  r.port = port;
  r.origin = "ferry.toml:" + std::to_string(number * 10);
  if (header) r.header = HeaderValue{header->first, literal(header->second)};
  return std::make_shared<const InjectRule>(std::move(r));
}

TEST(MatchingRules, AllMatchingRulesInFileOrder) {
  InjectRules rules{rule(1, "*.github.com"), rule(2, "api.github.com", 8443), rule(3, "api.github.com"),
                    rule(4, "example.com")};
  auto m = matching_rules(rules, "api.github.com", 443);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0]->number, 1u);
  EXPECT_EQ(m[1]->number, 3u);
  auto other_port = matching_rules(rules, "API.github.com", 8443);
  ASSERT_EQ(other_port.size(), 1u);
  EXPECT_EQ(other_port[0]->number, 2u);
  EXPECT_TRUE(matching_rules(rules, "github.com", 443).empty());
}

TEST(RuleHeaderName, TokenAndNotManagedByFerry) {
  EXPECT_TRUE(check_rule_header_name("Authorization"));
  EXPECT_TRUE(check_rule_header_name("x-api-key"));
  EXPECT_TRUE(check_rule_header_name("Cookie"));
  for (const char* bad : {"", "Bad Name", "X:Y", "Host", "content-length", "Transfer-Encoding", "Connection",
                          "Proxy-Authorization", "Upgrade", "Ä"})
    EXPECT_FALSE(check_rule_header_name(bad)) << bad;
}

TEST(InjectRule, DescribeShowsNamesAndReferencesNeverValues) {
  auto r = rule(2, "api.github.com", 443, std::pair<std::string, std::string>{"Authorization", "Bearer ghp_LITERAL"});
  const auto text = r->describe();
  EXPECT_EQ(text, "rule 2 (ferry.toml:20): api.github.com:443, header Authorization = <literal>");
  EXPECT_THAT(text, Not(HasSubstr("ghp_LITERAL")));
  EXPECT_FALSE(r->may_block());
}

TEST(ResolveRule, ResolvesEveryValue) {
  InjectRule r;
  r.number = 1;
  r.host = pattern("api.example.com");
  r.header = HeaderValue{"Authorization", literal("Bearer a")};
  r.add_headers.push_back(HeaderValue{"X-Version", literal("2024")});
  r.substitute = Substitution{"PH", literal("real")};
  auto shared = std::make_shared<const InjectRule>(std::move(r));
  auto resolved = resolve_rule(shared);
  ASSERT_TRUE(resolved) << resolved.error();
  EXPECT_EQ(resolved->header->view(), "Bearer a");
  ASSERT_EQ(resolved->add_headers.size(), 1u);
  EXPECT_EQ(resolved->add_headers[0].view(), "2024");
  EXPECT_EQ(resolved->substitute->view(), "real");
}

TEST(ResolveRule, ErrorNamesTheRuleAndTheReference) {
  InjectRule r;
  r.number = 4;
  r.origin = "f.toml:9";
  r.host = pattern("api.example.com");
  r.header = HeaderValue{"Authorization", SecretValue::parse("${exec:exit 7}", kNoEnv).value()};
  auto shared = std::make_shared<const InjectRule>(std::move(r));
  EXPECT_TRUE(shared->may_block());
  auto resolved = resolve_rule(shared);
  ASSERT_FALSE(resolved);
  EXPECT_THAT(resolved.error(), HasSubstr("rule 4 (f.toml:9)"));
  EXPECT_THAT(resolved.error(), HasSubstr("header Authorization"));
  EXPECT_THAT(resolved.error(), HasSubstr("status 7"));
}

}  // namespace
}  // namespace ferry
