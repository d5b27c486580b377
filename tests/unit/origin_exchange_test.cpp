// The origin-exchange stage over scripted in-memory streams: what goes to the
// origin, what reaches the client, and that a failure at any single step
// ends the exchange cleanly (the beast::test fail_count pattern).
#include "server/origin_exchange.h"

#include <gtest/gtest.h>

#include "stage_bed.h"

namespace ferry {
namespace {

using Kind = ExchangeOutcome::Kind;

struct Bed : test::StageBed {
  ExchangeOutcome run(const OutgoingRequest& req, Millis idle = Millis(5000)) {
    ExchangeOutcome out;
    const bool done = run_stage([&]() -> awaitable<void> {
      ExchangeIo xio{client, client_buf, origin, origin_buf, deadline, idle};
      const HostPort origin{"origin.test", 80};
      out = co_await exchange_request(xio, req, PeerName{{}, &origin});
    });
    EXPECT_TRUE(done) << "the exchange did not finish";
    return out;
  }
};

constexpr std::string_view kGet = "GET /x HTTP/1.1\r\nHost: origin.test\r\n\r\n";

OutgoingRequest get_request() {
  OutgoingRequest r;
  r.head = kGet;
  r.method = "GET";
  return r;
}

TEST(OriginExchange, SimpleResponse) {
  Bed b;
  b.origin.then("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", kGet.size());
  auto out = b.run(get_request());
  ASSERT_EQ(out.kind, Kind::response);
  EXPECT_EQ(out.resp.status, 200);
  EXPECT_TRUE(out.body_sent);
  EXPECT_EQ(b.origin.written(), kGet);
  // The head is at the front of the origin buffer, the body after it.
  EXPECT_EQ(b.origin_buf.data().substr(out.head_size), "hi");
  EXPECT_TRUE(b.client.written().empty());
}

TEST(OriginExchange, InterimResponsesDropTheirOwnConnectionFields) {
  Bed b;
  b.origin.then(
      "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\nConnection: x-private\r\nX-Private: 1\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      kGet.size());
  auto out = b.run(get_request());
  ASSERT_EQ(out.kind, Kind::response);
  EXPECT_EQ(out.resp.status, 200);
  EXPECT_EQ(b.client.written(), "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
}

TEST(OriginExchange, InterimNotRelayedToHttp10Client) {
  Bed b;
  b.origin.then("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", kGet.size());
  auto req = get_request();
  req.client_minor = 0;
  auto out = b.run(req);
  ASSERT_EQ(out.kind, Kind::response);
  EXPECT_EQ(out.resp.status, 204);
  EXPECT_TRUE(b.client.written().empty());
}

TEST(OriginExchange, InterimWriteFailureEndsTheExchange) {
  Bed b;
  b.origin.then("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                kGet.size());
  b.client.fail_at(1);
  auto out = b.run(get_request());
  EXPECT_EQ(out.kind, Kind::client_failed);
  EXPECT_TRUE(out.client_reported);
}

constexpr std::string_view kPost =
    "POST /x HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";

OutgoingRequest post_request(bool client_expects) {
  OutgoingRequest r;
  r.head = kPost;
  r.method = "POST";
  r.body = BodySpec{http::BodyKind::content_length, 5, false};
  r.wait_for_verdict = true;
  r.ferry_added_expect = !client_expects;
  return r;
}

TEST(OriginExchange, ContinueGoesToTheClientThatAskedThenTheBody) {
  Bed b;
  b.client.then("hello");
  b.origin.then("HTTP/1.1 100 Continue\r\n\r\n", kPost.size())
      .then("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", kPost.size() + 5);
  auto out = b.run(post_request(true));
  ASSERT_EQ(out.kind, Kind::response);
  EXPECT_EQ(out.resp.status, 201);
  EXPECT_TRUE(out.body_sent);
  EXPECT_EQ(b.origin.written(), std::string(kPost) + "hello");
  EXPECT_EQ(b.client.written(), "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST(OriginExchange, ContinueNotRelayedWhenFerryAskedOnItsOwn) {
  Bed b;
  b.client.then("hello");
  b.origin.then("HTTP/1.1 100 Continue\r\n\r\n", kPost.size())
      .then("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", kPost.size() + 5);
  auto out = b.run(post_request(false));
  ASSERT_EQ(out.kind, Kind::response);
  EXPECT_TRUE(b.client.written().empty());
}

TEST(OriginExchange, FinalAnswerBeforeTheBodyKeepsTheBody) {
  Bed b;
  b.client.then("hello");
  b.origin.then("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n", kPost.size());
  auto out = b.run(post_request(false));
  ASSERT_EQ(out.kind, Kind::response);
  EXPECT_EQ(out.resp.status, 407);
  EXPECT_TRUE(out.body_refused);
  EXPECT_FALSE(out.body_sent);
  EXPECT_EQ(b.origin.written(), kPost);  // no body byte went
  EXPECT_EQ(b.client_buf.size() + 0, 0u);
}

TEST(OriginExchange, SwitchInTheExpectWaitIsFinal) {
  // Review D21: a 101 during the wait was swallowed as an interim.
  Bed b;
  b.client.then("hello");
  b.origin.then("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", kPost.size());
  auto out = b.run(post_request(true));
  ASSERT_EQ(out.kind, Kind::response);
  EXPECT_EQ(out.resp.status, 101);
  EXPECT_TRUE(out.body_refused);
  EXPECT_TRUE(b.client.written().empty());
}

TEST(OriginExchange, NoVerdictInTimeSendsTheBody) {
  Bed b;
  b.client.then("hello");
  b.origin.then("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", kPost.size() + 5);
  auto out = b.run(post_request(true));
  ASSERT_EQ(out.kind, Kind::response);
  EXPECT_TRUE(out.body_sent);
  EXPECT_EQ(b.origin.written(), std::string(kPost) + "hello");
}

TEST(OriginExchange, CleanCloseWithoutAnswerIsNoResponse) {
  Bed b;
  b.origin.then_eof(kGet.size());
  auto out = b.run(get_request());
  EXPECT_EQ(out.kind, Kind::no_response);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->type, ProxyErrc::connection_terminated);
}

TEST(OriginExchange, CloseInsideTheHeadIsIncomplete) {
  Bed b;
  b.origin.then("HTTP/1.1 200 OK\r\nContent-", kGet.size()).then_eof(kGet.size());
  auto out = b.run(get_request());
  EXPECT_EQ(out.kind, Kind::origin_failed);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->type, ProxyErrc::http_response_incomplete);
}

TEST(OriginExchange, SilentOriginTimesOut) {
  Bed b;
  b.origin.end_after_script(false);
  auto out = b.run(get_request(), Millis(50));
  EXPECT_EQ(out.kind, Kind::origin_failed);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->type, ProxyErrc::http_response_timeout);
}

TEST(OriginExchange, OversizedHeadIsTypedNotMatchedByText) {
  Bed b;
  b.origin.then("HTTP/1.1 200 OK\r\nX-Big: " + std::string(70 * 1024, 'a'), kGet.size());
  auto out = b.run(get_request());
  EXPECT_EQ(out.kind, Kind::origin_failed);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->type, ProxyErrc::http_response_header_section_size);
}

TEST(OriginExchange, BadChunkedClientBodyIsTheClientsFault) {
  Bed b;
  b.client.then("zz\r\nhello\r\n0\r\n\r\n");
  OutgoingRequest req;
  req.head = "POST /x HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: chunked\r\n\r\n";
  req.method = "POST";
  req.body = BodySpec{http::BodyKind::chunked, 0, true};
  auto out = b.run(req);
  EXPECT_EQ(out.kind, Kind::client_failed);
  EXPECT_FALSE(out.client_reported);  // ferry answers it (400)
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->type, ProxyErrc::http_request_error);
}

// A failure at every single step, one at a time: the exchange always ends,
// never reports a response it did not read whole, and once no injected
// failure is reached it succeeds.
TEST(OriginExchange, FailureAtEveryStepOnEitherSide) {
  for (int side = 0; side < 2; ++side) {
    bool completed_without_failure = false;
    for (int n = 1; n < 64 && !completed_without_failure; ++n) {
      Bed b;
      b.client.then("hel").then("lo");
      b.origin.then("HTTP/1.1 100 Continue\r\n\r\n", kPost.size())
          .then("HTTP/1.1 103 Early Hints\r\nLink: <a>\r\n\r\n", kPost.size() + 5)
          .then("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", kPost.size() + 5);
      (side == 0 ? b.origin : b.client).fail_at(n);
      auto out = b.run(post_request(true));
      const bool hit = (side == 0 ? b.origin : b.client).failure_hit();
      if (!hit) {
        ASSERT_EQ(out.kind, Kind::response) << "side " << side << " n " << n;
        EXPECT_EQ(out.resp.status, 200);
        completed_without_failure = true;
        continue;
      }
      EXPECT_NE(out.kind, Kind::response) << "side " << side << " n " << n;
      EXPECT_TRUE(out.error.has_value()) << "side " << side << " n " << n;
    }
    EXPECT_TRUE(completed_without_failure) << "side " << side;
  }
}

}  // namespace
}  // namespace ferry
