// SOCKS5 server side, byte for byte (RFC 1928, RFC 1929).
#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

#include "server/socks5_inbound_codec.h"
#include "upstream/socks5_codec.h"

namespace ferry::socks5 {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(char(x));
  return s;
}

// ---- greeting ----

TEST(Socks5Inbound, GreetingParses) {
  auto g = parse_greeting(bytes({5, 2, 0, 2}) + "tail");
  EXPECT_FALSE(g.malformed);
  EXPECT_EQ(g.size, 4u);
  EXPECT_EQ(g.methods, (std::vector<uint8_t>{0, 2}));
  // What our own client sends parses back.
  EXPECT_EQ(parse_greeting(greeting(true)).methods, (std::vector<uint8_t>{0, 2}));
  EXPECT_EQ(parse_greeting(greeting(false)).size, 3u);
}

TEST(Socks5Inbound, GreetingEveryPrefixIsIncomplete) {
  for (auto full : {bytes({5, 1, 0}), bytes({5, 3, 0, 1, 2}), greeting(true)}) {
    for (size_t n = 0; n < full.size(); ++n) {
      auto g = parse_greeting(full.substr(0, n));
      EXPECT_EQ(g.size, 0u) << n;
      EXPECT_FALSE(g.malformed) << n;
    }
    EXPECT_EQ(parse_greeting(full).size, full.size());
  }
}

TEST(Socks5Inbound, GreetingHostile) {
  EXPECT_TRUE(parse_greeting(bytes({4})).malformed);  // SOCKS4, seen on the first byte
  EXPECT_TRUE(parse_greeting("GET / HTTP/1.1\r\n").malformed);
  EXPECT_TRUE(parse_greeting(bytes({5, 0})).malformed);
  EXPECT_TRUE(parse_greeting(bytes({5, 0, 0, 0})).malformed);
  // 255 methods announced, 3 present: wait, do not read past the end.
  auto g = parse_greeting(bytes({5, 255, 0, 1, 2}));
  EXPECT_EQ(g.size, 0u);
  EXPECT_FALSE(g.malformed);
  std::string all = bytes({5, 255}) + std::string(255, '\x02');
  g = parse_greeting(all);
  EXPECT_EQ(g.size, 257u);
  EXPECT_EQ(g.methods.size(), 255u);
}

TEST(Socks5Inbound, SelectMethod) {
  struct Case {
    std::vector<uint8_t> offered;
    bool require_userpass;
    uint8_t want;
  };
  const Case cases[] = {
      {{0}, false, kMethodNone},
      {{0, 2}, false, kMethodNone},
      {{2}, false, kMethodUnacceptable},
      {{0, 2}, true, kMethodUserPass},
      {{2}, true, kMethodUserPass},
      {{0}, true, kMethodUnacceptable},
      {{1, 0x80, 0xFE}, false, kMethodUnacceptable},
  };
  for (const auto& c : cases)
    EXPECT_EQ(select_method(c.offered, c.require_userpass), c.want)
        << testing::PrintToString(c.offered) << " " << c.require_userpass;
}

TEST(Socks5Inbound, MethodSelection) {
  EXPECT_EQ(method_selection(kMethodNone), bytes({5, 0}));
  EXPECT_EQ(method_selection(kMethodUserPass), bytes({5, 2}));
  EXPECT_EQ(method_selection(kMethodUnacceptable), bytes({5, 0xFF}));
}

// ---- RFC 1929 ----

TEST(Socks5Inbound, UserPassParses) {
  std::string req;
  ASSERT_TRUE(userpass_request("sockuser", "sockpw", req));
  auto u = parse_userpass(req + bytes({5, 1, 0}));  // pipelined CONNECT behind it
  EXPECT_FALSE(u.malformed);
  EXPECT_EQ(u.size, req.size());
  EXPECT_EQ(u.user, "sockuser");
  EXPECT_EQ(u.password, "sockpw");

  // Empty password (curl -x socks5://user:@...) and bytes outside ASCII, NUL included.
  u = parse_userpass(bytes({1, 1}) + "u" + bytes({0}));
  EXPECT_EQ(u.size, 4u);
  EXPECT_EQ(u.user, "u");
  EXPECT_EQ(u.password, "");
  u = parse_userpass(bytes({1, 2, 0xC3, 0xA9, 2, 0, 'x'}));
  EXPECT_EQ(u.size, 7u);
  EXPECT_EQ(u.user, "\xC3\xA9");
  EXPECT_EQ(u.password, std::string("\0x", 2));

  std::string longest = bytes({1, 255}) + std::string(255, 'u') + bytes({255}) + std::string(255, 'p');
  u = parse_userpass(longest);
  EXPECT_EQ(u.size, longest.size());
  EXPECT_EQ(u.user.size(), 255u);
  EXPECT_EQ(u.password.size(), 255u);
}

TEST(Socks5Inbound, UserPassEveryPrefixIsIncomplete) {
  std::string full;
  ASSERT_TRUE(userpass_request("alice", "s3cret", full));
  for (size_t n = 0; n < full.size(); ++n) {
    auto u = parse_userpass(full.substr(0, n));
    EXPECT_EQ(u.size, 0u) << n;
    EXPECT_FALSE(u.malformed) << n;
    EXPECT_TRUE(u.user.empty() && u.password.empty()) << n;
  }
}

TEST(Socks5Inbound, UserPassHostile) {
  EXPECT_TRUE(parse_userpass(bytes({5})).malformed);  // a second greeting, not RFC 1929
  EXPECT_TRUE(parse_userpass(bytes({0, 1, 'u', 0})).malformed);
  // Lengths pointing past the end: incomplete, not a read past the buffer.
  EXPECT_EQ(parse_userpass(bytes({1, 255, 'u'})).size, 0u);
  EXPECT_EQ(parse_userpass(bytes({1, 1, 'u', 255, 'p'})).size, 0u);
  EXPECT_FALSE(parse_userpass(bytes({1, 1, 'u', 255, 'p'})).malformed);
  // Empty user name parses; the credential check rejects it.
  EXPECT_EQ(parse_userpass(bytes({1, 0, 0})).size, 3u);
}

TEST(Socks5Inbound, UserPassStatus) {
  EXPECT_EQ(userpass_status(true), bytes({1, 0}));
  EXPECT_EQ(userpass_status(false), bytes({1, 1}));
}

// ---- requests ----

TEST(Socks5Inbound, RequestAddressTypes) {
  struct Case {
    std::string wire;
    std::string host;
    uint16_t port;
    bool is_name;
  };
  const Case cases[] = {
      {bytes({5, 1, 0, 1, 127, 0, 0, 1, 1, 0xBB}), "127.0.0.1", 443, false},
      {bytes({5, 1, 0, 1, 0, 0, 0, 0, 0xFF, 0xFF}), "0.0.0.0", 65535, false},
      {bytes({5, 1, 0, 3, 11}) + "example.org" + bytes({0, 80}), "example.org", 80, true},
      {bytes({5, 1, 0, 3, 11}) + "Example.ORG" + bytes({0, 80}), "example.org", 80, true},
      {bytes({5, 1, 0, 3, 15}) + "_srv.my-host.a." + bytes({0x1F, 0x90}), "_srv.my-host.a.", 8080, true},
      {bytes({5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 22}), "2001:db8::1", 22,
       false},
      {bytes({5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 22}), "::1", 22, false},
      {bytes({5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 0, 0, 1, 0, 22}), "::ffff:10.0.0.1", 22, false},
      // IP literals sent as names (some clients do) come back as literals.
      {bytes({5, 1, 0, 3, 9}) + "127.0.0.1" + bytes({0, 80}), "127.0.0.1", 80, false},
      {bytes({5, 1, 0, 3, 3}) + "::1" + bytes({0, 80}), "::1", 80, false},
      {bytes({5, 1, 0, 3, 5}) + "[::1]" + bytes({0, 80}), "::1", 80, false},
      {bytes({5, 1, 0, 3, 12}) + "2001:DB8:0::" + bytes({0, 80}), "2001:db8::", 80, false},
  };
  for (const auto& c : cases) {
    auto r = parse_request(c.wire + "payload");
    EXPECT_FALSE(r.malformed) << c.host;
    EXPECT_EQ(r.size, c.wire.size()) << c.host;
    EXPECT_EQ(r.command, kCmdConnect) << c.host;
    EXPECT_EQ(r.host, c.host);
    EXPECT_EQ(r.port, c.port) << c.host;
    EXPECT_EQ(r.host_is_name, c.is_name) << c.host;
    EXPECT_EQ(rejection_code(r), 0) << c.host;
  }
}

TEST(Socks5Inbound, RequestRoundTripsOurClient) {
  for (std::string host : {"127.0.0.1", "example.org", "::1", "fe80::1:2"}) {
    auto wire = connect_request(host, 3128);
    auto r = parse_request(wire);
    EXPECT_EQ(r.size, wire.size()) << host;
    EXPECT_EQ(r.host, host);
    EXPECT_EQ(r.port, 3128);
  }
}

TEST(Socks5Inbound, RequestEveryPrefixIsIncomplete) {
  const std::string fulls[] = {
      bytes({5, 1, 0, 1, 10, 0, 0, 1, 0x1F, 0x90}),
      bytes({5, 1, 0, 3, 3}) + "abc" + bytes({0, 1}),
      bytes({5, 1, 0, 3, 255}) + std::string(255, 'a') + bytes({0, 1}),
      bytes({5, 2, 0, 4}) + std::string(16, '\x01') + bytes({0, 1}),
  };
  for (const auto& full : fulls) {
    for (size_t n = 0; n < full.size(); ++n) {
      auto r = parse_request(full.substr(0, n));
      EXPECT_EQ(r.size, 0u) << n;
      EXPECT_FALSE(r.malformed) << n;
      EXPECT_EQ(r.error_reply, 0) << n;
    }
    EXPECT_EQ(parse_request(full).size, full.size());
  }
}

TEST(Socks5Inbound, RequestMalformed) {
  struct Case {
    const char* what;
    std::string wire;
    uint8_t reply;
  };
  const Case cases[] = {
      {"SOCKS4 request", bytes({4, 1, 0, 80, 127, 0, 0, 1, 0}), kReplyGeneralFailure},
      {"bad version, first byte only", bytes({6}), kReplyGeneralFailure},
      {"reserved byte set", bytes({5, 1, 1, 1, 127, 0, 0, 1, 0, 80}), kReplyGeneralFailure},
      {"reserved byte set, incomplete", bytes({5, 1, 0xFF}), kReplyGeneralFailure},
      {"unknown ATYP 0", bytes({5, 1, 0, 0}), kReplyAddressTypeNotSupported},
      {"unknown ATYP 2", bytes({5, 1, 0, 2, 1, 2, 3, 4, 0, 80}), kReplyAddressTypeNotSupported},
      {"unknown ATYP 255", bytes({5, 1, 0, 255}), kReplyAddressTypeNotSupported},
      {"zero-length domain", bytes({5, 1, 0, 3, 0}), kReplyGeneralFailure},
      {"zero-length domain, complete", bytes({5, 1, 0, 3, 0, 0, 80}), kReplyGeneralFailure},
      {"NUL in domain", bytes({5, 1, 0, 3, 8}) + std::string("evil\0com", 8) + bytes({0, 80}), kReplyGeneralFailure},
      {"NUL-terminated domain", bytes({5, 1, 0, 3, 4, 'a', 'b', 'c', 0, 0, 80}), kReplyGeneralFailure},
      {"space in domain", bytes({5, 1, 0, 3, 3}) + "a b" + bytes({0, 80}), kReplyGeneralFailure},
      {"CRLF in domain", bytes({5, 1, 0, 3, 5}) + "a\r\nbc" + bytes({0, 80}), kReplyGeneralFailure},
      {"slash in domain", bytes({5, 1, 0, 3, 3}) + "a/b" + bytes({0, 80}), kReplyGeneralFailure},
      {"host:port in domain", bytes({5, 1, 0, 3, 6}) + "a.b:80" + bytes({0, 80}), kReplyGeneralFailure},
      {"scoped IPv6 in domain", bytes({5, 1, 0, 3, 10}) + "fe80::1%lo" + bytes({0, 80}), kReplyGeneralFailure},
      {"bracketed IPv4 in domain", bytes({5, 1, 0, 3, 9}) + "[1.2.3.4]" + bytes({0, 80}), kReplyGeneralFailure},
      {"unbalanced bracket", bytes({5, 1, 0, 3, 4}) + "[::1" + bytes({0, 80}), kReplyGeneralFailure},
      {"UTF-8 in domain", bytes({5, 1, 0, 3, 4, 'x', 0xC3, 0xA9, 'y', 0, 80}), kReplyGeneralFailure},
      {"all 255 bytes 0xFF", bytes({5, 1, 0, 3, 255}) + std::string(255, '\xFF') + bytes({0, 80}),
       kReplyGeneralFailure},
  };
  for (const auto& c : cases) {
    auto r = parse_request(c.wire);
    EXPECT_TRUE(r.malformed) << c.what;
    EXPECT_EQ(r.size, 0u) << c.what;
    EXPECT_EQ(r.error_reply, c.reply) << c.what;
    EXPECT_EQ(rejection_code(r), c.reply) << c.what;
  }
}

TEST(Socks5Inbound, RequestLengthPastEndWaits) {
  // A domain length pointing far past what has arrived is just incomplete.
  auto r = parse_request(bytes({5, 1, 0, 3, 200}) + "abc");
  EXPECT_EQ(r.size, 0u);
  EXPECT_FALSE(r.malformed);
}

TEST(Socks5Inbound, OtherCommandsParseButAreRejected) {
  for (uint8_t cmd : {kCmdBind, kCmdUdpAssociate, uint8_t(0), uint8_t(9), uint8_t(0xFF)}) {
    auto wire = bytes({5, cmd, 0, 1, 10, 0, 0, 1, 0, 53});
    auto r = parse_request(wire);
    EXPECT_FALSE(r.malformed) << int(cmd);
    EXPECT_EQ(r.size, wire.size()) << int(cmd);
    EXPECT_EQ(r.command, cmd);
    EXPECT_EQ(r.host, "10.0.0.1");
    EXPECT_EQ(rejection_code(r), kReplyCommandNotSupported) << int(cmd);
  }
}

// ---- replies ----

TEST(Socks5Inbound, ReplyBytes) {
  using boost::asio::ip::make_address;
  using boost::asio::ip::tcp;
  EXPECT_EQ(reply(kReplySucceeded), bytes({5, 0, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(reply(kReplyConnectionRefused), bytes({5, 5, 0, 1, 0, 0, 0, 0, 0, 0}));
  tcp::endpoint v4(make_address("192.0.2.7"), 0x1F90);
  EXPECT_EQ(reply(0, &v4), bytes({5, 0, 0, 1, 192, 0, 2, 7, 0x1F, 0x90}));
  tcp::endpoint v6(make_address("2001:db8::2"), 443);
  EXPECT_EQ(reply(0, &v6), bytes({5, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0xBB}));
  tcp::endpoint mapped(make_address("::ffff:10.1.2.3"), 80);
  EXPECT_EQ(reply(0, &mapped), bytes({5, 0, 0, 1, 10, 1, 2, 3, 0, 80}));
}

TEST(Socks5Inbound, ReplyParsesWithOurClient) {
  using boost::asio::ip::make_address;
  boost::asio::ip::tcp::endpoint v6(make_address("::1"), 1080);
  for (uint8_t code = 0; code <= 8; ++code) {
    for (auto wire : {reply(code), reply(code, &v6)}) {
      auto r = parse_reply(wire);
      EXPECT_FALSE(r.malformed);
      EXPECT_EQ(r.size, wire.size());
      EXPECT_EQ(r.code, code);
    }
  }
}

TEST(Socks5Inbound, ReplyCodeForProxyErrors) {
  struct Case {
    ProxyErrc type;
    uint8_t code;
  };
  const Case cases[] = {
      {ProxyErrc::dns_error, kReplyHostUnreachable},
      {ProxyErrc::dns_timeout, kReplyHostUnreachable},
      {ProxyErrc::connection_refused, kReplyConnectionRefused},
      {ProxyErrc::connection_timeout, kReplyTtlExpired},
      {ProxyErrc::destination_unavailable, kReplyNetworkUnreachable},
      {ProxyErrc::connection_read_timeout, kReplyGeneralFailure},
      {ProxyErrc::http_request_error, kReplyGeneralFailure},
      {ProxyErrc::destination_ip_prohibited, kReplyNotAllowed},
      {ProxyErrc::http_request_denied, kReplyNotAllowed},
      {ProxyErrc::connection_terminated, kReplyGeneralFailure},
      {ProxyErrc::connection_limit_reached, kReplyGeneralFailure},
      {ProxyErrc::tls_protocol_error, kReplyGeneralFailure},
      {ProxyErrc::tls_certificate_error, kReplyGeneralFailure},
      {ProxyErrc::proxy_internal_error, kReplyGeneralFailure},
      {ProxyErrc::proxy_configuration_error, kReplyGeneralFailure},
      {ProxyErrc::proxy_loop_detected, kReplyGeneralFailure},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(reply_code_for({c.type, "x"}), c.code) << proxy_errc_name(c.type);
    EXPECT_NE(reply_code_for({c.type, "x"}), kReplySucceeded);
  }
  // Through a chain of ferries, the upstream client maps the code back to
  // the same type (dns_timeout becomes dns_error).
  for (auto t : {ProxyErrc::dns_error, ProxyErrc::connection_refused, ProxyErrc::connection_timeout})
    EXPECT_EQ(reply_error(reply_code_for({t, ""}), "p:1").type, t) << proxy_errc_name(t);
}

// ---- client tokens over RFC 1929 (SPEC §7) ----

// What curl sends with `-x socks5h://run:TOKEN@host` when ferry requires
// tokens, and ferry's answers, byte for byte.
TEST(Socks5Inbound, TokenHandshakeTranscript) {
  const std::string token = "q3Vd0hFz-7aVb_K1s9Lw2mXcN4pR6tY8uE0iO5aS1dF";  // generate_client_token's shape
  const std::string hello = bytes({5, 2, 0, 2});
  auto g = parse_greeting(hello);
  ASSERT_EQ(g.size, hello.size());
  const uint8_t method = select_method(g.methods, /*require_userpass=*/true);
  EXPECT_EQ(method_selection(method), bytes({5, 2}));

  const std::string auth = bytes({1, 3}) + "run" + bytes({int(token.size())}) + token;
  const std::string connect = bytes({5, 1, 0, 3, 9}) + "127.0.0.1" + bytes({0x1f, 0x90});
  const std::string in = auth + connect;  // the client may pipeline its CONNECT
  auto u = parse_userpass(in);
  ASSERT_FALSE(u.malformed);
  ASSERT_EQ(u.size, auth.size());
  EXPECT_EQ(u.user, "run");
  EXPECT_EQ(u.password, token);  // the token to look up; the user name is ignored
  EXPECT_EQ(userpass_status(true), bytes({1, 0}));
  EXPECT_EQ(userpass_status(false), bytes({1, 1}));
  auto r = parse_request(std::string_view(in).substr(u.size));
  EXPECT_EQ(r.size, connect.size());
  EXPECT_EQ(r.host, "127.0.0.1");
  EXPECT_EQ(r.port, 8080);
}

TEST(Socks5Inbound, TokensRequiredRefusesClientsWithoutUserPass) {
  for (auto offer : {bytes({5, 1, 0}), bytes({5, 1, 1}), bytes({5, 3, 0, 1, 0x80})}) {
    auto g = parse_greeting(offer);
    ASSERT_EQ(g.size, offer.size());
    EXPECT_EQ(method_selection(select_method(g.methods, true)), bytes({5, 0xFF})) << testing::PrintToString(offer);
    // Without tokens, a client offering "no authentication" keeps being served.
    if (offer[2] == 0) {
      EXPECT_EQ(select_method(g.methods, false), kMethodNone);
    }
  }
  // A client that answers 05 02 with a second greeting instead of RFC 1929.
  EXPECT_TRUE(parse_userpass(bytes({5, 1, 0})).malformed);
}

// The token does not stay in the parsed message's memory once it is gone.
TEST(Socks5Inbound, UserPassWipesThePasswordWhenDestroyed) {
  const std::string pw = "shortpw-123";  // held inside the string object (small string)
  const std::string msg = bytes({1, 1}) + "u" + bytes({int(pw.size())}) + pw;
  alignas(UserPass) unsigned char storage[sizeof(UserPass)];
  auto* u = new (storage) UserPass(parse_userpass(msg));
  ASSERT_EQ(u->password, pw);
  std::string_view raw(reinterpret_cast<const char*>(storage), sizeof storage);
  ASSERT_NE(raw.find(pw), std::string_view::npos);  // the test sees the inline buffer
  u->~UserPass();
  EXPECT_EQ(raw.find(pw), std::string_view::npos);
}

}  // namespace
}  // namespace ferry::socks5
