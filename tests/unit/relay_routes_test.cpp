// Relay routes (SPEC §7 "Relays"): which origin-form paths map to which
// target, and which paths are refused as traversal.
#include "routing/relay_routes.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

std::vector<RelayRoute> routes() {
  std::vector<RelayRoute> out;
  out.push_back(*make_relay_route("relay", "api", "https://api.example.com/v2/"));
  out.push_back(*make_relay_route("mcp", "tools", "http://mcp.example.com:8080"));
  return out;
}

std::string mapped(std::string_view path) {
  auto r = relay_target(routes(), path);
  if (!r) return "(no route)";
  if (!*r) return "refused: " + r->error().details;
  return std::string((*r)->tls ? "https://" : "http://") + (*r)->host_header() + (*r)->origin_form;
}

TEST(RelayRoutes, MapsPathsAndQueriesOntoTheTarget) {
  EXPECT_EQ(mapped("/relay/api/users/1?fields=a,b"), "https://api.example.com/v2/users/1?fields=a,b");
  EXPECT_EQ(mapped("/relay/api"), "https://api.example.com/v2/");
  EXPECT_EQ(mapped("/relay/api?x=1"), "https://api.example.com/v2/?x=1");
  EXPECT_EQ(mapped("/mcp/tools/sse"), "http://mcp.example.com:8080/sse");
  EXPECT_EQ(mapped("/mcp/tools"), "http://mcp.example.com:8080/");
}

TEST(RelayRoutes, OnlyWholeNamesMatch) {
  EXPECT_EQ(mapped("/relay/apix/users"), "(no route)");
  EXPECT_EQ(mapped("/relay/ap"), "(no route)");
  EXPECT_EQ(mapped("/other/api/users"), "(no route)");
  EXPECT_EQ(mapped("http://api.example.com/"), "(no route)");
}

TEST(RelayRoutes, TraversalIsRefused) {
  for (const char* path :
       {"/relay/api/../admin", "/relay/api/a/..", "/relay/api/./a", "/relay/api/a/%2e%2e/b", "/relay/api/%2E%2E",
        "/relay/api/a%2fb", "/relay/api/a%2Fb", "/relay/api/a%5cb", "/relay/api/a\\b", "/relay/api/a%00b",
        "/relay/api/a\tb", "/relay/api/..;x/admin", "/relay/api/a/.;/b"}) {
    SCOPED_TRACE(path);
    EXPECT_TRUE(mapped(path).starts_with("refused: relay path refused")) << mapped(path);
  }
  // Dots inside names and in the query are fine.
  EXPECT_EQ(mapped("/relay/api/file.v1..tar?next=../x"), "https://api.example.com/v2/file.v1..tar?next=../x");
}

TEST(RelayRoutes, BadConfigEntriesAreErrors) {
  EXPECT_FALSE(make_relay_route("relay", "", "http://x.test/"));
  EXPECT_FALSE(make_relay_route("relay", "a/b", "http://x.test/"));
  EXPECT_FALSE(make_relay_route("relay", "a", "ftp://x.test/"));
  EXPECT_FALSE(make_relay_route("relay", "a", "/relative"));
  EXPECT_FALSE(make_relay_route("relay", "a", "http://x.test/?q=1"));
  auto ok = make_relay_route("relay", "a-b_c.d", "http://x.test/base///");
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->prefix, "/relay/a-b_c.d");
  EXPECT_EQ(ok->base.origin_form, "/base");
}

}  // namespace
}  // namespace ferry
