// The heads ferry forwards: hop-by-hop removal, Host, Via, restated framing.
#include "http/header_rewrite.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "http/head_parser.h"
#include "http/message_framing.h"

namespace ferry::http {
namespace {

using testing::HasSubstr;
using testing::Not;

// A parsed request whose views stay valid as long as the object lives.
struct Req {
  std::unique_ptr<std::string> raw;
  RequestHead head;
  RequestInfo info;
};

Req parse_req(std::string raw) {
  Req r;
  r.raw = std::make_unique<std::string>(std::move(raw));
  auto p = parse_request_head(*r.raw, r.head);
  EXPECT_EQ(p.state, ParseState::complete) << p.error;
  auto info = analyze_request(r.head);
  EXPECT_TRUE(info) << (info ? "" : info.error());
  if (info) r.info = *info;
  return r;
}

struct Resp {
  std::unique_ptr<std::string> raw;
  ResponseHead head;
  ResponseInfo info;
};

Resp parse_resp(std::string raw, std::string_view method = "GET") {
  Resp r;
  r.raw = std::make_unique<std::string>(std::move(raw));
  auto p = parse_response_head(*r.raw, r.head);
  EXPECT_EQ(p.state, ParseState::complete) << p.error;
  auto info = analyze_response(r.head, method);
  EXPECT_TRUE(info) << (info ? "" : info.error());
  if (info) r.info = *info;
  return r;
}

// Field lines of a built head, "Name: value" each, start line excluded.
std::vector<std::string> lines_of(const std::string& head) {
  std::vector<std::string> out;
  size_t pos = head.find("\r\n") + 2;
  while (pos < head.size()) {
    auto end = head.find("\r\n", pos);
    if (end == pos) break;
    out.push_back(head.substr(pos, end - pos));
    pos = end + 2;
  }
  return out;
}

constexpr std::string_view kVia = "1.1 ferry-test";

ForwardRequest fwd_for(const Req& r, std::string_view host = "example.com") {
  return ForwardRequest{r.head.method, "/path", host, kVia, false};
}

// ---------------------------------------------------------------- is_hop_by_hop

TEST(IsHopByHop, FixedListAndConnectionTokens) {
  ConnectionOptions none;
  for (const char* n :
       {"Connection", "keep-alive", "PROXY-CONNECTION", "TE", "Trailer", "Upgrade", "Transfer-Encoding",
        "Content-Length", "Proxy-Authorization", "Proxy-Authenticate", "Proxy-Authentication-Info", "HTTP2-Settings"})
    EXPECT_TRUE(is_hop_by_hop(n, none)) << n;
  for (const char* n : {"Host", "Accept", "Authorization", "Via", "Cookie", "Trailers", "Tee", "X-Connection"})
    EXPECT_FALSE(is_hop_by_hop(n, none)) << n;
  ConnectionOptions c;
  c.tokens = {"x-foo"};
  EXPECT_TRUE(is_hop_by_hop("X-Foo", c));
  EXPECT_FALSE(is_hop_by_hop("X-Foo-Bar", c));
}

// ---------------------------------------------------------------- requests

TEST(BuildRequestHead, StartLineAndHostFirst) {
  auto r = parse_req("GET http://Example.com/path HTTP/1.0\r\nHost: wrong.example\r\nAccept: */*\r\n\r\n");
  auto out = build_request_head(r.head, r.info, fwd_for(r));
  EXPECT_EQ(out.substr(0, out.find("\r\n")), "GET /path HTTP/1.1");
  auto lines = lines_of(out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "Host: example.com");
  EXPECT_THAT(out, Not(HasSubstr("wrong.example")));
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [](auto& l) { return l.rfind("Host:", 0) == 0; }), 1);
  EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

TEST(BuildRequestHead, HostAddedWhenMissing) {
  auto r = parse_req("GET http://example.com/ HTTP/1.1\r\n\r\n");
  auto out = build_request_head(r.head, r.info, fwd_for(r, "example.com:8080"));
  EXPECT_THAT(lines_of(out), testing::Contains("Host: example.com:8080"));
}

TEST(BuildRequestHead, DropsHopByHopFields) {
  auto r = parse_req(
      "GET http://a/ HTTP/1.1\r\n"
      "Host: a\r\n"
      "Connection: keep-alive, X-Private, x-other\r\n"
      "Keep-Alive: timeout=5\r\n"
      "Proxy-Connection: keep-alive\r\n"
      "TE: trailers\r\n"
      "Trailer: X-Checksum\r\n"
      "Upgrade: websocket\r\n"
      "Proxy-Authorization: Basic c2VjcmV0\r\n"
      "Proxy-Authenticate: Basic realm=x\r\n"
      "X-Private: secret-1\r\n"
      "X-OTHER: secret-2\r\n"
      "Authorization: Bearer end-to-end\r\n"
      "Accept: */*\r\n"
      "\r\n");
  auto out = build_request_head(r.head, r.info, fwd_for(r));
  auto lines = lines_of(out);
  EXPECT_EQ(lines, (std::vector<std::string>{"Host: example.com", "Authorization: Bearer end-to-end", "Accept: */*",
                                             "Via: 1.1 ferry-test"}));
  for (const char* gone : {"Connection", "Keep-Alive", "Proxy-Connection", "TE:", "Trailer", "Upgrade",
                           "Proxy-Authorization", "Proxy-Authenticate", "X-Private", "X-OTHER", "c2VjcmV0"})
    EXPECT_THAT(out, Not(HasSubstr(gone))) << gone;
}

TEST(BuildRequestHead, KeepsUpgradeWhenUpgrading) {
  auto r = parse_req(
      "GET http://a/chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: abc\r\n\r\n");
  ASSERT_TRUE(r.info.upgrade);
  ForwardRequest fwd{"GET", "/chat", "a", kVia, true};
  auto lines = lines_of(build_request_head(r.head, r.info, fwd));
  EXPECT_THAT(lines, testing::Contains("Upgrade: websocket"));
  EXPECT_THAT(lines, testing::Contains("Connection: upgrade"));
  EXPECT_THAT(lines, testing::Contains("Sec-WebSocket-Key: abc"));
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [](auto& l) { return l.rfind("Connection:", 0) == 0; }), 1);
}

TEST(BuildRequestHead, ViaAppendedAfterExistingViaLines) {
  auto r =
      parse_req("GET http://a/ HTTP/1.1\r\nVia: 1.0 fred, 1.1 p.example.net\r\nAccept: */*\r\nVia: 1.1 other\r\n\r\n");
  auto lines = lines_of(build_request_head(r.head, r.info, fwd_for(r)));
  EXPECT_EQ(lines, (std::vector<std::string>{"Host: example.com", "Via: 1.0 fred, 1.1 p.example.net", "Accept: */*",
                                             "Via: 1.1 other", "Via: 1.1 ferry-test"}));
}

TEST(BuildRequestHead, RestatesContentLength) {
  auto r = parse_req("POST http://a/ HTTP/1.1\r\ncontent-length:   12  \r\nX: y\r\n\r\n");
  auto lines = lines_of(build_request_head(r.head, r.info, fwd_for(r)));
  EXPECT_EQ(lines,
            (std::vector<std::string>{"Host: example.com", "X: y", "Via: 1.1 ferry-test", "Content-Length: 12"}));
}

TEST(BuildRequestHead, RestatesChunked) {
  auto r = parse_req("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n");
  auto lines = lines_of(build_request_head(r.head, r.info, fwd_for(r)));
  EXPECT_EQ(lines,
            (std::vector<std::string>{"Host: example.com", "Via: 1.1 ferry-test", "Transfer-Encoding: chunked"}));
}

// RFC 9110 §8.6: "Content-Length: 0" on a POST is kept (servers answer 411
// without it); a request that had no Content-Length gets none (D2).
TEST(BuildRequestHead, RestatesZeroContentLength) {
  auto r = parse_req("POST http://a/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  auto out = build_request_head(r.head, r.info, fwd_for(r));
  EXPECT_EQ(lines_of(out), (std::vector<std::string>{"Host: example.com", "Via: 1.1 ferry-test", "Content-Length: 0"}));
  auto reparsed = parse_req(out);
  EXPECT_EQ(reparsed.info.body, BodyKind::none);
  EXPECT_TRUE(reparsed.info.zero_length);

  auto none = parse_req("POST http://a/ HTTP/1.1\r\nX: y\r\n\r\n");
  EXPECT_THAT(build_request_head(none.head, none.info, fwd_for(none)), Not(HasSubstr("Content-Length")));
}

// h2c upgrades are never forwarded (h2c smuggling), nor their settings.
TEST(BuildRequestHead, DropsH2cUpgrade) {
  auto r = parse_req(
      "GET http://a/ HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
      "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nX: y\r\n\r\n");
  ASSERT_FALSE(r.info.upgrade);
  ForwardRequest fwd{r.head.method, "/", "a", kVia, r.info.upgrade};
  EXPECT_EQ(lines_of(build_request_head(r.head, r.info, fwd)),
            (std::vector<std::string>{"Host: a", "X: y", "Via: 1.1 ferry-test"}));

  // HTTP2-Settings goes even when the client did not name it in Connection.
  auto unnamed = parse_req("GET http://a/ HTTP/1.1\r\nHTTP2-Settings: AAMA\r\n\r\n");
  EXPECT_THAT(build_request_head(unnamed.head, unnamed.info, fwd_for(unnamed)), Not(HasSubstr("HTTP2-Settings")));

  auto mixed = parse_req("GET http://a/ HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c, websocket\r\n\r\n");
  ASSERT_TRUE(mixed.info.upgrade);
  ForwardRequest fwd_ws{mixed.head.method, "/", "a", kVia, true};
  EXPECT_EQ(lines_of(build_request_head(mixed.head, mixed.info, fwd_ws)),
            (std::vector<std::string>{"Host: a", "Via: 1.1 ferry-test", "Upgrade: websocket", "Connection: upgrade"}));
}

// RFC 9110 §7.6.2: OPTIONS and TRACE count Max-Forwards down; others keep it.
TEST(BuildRequestHead, MaxForwardsCountedDownForOptions) {
  auto options = parse_req("OPTIONS http://a/ HTTP/1.1\r\nMax-Forwards: 5\r\n\r\n");
  EXPECT_THAT(lines_of(build_request_head(options.head, options.info, fwd_for(options))),
              testing::Contains("Max-Forwards: 4"));
  auto get = parse_req("GET http://a/ HTTP/1.1\r\nMax-Forwards: 5\r\n\r\n");
  EXPECT_THAT(lines_of(build_request_head(get.head, get.info, fwd_for(get))), testing::Contains("Max-Forwards: 5"));
  auto named = parse_req("OPTIONS http://a/ HTTP/1.1\r\nConnection: Max-Forwards\r\nMax-Forwards: 5\r\n\r\n");
  EXPECT_THAT(build_request_head(named.head, named.info, fwd_for(named)), Not(HasSubstr("Max-Forwards")));
  auto bad = parse_req("OPTIONS http://a/ HTTP/1.1\r\nMax-Forwards: x\r\n\r\n");
  EXPECT_THAT(lines_of(build_request_head(bad.head, bad.info, fwd_for(bad))), testing::Contains("Max-Forwards: x"));
}

TEST(BuildRequestHead, OutputReparses) {
  auto r = parse_req(
      "\r\nPUT http://a/x HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Obs: caf\xc3\xa9\r\nContent-Length: 3\r\n"
      "Connection: close\r\n\r\n");
  auto out = build_request_head(r.head, r.info, fwd_for(r));
  auto scan = scan_for_head_end(out, 0);
  ASSERT_EQ(scan.state, ParseState::complete);
  EXPECT_EQ(scan.head_size, out.size());
  auto re = parse_req(out);
  EXPECT_EQ(re.head.method, "PUT");
  EXPECT_EQ(re.info.body, BodyKind::content_length);
  EXPECT_EQ(re.info.content_length, 3u);
  EXPECT_TRUE(re.info.keep_alive);  // Connection: close is hop-by-hop; ferry decides upstream reuse itself
}

// ---------------------------------------------------------------- responses

TEST(BuildResponseHead, StatusLineAndVia) {
  auto r = parse_resp("HTTP/1.0 200 Fine\r\nContent-Length: 5\r\nServer: x\r\n\r\n");
  ForwardResponse fwd{kVia, BodyKind::content_length, false, false, false};
  auto out = build_response_head(r.head, r.info, fwd);
  EXPECT_EQ(out.substr(0, out.find("\r\n")), "HTTP/1.1 200 Fine");
  EXPECT_EQ(lines_of(out), (std::vector<std::string>{"Server: x", "Via: 1.1 ferry-test", "Content-Length: 5"}));
}

TEST(BuildResponseHead, EmptyReasonGetsStandardPhrase) {
  auto r = parse_resp("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n");
  auto out = build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::none, false, false, false});
  EXPECT_EQ(out.substr(0, out.find("\r\n")), "HTTP/1.1 404 Not Found");
}

TEST(BuildResponseHead, ExistingViaPreserved) {
  auto r = parse_resp("HTTP/1.1 200 OK\r\nVia: 1.1 origin-cache\r\nContent-Length: 0\r\n\r\n");
  auto lines =
      lines_of(build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::none, false, false, false}));
  auto first = std::find(lines.begin(), lines.end(), "Via: 1.1 origin-cache");
  auto ours = std::find(lines.begin(), lines.end(), "Via: 1.1 ferry-test");
  ASSERT_NE(first, lines.end());
  ASSERT_NE(ours, lines.end());
  EXPECT_LT(first, ours);
}

TEST(BuildResponseHead, ConnectionHeaderCases) {
  auto r = parse_resp("HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nContent-Length: 1\r\n\r\n");
  auto plain =
      build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::content_length, false, false, false});
  EXPECT_THAT(plain, Not(HasSubstr("Connection")));
  EXPECT_THAT(plain, Not(HasSubstr("X-Hop")));

  auto close = build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::content_length, true, false, false});
  EXPECT_THAT(lines_of(close), testing::Contains("Connection: close"));
  EXPECT_THAT(close, Not(HasSubstr("keep-alive")));

  auto ka10 = build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::content_length, false, true, false});
  EXPECT_THAT(lines_of(ka10), testing::Contains("Connection: keep-alive"));

  // close wins over keep-alive for a 1.0 client
  auto both = build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::content_length, true, true, false});
  auto lines = lines_of(both);
  EXPECT_THAT(lines, testing::Contains("Connection: close"));
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [](auto& l) { return l.rfind("Connection:", 0) == 0; }), 1);
}

// The body is relayed with its chunked framing intact, so codings applied
// before chunked (gzip here) are the client's to undo and must be passed on.
TEST(BuildResponseHead, TransferCodingsBeforeChunkedPassedOn) {
  auto r = parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nTrailer: X-Sum\r\n\r\n");
  auto lines =
      lines_of(build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::chunked, false, false, false}));
  EXPECT_EQ(lines, (std::vector<std::string>{"Via: 1.1 ferry-test", "Transfer-Encoding: gzip, chunked"}));
}

TEST(BuildResponseHead, UntilCloseToHttp10Client) {
  auto r = parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  auto out = build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::until_close, true, false, false});
  EXPECT_THAT(out, Not(HasSubstr("Transfer-Encoding")));
  EXPECT_THAT(out, Not(HasSubstr("Content-Length")));
  EXPECT_THAT(lines_of(out), testing::Contains("Connection: close"));
}

TEST(BuildResponseHead, HeadContentLengthPreserved) {
  auto r = parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", "HEAD");
  ASSERT_EQ(r.info.body, BodyKind::none);
  auto lines =
      lines_of(build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::none, false, false, false}));
  EXPECT_THAT(lines, testing::Contains("Content-Length: 1234"));
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [](auto& l) { return l.rfind("Content-Length:", 0) == 0; }), 1);
}

TEST(BuildResponseHead, ZeroContentLengthKeptSoClientDoesNotWaitForClose) {
  auto r = parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  auto lines =
      lines_of(build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::none, false, false, false}));
  EXPECT_THAT(lines, testing::Contains("Content-Length: 0"));
}

TEST(BuildResponseHead, NotModifiedContentLengthPreserved) {
  // header_rewrite.cpp's own comment: "Content-Length of a HEAD or 304
  // response describes the representation ... so it is passed on unchanged".
  auto r = parse_resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: \"x\"\r\n\r\n");
  auto lines =
      lines_of(build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::none, false, false, false}));
  EXPECT_THAT(lines, testing::Contains("Content-Length: 1234"));
}

TEST(BuildResponseHead, NoContentDropsContentLength) {
  auto r = parse_resp("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
  auto out = build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::none, false, false, false});
  EXPECT_THAT(out, Not(HasSubstr("Content-Length")));
}

TEST(BuildResponseHead, SwitchingProtocolsKeepsUpgrade) {
  auto r = parse_resp(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Accept: xyz\r\n\r\n");
  auto lines = lines_of(build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::none, false, false, true}));
  EXPECT_EQ(lines, (std::vector<std::string>{"Upgrade: websocket", "Sec-WebSocket-Accept: xyz", "Via: 1.1 ferry-test",
                                             "Connection: upgrade"}));
}

TEST(BuildResponseHead, UpgradeDroppedWhenNotUpgrading) {
  auto r = parse_resp("HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n");
  auto out = build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::none, false, false, false});
  EXPECT_THAT(out, Not(HasSubstr("Upgrade")));
}

TEST(BuildResponseHead, ProxyAuthenticateNotForwarded) {
  auto r = parse_resp(
      "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\n"
      "Content-Length: 0\r\n\r\n");
  auto out = build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::none, false, false, false});
  EXPECT_THAT(out, Not(HasSubstr("Proxy-Authenticate")));
}

TEST(BuildResponseHead, OutputReparses) {
  auto r = parse_resp("HTTP/1.1 200 OK\r\nX: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
  auto out = build_response_head(r.head, r.info, ForwardResponse{kVia, BodyKind::chunked, false, false, false});
  auto re = parse_resp(out);
  EXPECT_EQ(re.info.body, BodyKind::chunked);
  EXPECT_EQ(re.head.status, 200);
}

// ---------------------------------------------------------------- reason_phrase

TEST(ReasonPhrase, KnownAndUnknown) {
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(101), "Switching Protocols");
  EXPECT_EQ(reason_phrase(400), "Bad Request");
  EXPECT_EQ(reason_phrase(403), "Forbidden");
  EXPECT_EQ(reason_phrase(407), "Proxy Authentication Required");
  EXPECT_EQ(reason_phrase(408), "Request Timeout");
  EXPECT_EQ(reason_phrase(500), "Internal Server Error");
  EXPECT_EQ(reason_phrase(502), "Bad Gateway");
  EXPECT_EQ(reason_phrase(503), "Service Unavailable");
  EXPECT_EQ(reason_phrase(504), "Gateway Timeout");
  EXPECT_FALSE(reason_phrase(299).empty());
  EXPECT_FALSE(reason_phrase(999).empty());
}

TEST(ReasonPhrase, EveryStatusFerrySendsHasAPhrase) {
  for (int s : {400, 403, 407, 408, 500, 502, 503, 504}) EXPECT_NE(reason_phrase(s), "Unknown") << s;
}

}  // namespace
}  // namespace ferry::http
