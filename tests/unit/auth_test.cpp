// Auth codecs: challenge parsing, Basic, Digest (RFC 7616 §3.9.1 vectors).
#include <gtest/gtest.h>

#include "auth/basic_auth.h"
#include "auth/challenge.h"
#include "auth/digest_auth.h"

namespace ferry::auth {
namespace {

TEST(Challenge, SeveralChallengesInOneField) {
  std::vector<Challenge> cs;
  ASSERT_TRUE(parse_challenges(
      R"(Digest realm="r, with comma", nonce="abc", qop="auth,auth-int", Basic realm="b", Negotiate, NTLM TlRMTVNTUAACAAAA==)",
      cs));
  ASSERT_EQ(cs.size(), 4u);
  EXPECT_EQ(cs[0].scheme, "digest");
  EXPECT_EQ(cs[0].param("realm"), "r, with comma");
  EXPECT_EQ(cs[0].param("qop"), "auth,auth-int");
  EXPECT_EQ(cs[1].scheme, "basic");
  EXPECT_EQ(cs[1].param("realm"), "b");
  EXPECT_EQ(cs[2].scheme, "negotiate");
  EXPECT_TRUE(cs[2].token68.empty());
  EXPECT_EQ(cs[3].scheme, "ntlm");
  EXPECT_EQ(cs[3].token68, "TlRMTVNTUAACAAAA==");
}

TEST(Challenge, Token68WithPaddingAndEscapes) {
  std::vector<Challenge> cs;
  ASSERT_TRUE(parse_challenges(R"(Negotiate YIIC==)", cs));
  EXPECT_EQ(cs.at(0).token68, "YIIC==");
  cs.clear();
  ASSERT_TRUE(parse_challenges(R"(Basic realm="a \"quoted\" realm")", cs));
  EXPECT_EQ(cs.at(0).param("realm"), R"(a "quoted" realm)");
}

TEST(Challenge, RejectsSyntaxErrors) {
  for (const char* bad : {R"(Basic realm="unterminated)", "=x", "Negotiate abc def"}) {
    std::vector<Challenge> cs;
    EXPECT_FALSE(parse_challenges(bad, cs)) << bad;
  }
}

TEST(Basic, EncodesRfc7617Example) {
  EXPECT_EQ(basic_credentials("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  std::string decoded;
  ASSERT_TRUE(base64_decode("QWxhZGRpbjpvcGVuIHNlc2FtZQ==", decoded));
  EXPECT_EQ(decoded, "Aladdin:open sesame");
  EXPECT_FALSE(base64_decode("abc", decoded));
}

Challenge rfc7616_challenge(const char* algorithm) {
  std::vector<Challenge> cs;
  std::string v =
      std::string(R"(Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=)") + algorithm +
      R"(, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")";
  EXPECT_TRUE(parse_challenges(v, cs));
  return cs.at(0);
}

TEST(Digest, Rfc7616Md5Vector) {
  auto ch = parse_digest_challenge(rfc7616_challenge("MD5"));
  ASSERT_TRUE(ch);
  auto v = digest_credentials(*ch, "Mufasa", "Circle of Life", {"GET", "/dir/index.html"}, 1,
                              "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ");
  EXPECT_NE(v.find(R"(response="8ca523f5e9506fed4657c9700eebdbec")"), std::string::npos) << v;
  EXPECT_NE(v.find("nc=00000001"), std::string::npos);
  EXPECT_NE(v.find("qop=auth,"), std::string::npos);
  EXPECT_NE(v.find(R"(opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")"), std::string::npos);
  EXPECT_EQ(v.find("Circle of Life"), std::string::npos);
}

TEST(Digest, Rfc7616Sha256Vector) {
  auto ch = parse_digest_challenge(rfc7616_challenge("SHA-256"));
  ASSERT_TRUE(ch);
  auto v = digest_credentials(*ch, "Mufasa", "Circle of Life", {"GET", "/dir/index.html"}, 1,
                              "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ");
  EXPECT_NE(v.find(R"(response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")"), std::string::npos)
      << v;
}

TEST(Digest, StaleAndUnsupported) {
  std::vector<Challenge> cs;
  ASSERT_TRUE(parse_challenges(R"(Digest realm="r", nonce="n2", stale=TRUE, qop="auth")", cs));
  auto ch = parse_digest_challenge(cs[0]);
  ASSERT_TRUE(ch);
  EXPECT_TRUE(ch->stale);
  cs.clear();
  ASSERT_TRUE(parse_challenges(R"(Digest realm="r", nonce="n", qop="auth-int")", cs));
  EXPECT_FALSE(parse_digest_challenge(cs[0]));
  cs.clear();
  ASSERT_TRUE(parse_challenges(R"(Digest realm="r", nonce="n", algorithm=SHA-512-256)", cs));
  EXPECT_FALSE(parse_digest_challenge(cs[0]));
  cs.clear();
  ASSERT_TRUE(parse_challenges(R"(Digest realm="r")", cs));
  EXPECT_FALSE(parse_digest_challenge(cs[0]));
}

TEST(Digest, NoQopIsRfc2069Style) {
  std::vector<Challenge> cs;
  ASSERT_TRUE(parse_challenges(R"(Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093")", cs));
  auto ch = parse_digest_challenge(cs[0]);
  ASSERT_TRUE(ch);
  auto v = digest_credentials(*ch, "Mufasa", "CircleOfLife", {"GET", "/dir/index.html"}, 1, "x");
  // RFC 2069's example response.
  EXPECT_NE(v.find(R"(response="1949323746fe6a43ef61f9606e7febea")"), std::string::npos) << v;
  EXPECT_EQ(v.find("nc="), std::string::npos);
}

}  // namespace
}  // namespace ferry::auth
