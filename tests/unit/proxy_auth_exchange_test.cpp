// Byte transcripts of the proxy-auth legs (curl's tests/data style): the
// auth exchange and the origin exchange driven together the way the
// forwarder and the CONNECT dialer drive them, against a scripted proxy;
// each test pins every byte ferry sends.
#include "upstream/proxy_auth_exchange.h"

#include <gtest/gtest.h>

#include "auth/basic_auth.h"
#include "scripted_stream.h"
#include "server/origin_exchange.h"

namespace ferry {
namespace {

using test::ScriptedStream;

const ProxyUrl kProxyUrl = *parse_proxy_url("http://p:3128");
constexpr std::string_view kHead = "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n";

auth::Credentials creds() {
  auth::Credentials c;
  c.user = "bob";
  c.password = auth::Secret("pw");
  return c;
}

std::string with_auth(std::string_view value) {
  std::string h(kHead);
  h.insert(h.size() - 2, "Proxy-Authorization: " + std::string(value) + "\r\n");
  return h;
}

// NEGOTIATE_MESSAGE, flags 0xa2888217, empty domain and workstation, version 10.0.
constexpr std::string_view kNtlmType1 = "NTLM TlRMTVNTUAABAAAAF4KIogAAAAAoAAAAAAAAACgAAAAKAAAAAAAADw==";
std::string ntlm_type1() { return std::string(kNtlmType1); }

// The MS-NLMP §4.2.4.3 CHALLENGE_MESSAGE.
std::string spec_challenge_b64() {
  static const char* hexed =
      "4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef"
      "00000000000000002400240044000000060070170000000f5300650072007600"
      "6500720002000c0044006f006d00610069006e0001000c005300650072007600"
      "6500720000000000";
  std::string raw;
  for (size_t i = 0; hexed[i]; i += 2) raw.push_back(char(std::stoi(std::string(hexed + i, 2), nullptr, 16)));
  return auth::base64_encode(raw);
}

struct Bed {
  asio::io_context io;
  BlockingPool blocking{1};
  ScriptedStream client{io.get_executor()};
  ScriptedStream proxy{io.get_executor()};
  ReadBuffer client_buf;
  ReadBuffer proxy_buf;
  Deadline deadline{io.get_executor()};
  std::vector<int> statuses;
  std::optional<ProxyError> refused;

  // One request as the forwarder sends it: tries until a non-407 answer or
  // a refusal. Returns whether it finished.
  bool request(ProxyAuthExchange& auth) {
    bool done = false;
    auto body = [&]() -> awaitable<void> {
      for (int tries = 0; tries < 5; ++tries) {
        auto no_token = co_await auth.begin_try(proxy);
        EXPECT_FALSE(no_token);
        std::string wire(kHead);
        auth.add_credentials(wire);
        OutgoingRequest req;
        req.head = wire;
        req.method = "GET";
        ExchangeIo xio{client, client_buf, proxy, proxy_buf, deadline, Millis(2000)};
        ExchangeOutcome x = co_await exchange_request(xio, req, PeerName{"p", nullptr});
        if (x.kind != ExchangeOutcome::Kind::response) break;
        statuses.push_back(x.resp.status);
        proxy_buf.consume(x.head_size);
        if (x.resp.status != 407) {
          refused = co_await auth.on_accepted(x.resp, proxy);
          done = true;
          break;
        }
        refused = co_await auth.on_challenge(x.resp);
        if (refused) {
          done = true;
          break;
        }
      }
    };
    asio::co_spawn(io, body, asio::detached);
    io.restart();
    io.run_for(std::chrono::seconds(5));
    return done;
  }
};

constexpr std::string_view k407Basic =
    "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"b\"\r\nContent-Length: 0\r\n\r\n";
constexpr std::string_view k200 = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

TEST(ProxyAuthTranscript, BasicLearntFromA407ThenPreemptive) {
  Bed b;
  auth::ProxyAuthenticator authr(AuthMode::automatic, creds(), "http://p:3128");
  const std::string leg2 = with_auth("Basic Ym9iOnB3");
  b.proxy.then(std::string(k407Basic), kHead.size())
      .then(std::string(k200), kHead.size() + leg2.size())
      .then(std::string(k200), kHead.size() + 2 * leg2.size());
  {
    ProxyAuthExchange first(b.blocking, &authr, {"GET", "http://x/"}, kProxyUrl);
    ASSERT_TRUE(b.request(first));
    EXPECT_FALSE(b.refused);
  }
  {
    // The next request carries Basic at once: no 407 round trip.
    ProxyAuthExchange second(b.blocking, &authr, {"GET", "http://x/"}, kProxyUrl);
    ASSERT_TRUE(b.request(second));
  }
  EXPECT_EQ(b.statuses, (std::vector<int>{407, 200, 200}));
  EXPECT_EQ(b.proxy.written(), std::string(kHead) + leg2 + leg2);
}

TEST(ProxyAuthTranscript, NtlmHandshakeOnOneConnectionThenRidesOnIt) {
  Bed b;
  auth::ProxyAuthenticator authr(AuthMode::ntlm, creds(), "http://p:3128");
  const std::string leg1 = with_auth(ntlm_type1());
  const std::string k407Type2 = "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM " +
                                spec_challenge_b64() + "\r\nContent-Length: 0\r\n\r\n";
  b.proxy.then(k407Type2, leg1.size()).then(std::string(k200), leg1.size() + 1);
  ProxyAuthExchange exchange(b.blocking, &authr, {"GET", "http://x/"}, kProxyUrl);
  ASSERT_TRUE(b.request(exchange));
  EXPECT_FALSE(b.refused);
  EXPECT_EQ(b.statuses, (std::vector<int>{407, 200}));
  const std::string& sent = b.proxy.written();
  ASSERT_TRUE(sent.starts_with(leg1));
  // The second leg: type 3 (its responses hold a random client challenge and
  // the time, so only its frame is pinned).
  const std::string leg3_prefix = "GET http://x/ HTTP/1.1\r\nHost: x\r\nProxy-Authorization: NTLM TlRMTVNTUAADAAAA";
  EXPECT_EQ(sent.substr(leg1.size(), leg3_prefix.size()), leg3_prefix);
  EXPECT_TRUE(sent.ends_with("\r\n\r\n"));
  EXPECT_TRUE(b.proxy.proxy_authenticated);

  // A later request on the authenticated connection carries nothing.
  b.proxy.then(std::string(k200), sent.size() + kHead.size());
  const size_t before = sent.size();
  ProxyAuthExchange later(b.blocking, &authr, {"GET", "http://x/"}, kProxyUrl);
  ASSERT_TRUE(b.request(later));
  EXPECT_EQ(b.proxy.written().substr(before), kHead);
}

TEST(ProxyAuthTranscript, NtlmLegsAreClassifiedForBodyRequests) {
  asio::io_context io;
  BlockingPool blocking{1};
  ScriptedStream conn(io.get_executor());
  // Configured NTLM: the first leg goes before the proxy said anything.
  auth::ProxyAuthenticator configured(AuthMode::ntlm, creds(), "http://p:3128");
  ProxyAuthExchange pre(blocking, &configured, {"POST", "http://x/"}, kProxyUrl);
  // Learnt from this request's 407: the leg answers the proxy's demand.
  auth::ProxyAuthenticator learning(AuthMode::automatic, creds(), "http://p:3128");
  ProxyAuthExchange re(blocking, &learning, {"POST", "http://x/"}, kProxyUrl);
  http::ResponseHead challenge;
  const std::string raw = "HTTP/1.1 407 X\r\nProxy-Authenticate: NTLM\r\n\r\n";
  ASSERT_EQ(http::parse_response_head(raw, challenge).state, http::ParseState::complete);
  auto body = [&]() -> awaitable<void> {
    EXPECT_FALSE(co_await pre.begin_try(conn));
    EXPECT_FALSE(co_await re.begin_try(conn));
    auto refused = co_await re.on_challenge(challenge);
    EXPECT_FALSE(refused);
    EXPECT_FALSE(co_await re.begin_try(conn));
  };
  asio::co_spawn(io, body, asio::detached);
  io.run();
  EXPECT_TRUE(pre.preemptive_ntlm_leg());
  EXPECT_FALSE(pre.reactive_ntlm_leg());
  EXPECT_EQ(pre.credentials(), ntlm_type1());
  EXPECT_TRUE(re.reactive_ntlm_leg());
  EXPECT_FALSE(re.preemptive_ntlm_leg());
}

TEST(ProxyAuthTranscript, ProxyWithoutAuthenticatorGivesTheClientA407) {
  Bed b;
  b.proxy.then(std::string(k407Basic), kHead.size());
  ProxyAuthExchange exchange(b.blocking, nullptr, {"GET", "http://x/"}, kProxyUrl);
  ASSERT_TRUE(b.request(exchange));
  ASSERT_TRUE(b.refused);
  EXPECT_EQ(b.refused->http_status(), 407);
  EXPECT_EQ(b.refused->type, ProxyErrc::http_request_denied);
  EXPECT_EQ(b.proxy.written(), kHead);
}

TEST(ProxyAuthTranscript, SecondRejectionIsTheClientsAnswerAndNamesNoSecret) {
  Bed b;
  auth::ProxyAuthenticator authr(AuthMode::automatic, creds(), "http://p:3128");
  const std::string leg2 = with_auth("Basic Ym9iOnB3");
  b.proxy.then(std::string(k407Basic), kHead.size()).then(std::string(k407Basic), kHead.size() + leg2.size());
  ProxyAuthExchange exchange(b.blocking, &authr, {"GET", "http://x/"}, kProxyUrl);
  ASSERT_TRUE(b.request(exchange));
  ASSERT_TRUE(b.refused);
  EXPECT_EQ(b.refused->http_status(), 407);
  EXPECT_EQ(b.refused->details.find("Ym9iOnB3"), std::string::npos);
  EXPECT_EQ(b.refused->details.find("pw"), std::string::npos);
  EXPECT_EQ(b.proxy.written(), std::string(kHead) + leg2);
}

}  // namespace
}  // namespace ferry
