// The response-relay stage over scripted in-memory streams: the common case
// (a Content-Length body already buffered, relayed by the caller's own
// frame), the streamed cases, and what each says about reusing the client
// and origin connections.
#include "server/response_relay.h"

#include <gtest/gtest.h>

#include "http/head_parser.h"
#include "stage_bed.h"

namespace ferry {
namespace {

struct Bed : test::StageBed {
  // `received`: what the exchange left in origin_buf (a head, maybe body bytes).
  RelayResult run(std::string_view received, const RelayRequest& req = {}) {
    auto space = origin_buf.prepare(received.size());
    std::memcpy(space.data(), received.data(), received.size());
    origin_buf.commit(received.size());
    http::ResponseHead resp;
    const size_t head_size = received.find("\r\n\r\n") + 4;
    EXPECT_EQ(http::parse_response_head(origin_buf.data().substr(0, head_size), resp).state,
              http::ParseState::complete);
    auto info = http::analyze_response(resp, "GET");
    EXPECT_TRUE(info);
    RelayResult out;
    const bool done = run_stage([&]() -> awaitable<void> {
      ExchangeIo xio{client, client_buf, origin, origin_buf, deadline, Millis(5000)};
      ResponseRelay relay(xio, resp, *info, head_size, req);
      co_await relay.run();
      out = relay.finish();
    });
    EXPECT_TRUE(done) << "the relay did not finish";
    return out;
  }
};

RelayRequest via_test() {
  RelayRequest r;
  r.via = "1.1 ferry";
  return r;
}

TEST(ResponseRelay, BufferedBodyGoesWithTheHeadInOneWrite) {
  Bed b;
  auto out = b.run("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", via_test());
  EXPECT_FALSE(out.error);
  EXPECT_TRUE(out.relayed_head);
  EXPECT_TRUE(out.log_error.empty());
  EXPECT_EQ(b.client.written(), "HTTP/1.1 200 OK\r\nVia: 1.1 ferry\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_TRUE(out.client_keep_alive);
  EXPECT_TRUE(out.origin_reusable);
  EXPECT_TRUE(b.origin_buf.empty());
}

TEST(ResponseRelay, BytesAfterTheBufferedBodyMakeTheOriginUnusable) {
  Bed b;
  auto out = b.run("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiEXTRA", via_test());
  EXPECT_TRUE(b.client.written().ends_with("\r\n\r\nhi"));
  EXPECT_TRUE(out.client_keep_alive);
  EXPECT_FALSE(out.origin_reusable);
  EXPECT_EQ(b.origin_buf.data(), "EXTRA");
}

TEST(ResponseRelay, RestOfTheBodyIsStreamed) {
  Bed b;
  b.origin.then("llo");
  auto out = b.run("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe", via_test());
  EXPECT_TRUE(b.client.written().ends_with("\r\n\r\nhello"));
  EXPECT_TRUE(out.log_error.empty());
  EXPECT_TRUE(out.client_keep_alive);
  EXPECT_TRUE(out.origin_reusable);
}

TEST(ResponseRelay, CloseDelimitedBodyIsChunkedForAnHttp11Client) {
  Bed b;
  b.origin.then("lo").end_after_script(true);
  auto out = b.run("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhel", via_test());
  const std::string& w = b.client.written();
  EXPECT_NE(w.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << w;
  EXPECT_TRUE(w.ends_with("\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n")) << w;
  EXPECT_TRUE(out.client_keep_alive);
  EXPECT_FALSE(out.origin_reusable);
}

TEST(ResponseRelay, ClientWriteFailureOnTheBufferedPathIsLoggedNotAnswered) {
  Bed b;
  b.client.fail_at(1);
  auto out = b.run("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", via_test());
  EXPECT_TRUE(b.client.failure_hit());
  EXPECT_FALSE(out.error);  // bytes may have gone: nothing left to answer
  EXPECT_EQ(out.log_error, "connection_terminated");
  EXPECT_FALSE(out.client_keep_alive);
  EXPECT_FALSE(out.origin_reusable);
}

TEST(ResponseRelay, UnaskedSwitchIsRefusedBeforeAnyByte) {
  Bed b;
  auto out = b.run("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", via_test());
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->type, ProxyErrc::http_protocol_error);
  EXPECT_FALSE(out.relayed_head);
  EXPECT_TRUE(b.client.written().empty());
}

TEST(ResponseRelay, TransferCodingCannotReachAnHttp10Client) {
  Bed b;
  RelayRequest req = via_test();
  req.client_minor = 0;
  auto out = b.run("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", req);
  ASSERT_TRUE(out.error);
  EXPECT_FALSE(out.relayed_head);
  EXPECT_TRUE(b.client.written().empty());
}

}  // namespace
}  // namespace ferry
