// https_fetch against a local TLS origin: the request as sent, framing of
// the answer (length, chunked, close), limits, the timeout, trust, and a
// CONNECT upstream that wants Basic credentials.
#include "net/https_fetch.h"

#include <gtest/gtest.h>

#include <chrono>

#include "fetch_bed.h"

namespace ferry {
namespace {

using testing::FetchBed;
using testing::FixedResolver;

Expected<HttpResponse, ProxyError> fetch(FetchBed& bed, ProxyResolver& resolver, const HttpRequest& req,
                                         Millis timeout = Millis(3000)) {
  Expected<HttpResponse, ProxyError> out = Unexpected{ProxyError{ProxyErrc::proxy_internal_error, "not run"}};
  bed.run([&]() -> awaitable<void> { out = co_await https_fetch(*bed.ctx, resolver, req, timeout); });
  return out;
}

TEST(HttpsFetch, PostsTheRequestAndReadsALengthDelimitedAnswer) {
  FetchBed bed;
  bed.respond = [](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5\r\n\r\nhello");
  };
  FixedResolver resolver;
  HttpRequest req;
  req.method = "POST";
  req.url = bed.url("/p?x=1");
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Amz-Date", "20261203T000000Z"}};
  req.body = "Action=AssumeRole";
  auto r = fetch(bed, resolver, req);
  ASSERT_TRUE(r) << r.error().details;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->header("content-type"), "text/xml");
  ASSERT_EQ(bed.requests.size(), 1u);
  EXPECT_EQ(bed.requests[0], "POST /p?x=1 HTTP/1.1\r\nHost: localhost:" + std::to_string(bed.port()) +
                                 "\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                                 "X-Amz-Date: 20261203T000000Z\r\nContent-Length: 17\r\nConnection: close\r\n\r\n"
                                 "Action=AssumeRole");
  EXPECT_EQ(resolver.last_host, "localhost");
}

TEST(HttpsFetch, DecodesChunkedAndCloseDelimitedBodies) {
  FetchBed bed;
  FixedResolver resolver;
  HttpRequest req;
  req.url = bed.url();
  bed.respond = [](const std::string&) {
    return std::string(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n");
  };
  auto r = fetch(bed, resolver, req);
  ASSERT_TRUE(r) << r.error().details;
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->body, "abcde");

  bed.respond = [](const std::string&) { return std::string("HTTP/1.1 200 OK\r\n\r\nuntil the end"); };
  r = fetch(bed, resolver, req);
  ASSERT_TRUE(r) << r.error().details;
  EXPECT_EQ(r->body, "until the end");
}

TEST(HttpsFetch, RefusesBodiesOverOneMebibyte) {
  FetchBed bed;
  FixedResolver resolver;
  HttpRequest req;
  req.url = bed.url();
  bed.respond = [](const std::string&) {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kMaxFetchBody + 1) + "\r\n\r\n";
  };
  auto r = fetch(bed, resolver, req);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().details.find("larger than 1048576 bytes"), std::string::npos) << r.error().details;

  bed.respond = [](const std::string&) {
    return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n" + std::string(kMaxFetchBody + 1, 'a') +
           "\r\n0\r\n\r\n";
  };
  r = fetch(bed, resolver, req);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().details.find("larger than"), std::string::npos) << r.error().details;
}

TEST(HttpsFetch, MalformedAnswerIsAProtocolError) {
  FetchBed bed;
  FixedResolver resolver;
  HttpRequest req;
  req.url = bed.url("/?secret=1");
  bed.respond = [](const std::string&) { return std::string("HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n"); };
  auto r = fetch(bed, resolver, req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().type, ProxyErrc::http_protocol_error);
  EXPECT_EQ(r.error().details.find("secret"), std::string::npos);
}

TEST(HttpsFetch, TimesOutWhenTheOriginDoesNotAnswer) {
  FetchBed bed;
  FixedResolver resolver;
  HttpRequest req;
  req.url = bed.url();
  bed.respond = [](const std::string&) { return std::string(); };
  const auto start = std::chrono::steady_clock::now();
  auto r = fetch(bed, resolver, req, Millis(300));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().type, ProxyErrc::http_response_timeout) << r.error().details;
  EXPECT_LT(took, std::chrono::seconds(2));
}

TEST(HttpsFetch, AnOriginTheTrustDoesNotCoverIsRefused) {
  FetchBed bed;
  TlsClientContext system_trust;
  UpstreamContext ctx{Millis(2000), bed.destinations, bed.proxy_tls, system_trust,
                      bed.health,   bed.auth,         bed.log,       bed.blocking};
  FixedResolver resolver;
  HttpRequest req;
  req.url = bed.url();
  Expected<HttpResponse, ProxyError> r = Unexpected{ProxyError{ProxyErrc::proxy_internal_error, "not run"}};
  bed.run([&]() -> awaitable<void> { r = co_await https_fetch(ctx, resolver, req, Millis(2000)); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().type, ProxyErrc::tls_certificate_error) << r.error().details;
  EXPECT_TRUE(bed.requests.empty());
}

// An upstream that answers CONNECT with 407 until it sees Basic u:p, then
// relays bytes to the bed's origin.
awaitable<void> basic_connect_proxy(tcp::acceptor& acceptor, uint16_t origin_port, std::vector<std::string>& seen) {
  for (;;) {
    auto [ec, sock] = co_await acceptor.async_accept(nothrow_awaitable);
    if (ec) co_return;
    TcpStream client(std::move(sock));
    ReadBuffer buf;
    bool authorized = false;
    error_code wec;
    while (!authorized) {  // a 407 keeps the connection: the retry may come on it
      HeadRead r = co_await read_head(client, buf);
      if (r.status != HeadRead::Status::complete) break;
      std::string head(buf.data().substr(0, r.head_size));
      buf.consume(r.head_size);
      seen.push_back(head);
      authorized = head.find("Proxy-Authorization: Basic dTpw\r\n") != std::string::npos;  // base64("u:p")
      if (authorized) break;
      std::string no = "HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic realm=\"t\"\r\nContent-Length: 0\r\n\r\n";
      co_await client.write(asio::buffer(no), wec);
    }
    if (!authorized) continue;
    tcp::socket up(acceptor.get_executor());
    auto [cec] = co_await up.async_connect({asio::ip::make_address("127.0.0.1"), origin_port}, nothrow_awaitable);
    if (cec) co_return;
    std::string yes = "HTTP/1.1 200 Connection established\r\n\r\n";
    co_await client.write(asio::buffer(yes), wec);
    TcpStream origin(std::move(up));
    auto pump = [](ByteStream& from, ByteStream& to) -> awaitable<void> {
      char b[16384];
      for (;;) {
        error_code e;
        size_t n = co_await from.read_some(asio::buffer(b), e);
        if (e) {
          co_await to.shutdown_send();
          co_return;
        }
        co_await to.write(asio::buffer(b, n), e);
        if (e) co_return;
      }
    };
    using namespace asio::experimental::awaitable_operators;
    co_await (pump(client, origin) && pump(origin, client));
  }
}

TEST(HttpsFetch, GoesThroughAConnectUpstreamAnsweringItsBasicChallenge) {
  FetchBed bed;
  AuthRegistry::Settings settings;
  settings.mode = AuthMode::automatic;
  bed.auth.set_defaults(settings);
  tcp::acceptor proxy(bed.io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::vector<std::string> seen;
  asio::co_spawn(bed.io, basic_connect_proxy(proxy, bed.port(), seen), asio::detached);
  auto url = parse_proxy_url("http://u:p@127.0.0.1:" + std::to_string(proxy.local_endpoint().port()));
  ASSERT_TRUE(url) << url.error();
  FixedResolver resolver(make_proxy_list({proxy_chain(*url)}));
  HttpRequest req;
  req.url = bed.url("/via");
  auto r = fetch(bed, resolver, req);
  ASSERT_TRUE(r) << r.error().details;
  EXPECT_EQ(r->body, "ok");
  ASSERT_GE(seen.size(), 1u);
  EXPECT_EQ(seen.back().rfind("CONNECT localhost:" + std::to_string(bed.port()) + " HTTP/1.1\r\n", 0), 0u)
      << seen.back();
  EXPECT_EQ(seen.front().find("Proxy-Authorization"), std::string::npos);  // the first try learnt the scheme
  EXPECT_EQ(seen.size(), 2u);
  ASSERT_EQ(bed.requests.size(), 1u);
  EXPECT_EQ(bed.requests[0].substr(0, 8), "GET /via");
}

}  // namespace
}  // namespace ferry
