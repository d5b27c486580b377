// SigV4 against vectors computed by botocore's own signer
// (botocore.auth.SigV4Auth at a frozen time), recorded from:
//   python3 tests/unit/sigv4_vectors.py
#include "aws/sigv4.h"

#include <gtest/gtest.h>

#include <chrono>

namespace ferry::aws {
namespace {

// 2026-12-03T19:30:05Z, the FROZEN time of sigv4_vectors.py.
std::chrono::system_clock::time_point frozen() {
  using namespace std::chrono;
  return sys_days{year{2026} / December / 3} + hours{19} + minutes{30} + seconds{5};
}

AwsCredentials creds(std::string id, std::string secret, std::string token) {
  AwsCredentials c;
  c.access_key_id = std::move(id);
  c.secret_access_key = Secret(std::move(secret));
  c.session_token = Secret(std::move(token));
  return c;
}

std::string field(const HeaderList& h, std::string_view name) {
  for (const auto& [n, v] : h)
    if (n == name) return v;
  return "<absent>";
}

const std::string kStsBody =
    "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
    "&RoleSessionName=ferry&DurationSeconds=3600";

TEST(SigV4Test, StsAssumeRoleWithSessionTokenMatchesBotocore) {
  SigningRequest req;
  req.method = "POST";
  req.host = "sts.us-east-1.amazonaws.com";
  req.path = "/";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  req.payload = kStsBody;
  const auto c = creds("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "FwoGZXIvYXdzEBYaDH+token/==");
  const HeaderList added = sigv4_sign(req, {"us-east-1", "sts"}, c, frozen());

  EXPECT_EQ(field(added, "X-Amz-Date"), "20261203T193005Z");
  EXPECT_EQ(field(added, "X-Amz-Security-Token"), "FwoGZXIvYXdzEBYaDH+token/==");
  EXPECT_EQ(field(added, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261203/us-east-1/sts/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "
            "Signature=a153c04fa0b3ef46e9aa1615fab0d5bdac21e80e6cb434eeff9bc646175ea15b");
  EXPECT_EQ(sigv4_canonical_request(req, {{"X-Amz-Date", "20261203T193005Z"},
                                          {"X-Amz-Security-Token", "FwoGZXIvYXdzEBYaDH+token/=="}}),
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\n"
            "host:sts.us-east-1.amazonaws.com\nx-amz-date:20261203T193005Z\n"
            "x-amz-security-token:FwoGZXIvYXdzEBYaDH+token/==\n\n"
            "content-type;host;x-amz-date;x-amz-security-token\n"
            "357bbb9d18cb11d2cd1bf1790938dc5c66a4d4a8c09fe4cfe34bd79c66226a6c");
  EXPECT_EQ(added.back().first, "Authorization");
}

TEST(SigV4Test, QueryPathPortAndWhitespaceMatchBotocore) {
  SigningRequest req;
  req.method = "GET";
  req.host = "127.0.0.1:8443";
  req.path = "/a%20b/c~d%2Fe";  // encoded once more: %2520, %252F
  req.query = {{"b", "2 3"}, {"a", "x/y:z"}, {"A", "\xc3\xa9"}};
  req.headers = {{"X-Custom", "  two   spaces\there  "}, {"Content-Type", "text/plain"}};
  const auto c = creds("AKIAIOSFODNN7EXAMPLE", "secret+/key", "");
  const HeaderList added = sigv4_sign(req, {"eu-west-3", "execute-api"}, c, frozen());

  EXPECT_EQ(field(added, "X-Amz-Security-Token"), "<absent>");
  EXPECT_EQ(added.size(), 2u);
  EXPECT_EQ(field(added, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261203/eu-west-3/execute-api/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date;x-custom, "
            "Signature=9fd90fbcbc5df6b4130c9441d4b80ccfb2ff4ca4636c2c5c936d532c885988a9");
  EXPECT_EQ(sigv4_canonical_request(req, {{"X-Amz-Date", "20261203T193005Z"}}),
            "GET\n/a%2520b/c~d%252Fe\nA=%C3%A9&a=x%2Fy%3Az&b=2%203\ncontent-type:text/plain\n"
            "host:127.0.0.1:8443\nx-amz-date:20261203T193005Z\nx-custom:two spaces here\n\n"
            "content-type;host;x-amz-date;x-custom\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SigV4Test, AnotherSecretOrTimeChangesTheSignature) {
  SigningRequest req;
  req.host = "sts.us-east-1.amazonaws.com";
  const auto a = sigv4_sign(req, {"us-east-1", "sts"}, creds("AKID", "one", ""), frozen());
  const auto b = sigv4_sign(req, {"us-east-1", "sts"}, creds("AKID", "two", ""), frozen());
  const auto t = sigv4_sign(req, {"us-east-1", "sts"}, creds("AKID", "one", ""), frozen() + std::chrono::seconds(1));
  EXPECT_NE(field(a, "Authorization"), field(b, "Authorization"));
  EXPECT_NE(field(a, "Authorization"), field(t, "Authorization"));
  EXPECT_EQ(field(a, "Authorization").find("one"), std::string::npos);
}

TEST(SigV4Test, RepeatedHeaderNamesJoinWithComma) {
  SigningRequest req;
  req.host = "h";
  req.headers = {{"X-A", "1"}, {"x-a", " 2 "}};
  EXPECT_EQ(sigv4_canonical_request(req, {}), "GET\n/\n\nhost:h\nx-a:1,2\n\nhost;x-a\n" + sha256_hex(""));
}

TEST(SigV4Test, UriEncode) {
  EXPECT_EQ(uri_encode("aZ09-_.~ /+=%", true), "aZ09-_.~%20%2F%2B%3D%25");
  EXPECT_EQ(uri_encode("/a b/", false), "/a%20b/");
}

}  // namespace
}  // namespace ferry::aws
