// [policy] and [grants] from TOML: accepted tables, and errors that name the
// key path and the value.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

#include "config/policy_config.h"

namespace ferry {
namespace {

using boost::asio::ip::make_address;
using testing::HasSubstr;
using testing::StartsWith;

struct Parsed {
  toml::table root;
  Expected<GrantCatalog> grants = GrantCatalog{};
  Expected<std::shared_ptr<const NetworkPolicy>> policy = std::shared_ptr<const NetworkPolicy>{};
};

// Parses a whole file's text: [grants] first, then [policy] (or the table at `policy_path`).
Parsed load(std::string_view text, std::string_view policy_path = "policy") {
  Parsed out;
  out.root = toml::parse(text);
  out.grants = parse_grants(out.root["grants"].as_table());
  if (!out.grants) return out;
  const auto* table = out.root.at_path(policy_path).as_table();
  EXPECT_NE(table, nullptr) << policy_path;
  if (table) out.policy = parse_policy(*table, *out.grants, policy_path);
  return out;
}

std::string policy_error(std::string_view text) {
  auto p = load(text);
  EXPECT_TRUE(p.grants) << p.grants.error();
  EXPECT_FALSE(p.policy) << text;
  return p.policy ? "" : p.policy.error();
}

TEST(PolicyConfig, SpecSketchParses) {
  auto p = load(R"(
[policy]
mode = "strict"
allow = ["api.github.com", "*.githubusercontent.com"]
grants = ["github"]
deny_private = true
)");
  ASSERT_TRUE(p.policy) << p.policy.error();
  const auto& policy = **p.policy;
  EXPECT_TRUE(policy.strict());
  EXPECT_EQ(policy.describe(), "strict, 2 patterns, grants github, deny_private");
  EXPECT_EQ(policy.deny_host("codeload.github.com", 443), std::nullopt);
  EXPECT_TRUE(policy.deny_host("registry.npmjs.org", 443));
  EXPECT_TRUE(policy.deny_address(make_address("192.168.1.1")));
  EXPECT_TRUE(policy.deny_address(make_address("169.254.169.254")));
}

TEST(PolicyConfig, ProfileInlinePolicyAndItsKeyPath) {
  auto p = load(R"(
[profiles.ci]
policy = { mode = "strict", allow = ["registry.npmjs.org"] }
)",
                "profiles.ci.policy");
  ASSERT_TRUE(p.policy) << p.policy.error();
  EXPECT_EQ((*p.policy)->deny_host("registry.npmjs.org", 443), std::nullopt);
  EXPECT_TRUE((*p.policy)->deny_host("pypi.org", 443));

  auto bad = load(R"(
[profiles.ci]
policy = { mode = "strict", allow = ["ok.example", 7] }
)",
                  "profiles.ci.policy");
  ASSERT_FALSE(bad.policy);
  EXPECT_EQ(bad.policy.error(), "profiles.ci.policy.allow[1]: must be a string");
}

TEST(PolicyConfig, DenyIpsAbsentDefaultPresentReplacesEmptyTurnsOff) {
  auto absent = load("[policy]\n");
  ASSERT_TRUE(absent.policy) << absent.policy.error();
  EXPECT_FALSE((*absent.policy)->strict());
  EXPECT_TRUE((*absent.policy)->deny_address(make_address("169.254.169.254")));

  auto replaced = load("[policy]\ndeny_ips = [\"127.0.0.2\"]\n");
  ASSERT_TRUE(replaced.policy) << replaced.policy.error();
  EXPECT_TRUE((*replaced.policy)->deny_address(make_address("127.0.0.2")));
  EXPECT_FALSE((*replaced.policy)->deny_address(make_address("169.254.169.254")));

  auto off = load("[policy]\ndeny_ips = []\n");
  ASSERT_TRUE(off.policy) << off.policy.error();
  EXPECT_FALSE((*off.policy)->deny_address(make_address("169.254.169.254")));
}

TEST(PolicyConfig, ErrorsNameTheKeyAndTheValue) {
  EXPECT_EQ(policy_error("[policy]\nmode = \"strikt\"\n"), "policy.mode: \"strikt\" is not permissive or strict");
  EXPECT_EQ(policy_error("[policy]\nmode = 1\n"), "policy.mode: must be \"permissive\" or \"strict\"");
  EXPECT_THAT(policy_error("[policy]\nmode = \"strict\"\nallow = [\"a.example\", \"b.example\", \"c.example\", "
                           "\"bad host\"]\n"),
              StartsWith("policy.allow[3]: 'bad host' is not a host name"));
  EXPECT_EQ(policy_error("[policy]\nmode = \"strict\"\nallow = \"a.example\"\n"),
            "policy.allow: must be an array of strings");
  EXPECT_THAT(policy_error("[policy]\nmode = \"strict\"\ngrants = [\"gihub\"]\n"),
              StartsWith("policy.grants[0]: unknown grant 'gihub' (known: anthropic, aws,"));
  EXPECT_THAT(policy_error("[policy]\ndeny_ips = [\"10.0.0.0/8\", \"169.254.0.0/99\"]\n"),
              StartsWith("policy.deny_ips[1]: '169.254.0.0/99'"));
  EXPECT_EQ(policy_error("[policy]\ndeny_private = \"yes\"\n"), "policy.deny_private: must be true or false");
  EXPECT_THAT(policy_error("[policy]\nmode = \"strict\"\nalow = [\"a.example\"]\n"),
              StartsWith("policy.alow: unknown key"));
  // An allow list under no mode would silently allow everything.
  EXPECT_THAT(policy_error("[policy]\nallow = [\"a.example\"]\n"), StartsWith("policy.mode: missing"));
  EXPECT_THAT(policy_error("[policy]\ngrants = [\"github\"]\n"), StartsWith("policy.mode: missing"));
}

TEST(PolicyConfig, GrantsTableAddsAndReplacesGroups) {
  auto p = load(R"(
[grants.internal]
hosts = ["git.corp", "*.artifacts.corp:443"]
[grants.github]
hosts = ["ghe.corp"]
[policy]
mode = "strict"
grants = ["internal", "github:repo", "npm"]
)");
  ASSERT_TRUE(p.grants) << p.grants.error();
  ASSERT_TRUE(p.policy) << p.policy.error();
  const auto& policy = **p.policy;
  EXPECT_EQ(policy.deny_host("git.corp", 22), std::nullopt);
  EXPECT_EQ(policy.deny_host("a.artifacts.corp", 443), std::nullopt);
  EXPECT_EQ(policy.deny_host("ghe.corp", 443), std::nullopt);
  EXPECT_EQ(policy.deny_host("registry.npmjs.org", 443), std::nullopt);  // built-ins remain
  EXPECT_TRUE(policy.deny_host("api.github.com", 443));                  // replaced
  ASSERT_NE(policy.allowed_by("ghe.corp", 443), nullptr);
  EXPECT_EQ(*policy.allowed_by("ghe.corp", 443), "ghe.corp (grant github:repo)");
}

TEST(PolicyConfig, NoGrantsTableMeansBuiltinsOnly) {
  auto grants = parse_grants(nullptr);
  ASSERT_TRUE(grants);
  EXPECT_TRUE(grants->hosts("github"));
  EXPECT_FALSE(grants->hosts("internal"));
}

TEST(PolicyConfig, GrantsErrorsNameTheKey) {
  auto error = [](std::string_view text) {
    auto root = toml::parse(text);
    auto g = parse_grants(root["grants"].as_table());
    EXPECT_FALSE(g) << text;
    return g ? "" : g.error();
  };
  EXPECT_EQ(error("[grants]\nx = 1\n"), "grants.x: must be a table: [grants.x] hosts = [\"host\", \"*.domain\"]");
  EXPECT_EQ(error("[grants.x]\nhost = [\"a.example\"]\n"), "grants.x.host: unknown key (a grant has hosts)");
  EXPECT_EQ(error("[grants.x]\n"), "grants.x.hosts: missing");
  EXPECT_EQ(error("[grants.x]\nhosts = \"a.example\"\n"), "grants.x.hosts: must be an array of strings");
  EXPECT_THAT(error("[grants.x]\nhosts = [\"a.example\", \"*\"]\n"), StartsWith("grants.x.hosts[1]: '*'"));
  EXPECT_THAT(error("[grants.\"Big Name\"]\nhosts = []\n"),
              StartsWith("grants.Big Name: 'Big Name' is not a grant name"));
}

}  // namespace
}  // namespace ferry
