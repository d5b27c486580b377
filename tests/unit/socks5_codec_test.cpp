// SOCKS5 client messages, byte for byte (RFC 1928, RFC 1929).
#include <gtest/gtest.h>

#include "upstream/socks5_codec.h"

namespace ferry::socks5 {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(char(x));
  return s;
}

TEST(Socks5, Greeting) {
  EXPECT_EQ(greeting(false), bytes({5, 1, 0}));
  EXPECT_EQ(greeting(true), bytes({5, 2, 0, 2}));
}

TEST(Socks5, UserPass) {
  std::string out;
  ASSERT_TRUE(userpass_request("sockuser", "sockpw", out));
  EXPECT_EQ(out, bytes({1, 8}) + "sockuser" + bytes({6}) + "sockpw");
  EXPECT_FALSE(userpass_request(std::string(256, 'u'), "x", out));
  EXPECT_FALSE(userpass_request("", "x", out));
}

TEST(Socks5, ConnectRequestAddressTypes) {
  EXPECT_EQ(connect_request("127.0.0.1", 443), bytes({5, 1, 0, 1, 127, 0, 0, 1, 1, 0xBB}));
  EXPECT_EQ(connect_request("example.org", 80), bytes({5, 1, 0, 3, 11}) + "example.org" + bytes({0, 80}));
  auto v6 = connect_request("::1", 22);
  ASSERT_EQ(v6.size(), 4u + 16 + 2);
  EXPECT_EQ(v6[3], 4);
  EXPECT_EQ(v6[19], 1);
}

TEST(Socks5, ParseReplyIncrementally) {
  auto full = bytes({5, 0, 0, 1, 10, 0, 0, 1, 0x1F, 0x90});
  for (size_t n = 0; n < full.size(); ++n) EXPECT_EQ(parse_reply(full.substr(0, n)).size, 0u) << n;
  auto r = parse_reply(full + "extra");
  EXPECT_EQ(r.size, full.size());
  EXPECT_EQ(r.code, 0);
  auto domain = bytes({5, 5, 0, 3, 3}) + "abc" + bytes({0, 1});
  EXPECT_EQ(parse_reply(domain).size, domain.size());
  EXPECT_EQ(parse_reply(domain).code, 5);
  EXPECT_TRUE(parse_reply(bytes({4, 0, 0, 1, 0, 0})).malformed);
  EXPECT_TRUE(parse_reply(bytes({5, 0, 0, 9, 0, 0})).malformed);
}

TEST(Socks5, ReplyErrorsMapToProxyStatus) {
  EXPECT_EQ(reply_error(5, "p:1").type, ProxyErrc::connection_refused);
  EXPECT_EQ(reply_error(4, "p:1").type, ProxyErrc::dns_error);
  EXPECT_EQ(reply_error(6, "p:1").type, ProxyErrc::connection_timeout);
  EXPECT_EQ(reply_error(2, "p:1").http_status(), 403);
}

}  // namespace
}  // namespace ferry::socks5
