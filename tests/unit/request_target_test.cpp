// Absolute-form and authority-form request targets.
#include "http/request_target.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace ferry::http {
namespace {

using testing::HasSubstr;
using testing::Not;

struct AbsCase {
  const char* target;
  bool tls;
  const char* host;
  uint16_t port;
  const char* origin_form;
  const char* host_header;
  const char* origin_key;
};

class AbsoluteTargetOk : public testing::TestWithParam<AbsCase> {};

TEST_P(AbsoluteTargetOk, Parses) {
  const auto& c = GetParam();
  auto t = parse_absolute_target(c.target);
  ASSERT_TRUE(t) << c.target << ": " << t.error();
  EXPECT_EQ(t->tls, c.tls) << c.target;
  EXPECT_EQ(t->authority.host, c.host) << c.target;
  EXPECT_EQ(t->authority.port, c.port) << c.target;
  EXPECT_EQ(t->origin_form, c.origin_form) << c.target;
  EXPECT_EQ(t->host_header(), c.host_header) << c.target;
  EXPECT_EQ(t->origin_key(), c.origin_key) << c.target;
}

INSTANTIATE_TEST_SUITE_P(
    All, AbsoluteTargetOk,
    testing::Values(
        AbsCase{"http://example.com/", false, "example.com", 80, "/", "example.com", "http://example.com:80"},
        AbsCase{"http://example.com", false, "example.com", 80, "/", "example.com", "http://example.com:80"},
        AbsCase{"https://example.com/a/b?c=d", true, "example.com", 443, "/a/b?c=d", "example.com",
                "https://example.com:443"},
        AbsCase{"HTTP://Example.COM/Path", false, "example.com", 80, "/Path", "example.com", "http://example.com:80"},
        AbsCase{"HtTpS://x.test/", true, "x.test", 443, "/", "x.test", "https://x.test:443"},
        AbsCase{"http://example.com:8080/x", false, "example.com", 8080, "/x", "example.com:8080",
                "http://example.com:8080"},
        AbsCase{"http://example.com:80/x", false, "example.com", 80, "/x", "example.com", "http://example.com:80"},
        AbsCase{"https://example.com:443/", true, "example.com", 443, "/", "example.com", "https://example.com:443"},
        AbsCase{"http://example.com:443/", false, "example.com", 443, "/", "example.com:443", "http://example.com:443"},
        AbsCase{"https://example.com:80/", true, "example.com", 80, "/", "example.com:80", "https://example.com:80"},
        AbsCase{"http://192.0.2.1:81/", false, "192.0.2.1", 81, "/", "192.0.2.1:81", "http://192.0.2.1:81"},
        AbsCase{"http://[::1]/", false, "::1", 80, "/", "[::1]", "http://[::1]:80"},
        AbsCase{"http://[2001:DB8::1]:8080/p", false, "2001:db8::1", 8080, "/p", "[2001:db8::1]:8080",
                "http://[2001:db8::1]:8080"},
        AbsCase{"https://[::1]:443", true, "::1", 443, "/", "[::1]", "https://[::1]:443"},
        AbsCase{"http://example.com?q=1", false, "example.com", 80, "/?q=1", "example.com", "http://example.com:80"},
        AbsCase{"http://example.com:81?q", false, "example.com", 81, "/?q", "example.com:81", "http://example.com:81"},
        AbsCase{"http://example.com/p@q", false, "example.com", 80, "/p@q", "example.com", "http://example.com:80"}),
    [](const testing::TestParamInfo<AbsCase>& i) { return "Case" + std::to_string(i.index); });

TEST(ParseAbsoluteTarget, OriginFormRejectedWithAdvice) {
  auto t = parse_absolute_target("/index.html");
  ASSERT_FALSE(t);
  EXPECT_THAT(t.error(), HasSubstr("not absolute"));
  EXPECT_THAT(t.error(), HasSubstr("proxy"));
}

TEST(ParseAbsoluteTarget, Rejections) {
  const char* bad[] = {
      "",
      "*",
      "ftp://example.com/",
      "ws://example.com/",
      "http:/example.com/",
      "http//example.com/",
      "example.com:80",
      "http://example.com/#frag",
      "http://example.com#frag",
      "http://user@example.com/",
      "http://user:pass@example.com/",
      "http://@example.com/",
      "http:///path",
      "http://",
      "http://example.com:0/",
      "http://example.com:65536/",
      "http://example.com:abc/",
      "http://example.com:/",
      "http://example.com:-1/",
      "http://example.com:8080:90/",
      "http://::1/",
      "http://[::1/",
      "http://[not-v6]/",
      "http://exa mple.com/",
      "http://exa%41mple.com/",
  };
  for (const char* t : bad) EXPECT_FALSE(parse_absolute_target(t)) << t;
}

TEST(ParseAbsoluteTarget, UserinfoErrorDoesNotEchoSecret) {
  auto t = parse_absolute_target("http://user:hunter2@example.com/");
  ASSERT_FALSE(t);
  EXPECT_THAT(t.error(), HasSubstr("userinfo"));
  EXPECT_THAT(t.error(), Not(HasSubstr("hunter2")));
}

TEST(ParseAuthorityTarget, Valid) {
  auto a = parse_authority_target("Example.com:443");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->host, "example.com");
  EXPECT_EQ(a->port, 443);
  auto v6 = parse_authority_target("[2001:db8::1]:8443");
  ASSERT_TRUE(v6) << v6.error();
  EXPECT_EQ(v6->host, "2001:db8::1");
  EXPECT_EQ(v6->port, 8443);
  auto v4 = parse_authority_target("192.0.2.1:22");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->to_string(), "192.0.2.1:22");
}

TEST(ParseAuthorityTarget, Rejections) {
  for (const char* t : {"example.com", "example.com:", "example.com:0", "example.com:99999", "user@example.com:443",
                        "user:pw@example.com:443", "http://example.com:443", "/path", "::1:443", "[::1]", "", ":443",
                        "example.com:443/x"}) {
    EXPECT_FALSE(parse_authority_target(t)) << t;
  }
}

TEST(LoggableTarget, StripsUserinfoAndQuery) {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"http://example.com/path", "http://example.com/path"},
      {"http://example.com/path?token=secret", "http://example.com/path?…"},
      {"http://user:secret@example.com/path", "http://example.com/path"},
      {"https://user:secret@example.com:8443/p?q=1", "https://example.com:8443/p?…"},
      {"http://u:p@ss@example.com/", "http://example.com/"},
      {"http://user:secret@example.com", "http://example.com"},
      {"http://example.com/p#frag", "http://example.com/p?…"},
      {"http://example.com/a@b", "http://example.com/a@b"},
      {"example.com:443", "example.com:443"},
      {"user:secret@example.com:443", "example.com:443"},
      {"/origin/form?x=1", "/origin/form?…"},
  };
  for (const auto& c : cases) EXPECT_EQ(loggable_target(c.in), c.out) << c.in;
}

}  // namespace
}  // namespace ferry::http
