// Body framing and connection options (RFC 9112 §6, §9): analyze_request and
// analyze_response.
#include "http/message_framing.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ferry::http {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

RequestHead make_request(const Fields& fields, int minor = 1, std::string_view method = "GET",
                         std::string_view target = "http://a/") {
  // Field strings live in a static arena for the duration of the test binary;
  // simpler than lifetime juggling and tiny.
  static std::vector<std::unique_ptr<std::string>> arena;
  RequestHead h;
  h.method = method;
  h.target = target;
  h.version_minor = minor;
  for (const auto& [n, v] : fields) {
    arena.push_back(std::make_unique<std::string>(n));
    std::string_view name = *arena.back();
    arena.push_back(std::make_unique<std::string>(v));
    std::string_view value = *arena.back();
    h.fields.push_back({name, value});
  }
  return h;
}

ResponseHead make_response(int status, const Fields& fields, int minor = 1) {
  static std::vector<std::unique_ptr<std::string>> arena;
  ResponseHead h;
  h.status = status;
  h.version_minor = minor;
  for (const auto& [n, v] : fields) {
    arena.push_back(std::make_unique<std::string>(n));
    std::string_view name = *arena.back();
    arena.push_back(std::make_unique<std::string>(v));
    std::string_view value = *arena.back();
    h.fields.push_back({name, value});
  }
  return h;
}

// ---------------------------------------------------------------- split_list

TEST(SplitList, TrimsAndSkipsEmpty) {
  auto v = split_list(" a ,b,, \tc\t,");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], "a");
  EXPECT_EQ(v[1], "b");
  EXPECT_EQ(v[2], "c");
  EXPECT_TRUE(split_list("").empty());
  EXPECT_TRUE(split_list(" , ,").empty());
}

// ---------------------------------------------------------------- requests: framing

TEST(AnalyzeRequest, NoBody) {
  auto r = analyze_request(make_request({{"Host", "a"}}));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->body, BodyKind::none);
  EXPECT_EQ(r->content_length, 0u);
  EXPECT_TRUE(r->keep_alive);
  EXPECT_FALSE(r->upgrade);
  EXPECT_FALSE(r->expect_continue);
}

TEST(AnalyzeRequest, ContentLength) {
  auto r = analyze_request(make_request({{"Content-Length", "42"}}));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->body, BodyKind::content_length);
  EXPECT_EQ(r->content_length, 42u);
}

TEST(AnalyzeRequest, ContentLengthZeroIsNoBodyButRemembered) {
  auto r = analyze_request(make_request({{"content-length", "0"}}));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->body, BodyKind::none);
  EXPECT_TRUE(r->zero_length);  // restated when forwarded (D2)

  auto absent = analyze_request(make_request({}));
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->zero_length);
  auto positive = analyze_request(make_request({{"Content-Length", "3"}}));
  ASSERT_TRUE(positive);
  EXPECT_FALSE(positive->zero_length);
}

// RFC 9110 §9.3.6: a CONNECT has no content; a body length would make the
// bytes after the head both tunnel data and body.
TEST(AnalyzeRequest, ConnectWithBodyFramingRejected) {
  for (const Fields& fields : {Fields{{"Content-Length", "5"}}, Fields{{"Transfer-Encoding", "chunked"}}}) {
    auto r = analyze_request(make_request(fields, 1, "CONNECT", "a:443"));
    EXPECT_FALSE(r) << fields[0].first;
  }
  auto zero = analyze_request(make_request({{"Host", "a:443"}, {"Content-Length", "0"}}, 1, "CONNECT", "a:443"));
  EXPECT_TRUE(zero);  // no ambiguity
  auto plain = analyze_request(make_request({{"Host", "a:443"}}, 1, "CONNECT", "a:443"));
  EXPECT_TRUE(plain);
}

TEST(AnalyzeRequest, MaxForwards) {
  auto zero = analyze_request(make_request({{"Max-Forwards", "0"}}, 1, "OPTIONS"));
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->max_forwards, 0u);
  auto five = analyze_request(make_request({{"max-forwards", "5"}}, 1, "OPTIONS"));
  ASSERT_TRUE(five);
  EXPECT_EQ(five->max_forwards, 5u);
  for (const Fields& fields : {Fields{}, Fields{{"Max-Forwards", "x"}}, Fields{{"Max-Forwards", "-1"}},
                               Fields{{"Max-Forwards", "1"}, {"Max-Forwards", "2"}}}) {
    auto r = analyze_request(make_request(fields, 1, "OPTIONS"));
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->max_forwards) << (fields.empty() ? "none" : fields[0].second);
  }
}

// RFC 9112 §3.2: an HTTP/1.1 request without Host is answered with 400.
TEST(CheckRequestRules, Http11NeedsHost) {
  auto without = make_request({});
  auto info = analyze_request(without);
  ASSERT_TRUE(info);
  EXPECT_FALSE(check_request_rules(without, *info));

  auto with = make_request({{"Host", "a"}});
  info = analyze_request(with);
  ASSERT_TRUE(info);
  EXPECT_TRUE(check_request_rules(with, *info));

  auto http10 = make_request({}, 0);
  info = analyze_request(http10);
  ASSERT_TRUE(info);
  EXPECT_TRUE(check_request_rules(http10, *info));
}

TEST(AnalyzeRequest, ContentLengthLargestAccepted) {
  auto r = analyze_request(make_request({{"Content-Length", "999999999999999999"}}));  // 18 digits
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->content_length, 999999999999999999u);
}

TEST(AnalyzeRequest, Chunked) {
  for (const char* te : {"chunked", "Chunked", "CHUNKED"}) {
    auto r = analyze_request(make_request({{"Transfer-Encoding", te}}));
    ASSERT_TRUE(r) << te << ": " << r.error();
    EXPECT_EQ(r->body, BodyKind::chunked);
  }
}

struct RequestReject {
  const char* name;
  Fields fields;
  int minor = 1;
};

class AnalyzeRequestRejects : public testing::TestWithParam<RequestReject> {};

TEST_P(AnalyzeRequestRejects, IsError) {
  auto r = analyze_request(make_request(GetParam().fields, GetParam().minor));
  EXPECT_FALSE(r) << GetParam().name;
  if (!r) {
    EXPECT_FALSE(r.error().empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, AnalyzeRequestRejects,
    testing::Values(
        RequestReject{"TeAndCl", {{"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}}},
        RequestReject{"ClAndTe", {{"Content-Length", "0"}, {"Transfer-Encoding", "chunked"}}},
        RequestReject{"DuplicateClDifferent", {{"Content-Length", "5"}, {"Content-Length", "6"}}},
        RequestReject{"DuplicateClEqual", {{"Content-Length", "5"}, {"Content-Length", "5"}}},
        RequestReject{"ClList", {{"Content-Length", "5, 5"}}},
        RequestReject{"ClListNoSpace", {{"Content-Length", "5,5"}}},
        RequestReject{"ClPlus", {{"Content-Length", "+5"}}}, RequestReject{"ClNegative", {{"Content-Length", "-1"}}},
        RequestReject{"ClTrailingLetter", {{"Content-Length", "5a"}}},
        RequestReject{"ClHex", {{"Content-Length", "0x5"}}}, RequestReject{"ClEmpty", {{"Content-Length", ""}}},
        RequestReject{"ClInnerSpace", {{"Content-Length", "1 0"}}},
        RequestReject{"ClDecimalPoint", {{"Content-Length", "5.0"}}},
        RequestReject{"Cl19Digits", {{"Content-Length", "1000000000000000000"}}},
        RequestReject{"Cl25Digits", {{"Content-Length", "9999999999999999999999999"}}},
        RequestReject{"TeGzip", {{"Transfer-Encoding", "gzip"}}},
        RequestReject{"TeGzipChunked", {{"Transfer-Encoding", "gzip, chunked"}}},
        RequestReject{"TeChunkedGzip", {{"Transfer-Encoding", "chunked, gzip"}}},
        RequestReject{"TeChunkedChunked", {{"Transfer-Encoding", "chunked, chunked"}}},
        RequestReject{"TeIdentity", {{"Transfer-Encoding", "identity"}}},
        RequestReject{"TeEmpty", {{"Transfer-Encoding", ""}}},
        RequestReject{"TeChunkedWithParam", {{"Transfer-Encoding", "chunked;q=1"}}},
        RequestReject{"TeDuplicate", {{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}},
        RequestReject{"TeDuplicateSplit", {{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}}},
        RequestReject{"TeInHttp10", {{"Transfer-Encoding", "chunked"}}, 0},
        RequestReject{"TwoHosts", {{"Host", "a"}, {"Host", "a"}}},
        RequestReject{"TwoHostsCaseDiffers", {{"Host", "a"}, {"HOST", "b"}}}),
    [](const testing::TestParamInfo<RequestReject>& i) { return std::string(i.param.name); });

// ---------------------------------------------------------------- requests: Expect

TEST(AnalyzeRequest, ExpectContinueOnlyWithBody) {
  auto with_cl = analyze_request(make_request({{"Expect", "100-continue"}, {"Content-Length", "3"}}));
  ASSERT_TRUE(with_cl);
  EXPECT_TRUE(with_cl->expect_continue);

  auto chunked = analyze_request(make_request({{"Expect", "100-Continue"}, {"Transfer-Encoding", "chunked"}}));
  ASSERT_TRUE(chunked);
  EXPECT_TRUE(chunked->expect_continue);

  auto no_body = analyze_request(make_request({{"Expect", "100-continue"}}));
  ASSERT_TRUE(no_body);
  EXPECT_FALSE(no_body->expect_continue);

  auto zero = analyze_request(make_request({{"Expect", "100-continue"}, {"Content-Length", "0"}}));
  ASSERT_TRUE(zero);
  EXPECT_FALSE(zero->expect_continue);

  auto other = analyze_request(make_request({{"Expect", "something-else"}, {"Content-Length", "3"}}));
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->expect_continue);
}

// ---------------------------------------------------------------- requests: keep-alive

struct KeepAliveCase {
  const char* name;
  int minor;
  Fields fields;
  bool keep_alive;
};

class RequestKeepAlive : public testing::TestWithParam<KeepAliveCase> {};

TEST_P(RequestKeepAlive, Decides) {
  auto r = analyze_request(make_request(GetParam().fields, GetParam().minor));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->keep_alive, GetParam().keep_alive);
}

INSTANTIATE_TEST_SUITE_P(
    All, RequestKeepAlive,
    testing::Values(
        KeepAliveCase{"Http11Default", 1, {}, true}, KeepAliveCase{"Http11Close", 1, {{"Connection", "close"}}, false},
        KeepAliveCase{"Http11CloseMixedCase", 1, {{"Connection", "Close"}}, false},
        KeepAliveCase{"Http11CloseInList", 1, {{"Connection", "x-foo, close"}}, false},
        KeepAliveCase{"Http11CloseSecondField", 1, {{"Connection", "x-foo"}, {"Connection", "close"}}, false},
        KeepAliveCase{"Http11ProxyConnectionClose", 1, {{"Proxy-Connection", "close"}}, false},
        KeepAliveCase{"Http11KeepAliveAndClose", 1, {{"Connection", "keep-alive, close"}}, false},
        KeepAliveCase{"Http10Default", 0, {}, false},
        KeepAliveCase{"Http10KeepAlive", 0, {{"Connection", "keep-alive"}}, true},
        KeepAliveCase{"Http10KeepAliveMixedCase", 0, {{"Connection", "Keep-Alive"}}, true},
        KeepAliveCase{"Http10ProxyConnectionKeepAlive", 0, {{"Proxy-Connection", "keep-alive"}}, true},
        KeepAliveCase{
            "Http10KeepAliveButProxyClose", 0, {{"Connection", "keep-alive"}, {"Proxy-Connection", "close"}}, false},
        KeepAliveCase{"Http10KeepAliveAndClose", 0, {{"Connection", "keep-alive, close"}}, false}),
    [](const testing::TestParamInfo<KeepAliveCase>& i) { return std::string(i.param.name); });

TEST(AnalyzeRequest, ConnectionTokensLowerCased) {
  auto r = analyze_request(make_request({{"Connection", "X-Foo, Keep-Alive"}, {"Connection", "Upgrade"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->connection.tokens, (std::vector<std::string>{"x-foo", "keep-alive", "upgrade"}));
  EXPECT_TRUE(r->connection.keep_alive);
  EXPECT_TRUE(r->connection.upgrade);
  EXPECT_FALSE(r->connection.close);
}

TEST(AnalyzeRequest, ProxyConnectionTokensAreNotConnectionTokens) {
  auto r = analyze_request(make_request({{"Proxy-Connection", "X-Foo"}}));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->connection.tokens.empty());
}

// ---------------------------------------------------------------- requests: upgrade

TEST(AnalyzeRequest, UpgradeDetection) {
  auto ws = analyze_request(make_request({{"Connection", "Upgrade"}, {"Upgrade", "websocket"}}));
  ASSERT_TRUE(ws);
  EXPECT_TRUE(ws->upgrade);
  EXPECT_EQ(ws->upgrade_protocol, "websocket");

  auto no_conn = analyze_request(make_request({{"Upgrade", "websocket"}}));
  ASSERT_TRUE(no_conn);
  EXPECT_FALSE(no_conn->upgrade);

  auto no_field = analyze_request(make_request({{"Connection", "upgrade"}}));
  ASSERT_TRUE(no_field);
  EXPECT_FALSE(no_field->upgrade);

  auto in_list = analyze_request(make_request({{"Connection", "keep-alive, Upgrade"}, {"Upgrade", "websocket"}}));
  ASSERT_TRUE(in_list);
  EXPECT_TRUE(in_list->upgrade);
  EXPECT_EQ(in_list->upgrade_protocol, "websocket");

  auto empty = analyze_request(make_request({{"Connection", "upgrade"}, {"Upgrade", ""}}));
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->upgrade);
}

// h2c through a proxy is the h2c-smuggling class: never offered upstream.
TEST(AnalyzeRequest, H2cUpgradeDropped) {
  auto h2c = analyze_request(make_request({{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"}}));
  ASSERT_TRUE(h2c);
  EXPECT_FALSE(h2c->upgrade);
  EXPECT_EQ(h2c->upgrade_protocol, "");

  auto upper = analyze_request(make_request({{"Connection", "upgrade"}, {"Upgrade", "H2C"}}));
  ASSERT_TRUE(upper);
  EXPECT_FALSE(upper->upgrade);

  auto mixed = analyze_request(make_request({{"Connection", "upgrade"}, {"Upgrade", "h2c, websocket"}}));
  ASSERT_TRUE(mixed);
  EXPECT_TRUE(mixed->upgrade);
  EXPECT_EQ(mixed->upgrade_protocol, "websocket");

  auto split = analyze_request(make_request({{"Connection", "upgrade"}, {"Upgrade", "foo/2"}, {"Upgrade", "h2c"}}));
  ASSERT_TRUE(split);
  EXPECT_EQ(split->upgrade_protocol, "foo/2");
}

// ---------------------------------------------------------------- responses

struct ResponseCase {
  const char* name;
  int status;
  Fields fields;
  std::string method;
  BodyKind body;
  uint64_t content_length;
  bool keep_alive;
  int minor = 1;
};

class AnalyzeResponseOk : public testing::TestWithParam<ResponseCase> {};

TEST_P(AnalyzeResponseOk, Frames) {
  const auto& c = GetParam();
  auto r = analyze_response(make_response(c.status, c.fields, c.minor), c.method);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->body, c.body);
  EXPECT_EQ(r->content_length, c.content_length);
  EXPECT_EQ(r->keep_alive, c.keep_alive);
}

INSTANTIATE_TEST_SUITE_P(
    All, AnalyzeResponseOk,
    testing::Values(
        ResponseCase{"ContentLength", 200, {{"Content-Length", "10"}}, "GET", BodyKind::content_length, 10, true},
        ResponseCase{"ContentLengthZero", 200, {{"Content-Length", "0"}}, "GET", BodyKind::none, 0, true},
        ResponseCase{"HeadWithContentLength", 200, {{"Content-Length", "10"}}, "HEAD", BodyKind::none, 0, true},
        ResponseCase{"HeadWithChunked", 200, {{"Transfer-Encoding", "chunked"}}, "HEAD", BodyKind::none, 0, true},
        ResponseCase{"HeadNoFraming", 200, {}, "HEAD", BodyKind::none, 0, true},
        ResponseCase{"Status100", 100, {}, "GET", BodyKind::none, 0, true},
        ResponseCase{
            "Status101", 101, {{"Connection", "upgrade"}, {"Upgrade", "websocket"}}, "GET", BodyKind::none, 0, true},
        ResponseCase{"Status103", 103, {{"Link", "</a.css>"}}, "GET", BodyKind::none, 0, true},
        ResponseCase{"Status204", 204, {}, "GET", BodyKind::none, 0, true},
        ResponseCase{"Status204WithCl", 204, {{"Content-Length", "10"}}, "DELETE", BodyKind::none, 0, true},
        ResponseCase{"Status304", 304, {}, "GET", BodyKind::none, 0, true},
        ResponseCase{"Status304WithCl", 304, {{"Content-Length", "10"}}, "GET", BodyKind::none, 0, true},
        ResponseCase{"Chunked", 200, {{"Transfer-Encoding", "chunked"}}, "GET", BodyKind::chunked, 0, true},
        ResponseCase{"ChunkedFinal", 200, {{"Transfer-Encoding", "gzip, chunked"}}, "GET", BodyKind::chunked, 0, true},
        ResponseCase{"ChunkedFinalSplitFields",
                     200,
                     {{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}},
                     "GET",
                     BodyKind::chunked,
                     0,
                     true},
        ResponseCase{
            "ChunkedNotFinal", 200, {{"Transfer-Encoding", "chunked, gzip"}}, "GET", BodyKind::until_close, 0, false},
        ResponseCase{"TeGzipOnly", 200, {{"Transfer-Encoding", "gzip"}}, "GET", BodyKind::until_close, 0, false},
        ResponseCase{"DuplicateClIdentical",
                     200,
                     {{"Content-Length", "7"}, {"Content-Length", "7"}},
                     "GET",
                     BodyKind::content_length,
                     7,
                     true},
        ResponseCase{"ClListIdentical", 200, {{"Content-Length", "7, 7"}}, "GET", BodyKind::content_length, 7, true},
        ResponseCase{"NoFraming", 200, {}, "GET", BodyKind::until_close, 0, false},
        ResponseCase{"NoFramingHttp10", 200, {}, "GET", BodyKind::until_close, 0, false, 0},
        ResponseCase{"Close",
                     200,
                     {{"Connection", "close"}, {"Content-Length", "1"}},
                     "GET",
                     BodyKind::content_length,
                     1,
                     false},
        ResponseCase{"Http10Default", 200, {{"Content-Length", "1"}}, "GET", BodyKind::content_length, 1, false, 0},
        ResponseCase{"Http10KeepAlive",
                     200,
                     {{"Connection", "Keep-Alive"}, {"Content-Length", "1"}},
                     "GET",
                     BodyKind::content_length,
                     1,
                     true,
                     0},
        // RFC 9112 §6.1: TE in HTTP/1.0 is faulty framing: decoded, then closed (D22).
        ResponseCase{"Http10ChunkedNotReusable",
                     200,
                     {{"Connection", "keep-alive"}, {"Transfer-Encoding", "chunked"}},
                     "GET",
                     BodyKind::chunked,
                     0,
                     false,
                     0},
        ResponseCase{"Http10ChunkedHeadNotReusable",
                     200,
                     {{"Connection", "keep-alive"}, {"Transfer-Encoding", "chunked"}},
                     "HEAD",
                     BodyKind::none,
                     0,
                     false,
                     0},
        ResponseCase{"Http10KeepAliveAndClose",
                     200,
                     {{"Connection", "keep-alive, close"}, {"Content-Length", "1"}},
                     "GET",
                     BodyKind::content_length,
                     1,
                     false,
                     0},
        ResponseCase{"ErrorStatusWithBody", 404, {{"Content-Length", "3"}}, "GET", BodyKind::content_length, 3, true}),
    [](const testing::TestParamInfo<ResponseCase>& i) { return std::string(i.param.name); });

struct ResponseReject {
  const char* name;
  int status;
  Fields fields;
  std::string method = "GET";
};

class AnalyzeResponseRejects : public testing::TestWithParam<ResponseReject> {};

TEST_P(AnalyzeResponseRejects, IsError) {
  const auto& c = GetParam();
  auto r = analyze_response(make_response(c.status, c.fields), c.method);
  EXPECT_FALSE(r) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    All, AnalyzeResponseRejects,
    testing::Values(ResponseReject{"ConflictingCl", 200, {{"Content-Length", "5"}, {"Content-Length", "6"}}},
                    ResponseReject{"ConflictingClList", 200, {{"Content-Length", "5, 6"}}},
                    ResponseReject{"TeAndCl", 200, {{"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}}},
                    ResponseReject{"ClAndTe", 200, {{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}},
                    ResponseReject{"MalformedCl", 200, {{"Content-Length", "abc"}}},
                    ResponseReject{"NegativeCl", 200, {{"Content-Length", "-1"}}},
                    ResponseReject{"PlusCl", 200, {{"Content-Length", "+1"}}},
                    ResponseReject{"EmptyCl", 200, {{"Content-Length", ""}}},
                    ResponseReject{"OnlyCommasCl", 200, {{"Content-Length", ", ,"}}},
                    ResponseReject{"HugeCl", 200, {{"Content-Length", "99999999999999999999"}}},
                    ResponseReject{"EmptyTe", 200, {{"Transfer-Encoding", ""}}},
                    ResponseReject{"MalformedTe", 200, {{"Transfer-Encoding", "chunked;x=\"a b\""}}},
                    ResponseReject{"MalformedClInHeadResponse", 200, {{"Content-Length", "x"}}, "HEAD"},
                    ResponseReject{"TeAndClIn304", 304, {{"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}}}),
    [](const testing::TestParamInfo<ResponseReject>& i) { return std::string(i.param.name); });

TEST(AnalyzeResponse, ConnectionTokens) {
  auto r = analyze_response(make_response(200, {{"Connection", "X-Secret, close"}, {"Content-Length", "0"}}), "GET");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->connection.close);
  EXPECT_EQ(r->connection.tokens, (std::vector<std::string>{"x-secret", "close"}));
}

}  // namespace
}  // namespace ferry::http
