// STS AssumeRole: the signed request, the strict XML reader, the answer
// (credentials, STS errors, malformed documents), ISO 8601 times, and the
// whole call against a local TLS stand-in.
#include "aws/sts_assume_role.h"

#include <gtest/gtest.h>

#include "aws/aws_time.h"
#include "aws/xml_extract.h"
#include "fetch_bed.h"

namespace ferry::aws {
namespace {

using ferry::testing::FetchBed;
using ferry::testing::FixedResolver;

const std::string kOk =
    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleResult>\n"
    "    <SourceIdentity>x</SourceIdentity>\n"
    "    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/demo/ferry</Arn>"
    "<AssumedRoleId>ARO123:ferry</AssumedRoleId></AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\n"
    "      <SecretAccessKey>sec/ret+key</SecretAccessKey>\n"
    "      <SessionToken>tok&amp;en==</SessionToken>\n"
    "      <Expiration>2026-12-03T20:30:05Z</Expiration>\n"
    "    </Credentials>\n"
    "    <PackedPolicySize>6</PackedPolicySize>\n"
    "  </AssumeRoleResult>\n"
    "  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>\n"
    "</AssumeRoleResponse>\n";

const std::string kDenied =
    "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>\n"
    "  <Message>The request signature we calculated does not match the signature you provided.</Message></Error>\n"
    "  <RequestId>1</RequestId>\n"
    "</ErrorResponse>";

SystemTime at(int h, int m, int s) {
  using namespace std::chrono;
  return sys_days{year{2026} / December / 3} + hours{h} + minutes{m} + seconds{s};
}

TEST(StsAssumeRole, ParsesTheCredentials) {
  auto c = parse_assume_role_response(200, "<?xml version=\"1.0\"?>\n" + kOk);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->access_key_id, "ASIAEXAMPLE");
  EXPECT_EQ(c->secret_access_key.view(), "sec/ret+key");
  EXPECT_EQ(c->session_token.view(), "tok&en==");
  ASSERT_TRUE(c->expiration);
  EXPECT_EQ(*c->expiration, at(20, 30, 5));
}

TEST(StsAssumeRole, StsErrorsNameCodeAndMessage) {
  auto c = parse_assume_role_response(403, kDenied);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(),
            "STS answered 403 SignatureDoesNotMatch: The request signature we calculated does not match the "
            "signature you provided.");
  c = parse_assume_role_response(503, "<html>busy");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), "STS answered 503");
}

TEST(StsAssumeRole, MalformedOrIncompleteAnswersAreRefusedWithoutTheSecret) {
  const std::vector<std::string> bad = {
      kOk.substr(0, kOk.size() - 10),  // unclosed
      "<AssumeRoleResponse><AssumeRoleResult></AssumeRoleResult></AssumeRoleResponse>",
      std::string(kOk).replace(kOk.find("<SessionToken>"), 14, "<SessionTokn>"),  // mismatched
      std::string(kOk).replace(kOk.find("2026-12-03T20"), 13, "tomorrow at 8"),
      std::string(kOk).replace(kOk.find("&amp;"), 5, "&bogus;"),
      "<!DOCTYPE x [<!ENTITY a \"b\">]>" + kOk,
      kOk + "<Another/>",
      std::string(kOk).replace(kOk.find("ASIAEXAMPLE"), 11, "<![CDATA[x]]>"),
  };
  for (const auto& doc : bad) {
    auto c = parse_assume_role_response(200, doc);
    ASSERT_FALSE(c) << doc;
    EXPECT_EQ(c.error().find("sec/ret"), std::string::npos) << c.error();
    EXPECT_EQ(c.error().find("tok"), std::string::npos) << c.error();
  }
}

TEST(XmlExtract, EntitiesAttributesCommentsAndDepth) {
  auto doc = parse_xml("<a x='1' y=\"2\"><!-- c --><b>&lt;&#65;&#x42;&quot;</b><p:c/></a>");
  ASSERT_TRUE(doc) << doc.error();
  EXPECT_EQ(doc->find("b")->text, "<AB\"");
  EXPECT_NE(doc->find("c"), nullptr);
  EXPECT_EQ(doc->find("b/none"), nullptr);
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "<d>";
  for (int i = 0; i < 40; ++i) deep += "</d>";
  EXPECT_FALSE(parse_xml(deep));
  EXPECT_FALSE(parse_xml("<a>&#0;</a>"));
  EXPECT_FALSE(parse_xml("<a><?pi x?></a>"));
  EXPECT_FALSE(parse_xml("<a>1 > 0</a>"));
  EXPECT_FALSE(parse_xml("text<a/>"));
  EXPECT_FALSE(parse_xml(""));
}

TEST(AwsTime, ParsesAndFormatsIso8601) {
  EXPECT_EQ(*parse_iso8601("2026-12-03T19:30:05Z"), at(19, 30, 5));
  EXPECT_EQ(*parse_iso8601("2026-12-03T19:30:05.123Z"), at(19, 30, 5));
  EXPECT_EQ(*parse_iso8601("2026-12-03T21:30:05+02:00"), at(19, 30, 5));
  EXPECT_EQ(format_iso8601(at(19, 30, 5)), "2026-12-03T19:30:05Z");
  for (const char* bad : {"2026-12-03T19:30:05", "2026-13-03T19:30:05Z", "2026-12-03 19:30:05Z", "x",
                          "2026-12-03T19:30:05Zjunk", "2026-02-30T00:00:00Z"})
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
}

AssumeRoleParams params() {
  AssumeRoleParams p;
  p.role_arn = "arn:aws:iam::123456789012:role/demo";
  p.region = "us-east-1";
  p.duration = std::chrono::seconds(900);
  p.external_id = "ext id";
  return p;
}

AwsCredentials base() {
  AwsCredentials c;
  c.access_key_id = "AKIDBASE";
  c.secret_access_key = Secret("base-secret");
  c.session_token = Secret("base-token");
  return c;
}

TEST(StsAssumeRole, TheRequestIsASignedForm) {
  auto p = params();
  EXPECT_EQ(sts_url(p), "https://sts.us-east-1.amazonaws.com/");
  EXPECT_EQ(assume_role_body(p),
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
            "&RoleSessionName=ferry&DurationSeconds=900&ExternalId=ext%20id");
  auto req = assume_role_request(p, base(), at(19, 30, 5));
  ASSERT_TRUE(req) << req.error();
  EXPECT_EQ(req->method, "POST");
  ASSERT_EQ(req->headers.size(), 4u);
  EXPECT_EQ(req->headers[0].first, "Content-Type");
  EXPECT_EQ(req->headers[1], (std::pair<std::string, std::string>{"X-Amz-Date", "20261203T193005Z"}));
  EXPECT_EQ(req->headers[2], (std::pair<std::string, std::string>{"X-Amz-Security-Token", "base-token"}));
  EXPECT_EQ(req->headers[3].second.rfind("AWS4-HMAC-SHA256 Credential=AKIDBASE/20261203/us-east-1/sts/aws4_request, "
                                         "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, ",
                                         0),
            0u);
  p.sts_endpoint = "https://127.0.0.1:1/?a=b";
  EXPECT_FALSE(assume_role_request(p, base(), at(19, 30, 5)));
}

TEST(StsAssumeRole, CallsTheEndpointAlongTheRoute) {
  FetchBed bed;
  bed.respond = [](const std::string&) {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: " + std::to_string(kOk.size()) + "\r\n\r\n" +
           kOk;
  };
  FixedResolver resolver;
  auto p = params();
  p.sts_endpoint = bed.url();
  Expected<AwsCredentials, ProxyError> got = Unexpected{ProxyError{ProxyErrc::proxy_internal_error, "not run"}};
  bed.run([&]() -> awaitable<void> { got = co_await sts_assume_role(*bed.ctx, resolver, p, base(), Millis(3000)); });
  ASSERT_TRUE(got) << got.error().details;
  EXPECT_EQ(got->access_key_id, "ASIAEXAMPLE");
  ASSERT_EQ(bed.requests.size(), 1u);
  const std::string& sent = bed.requests[0];
  EXPECT_EQ(sent.rfind("POST / HTTP/1.1\r\nHost: localhost:", 0), 0u) << sent;
  EXPECT_NE(sent.find("\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDBASE/"), std::string::npos);
  EXPECT_NE(sent.find("\r\n\r\n" + assume_role_body(p)), std::string::npos);

  bed.respond = [](const std::string&) {
    return "HTTP/1.1 403 Forbidden\r\nContent-Length: " + std::to_string(kDenied.size()) + "\r\n\r\n" + kDenied;
  };
  bed.run([&]() -> awaitable<void> { got = co_await sts_assume_role(*bed.ctx, resolver, p, base(), Millis(3000)); });
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().http_status(), 502);
  EXPECT_NE(got.error().details.find("AssumeRole of arn:aws:iam::123456789012:role/demo: STS answered 403 "
                                     "SignatureDoesNotMatch"),
            std::string::npos)
      << got.error().details;
  EXPECT_EQ(got.error().details.find("base-secret"), std::string::npos);
}

}  // namespace
}  // namespace ferry::aws
