// Pure parts of the TCP connector: address-family interleaving and the
// destination filter.
#include "net/tcp_connector.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry {
namespace {

tcp::endpoint ep(const char* a, uint16_t port = 80) { return tcp::endpoint(asio::ip::make_address(a), port); }

std::vector<std::string> names(const std::vector<tcp::endpoint>& eps) {
  std::vector<std::string> out;
  for (const auto& e : eps) out.push_back(e.address().to_string());
  return out;
}

TEST(InterleaveFamilies, Empty) { EXPECT_TRUE(interleave_families({}).empty()); }

TEST(InterleaveFamilies, SingleFamilyKeepsOrder) {
  auto out = interleave_families({ep("192.0.2.3"), ep("192.0.2.1"), ep("192.0.2.2")});
  EXPECT_EQ(names(out), (std::vector<std::string>{"192.0.2.3", "192.0.2.1", "192.0.2.2"}));
}

TEST(InterleaveFamilies, StartsWithResolverPreferredV6) {
  auto out = interleave_families({ep("2001:db8::1"), ep("2001:db8::2"), ep("2001:db8::3"), ep("192.0.2.1"),
                                  ep("192.0.2.2")});
  EXPECT_EQ(names(out), (std::vector<std::string>{"2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2",
                                                  "2001:db8::3"}));
}

TEST(InterleaveFamilies, StartsWithResolverPreferredV4) {
  auto out = interleave_families({ep("192.0.2.1"), ep("2001:db8::1"), ep("2001:db8::2"), ep("2001:db8::3")});
  EXPECT_EQ(names(out), (std::vector<std::string>{"192.0.2.1", "2001:db8::1", "2001:db8::2", "2001:db8::3"}));
}

TEST(InterleaveFamilies, AlreadyMixed) {
  auto out = interleave_families({ep("::1"), ep("127.0.0.1"), ep("::2"), ep("127.0.0.2")});
  EXPECT_EQ(names(out), (std::vector<std::string>{"::1", "127.0.0.1", "::2", "127.0.0.2"}));
}

TEST(InterleaveFamilies, KeepsPortsAndCount) {
  std::vector<tcp::endpoint> in = {ep("192.0.2.1", 1), ep("2001:db8::1", 2), ep("192.0.2.2", 3)};
  auto out = interleave_families(in);
  ASSERT_EQ(out.size(), in.size());
  EXPECT_EQ(out[0], in[0]);
  EXPECT_EQ(out[1], in[1]);
  EXPECT_EQ(out[2], in[2]);
}

// ---------------------------------------------------------------- DestinationFilter

TEST(DestinationFilter, RejectsUnspecifiedMulticastBroadcast) {
  DestinationFilter f;
  for (const char* a : {"0.0.0.0", "::", "224.0.0.1", "239.255.255.250", "ff02::1", "ff05::1:3",
                        "255.255.255.255"}) {
    auto why = f.check(ep(a, 80));
    EXPECT_FALSE(why.empty()) << a;
  }
}

TEST(DestinationFilter, AllowsOrdinaryAddresses) {
  DestinationFilter f;
  for (const char* a : {"93.184.216.34", "10.0.0.1", "192.168.1.1", "127.0.0.1", "::1", "2606:2800:220:1::1",
                        "192.0.2.255", "223.255.255.255", "240.0.0.1"}) {
    EXPECT_EQ(f.check(ep(a, 443)), "") << a;
  }
}

TEST(DestinationFilter, ProhibitedListenerEndpoint) {
  DestinationFilter f;
  f.prohibit(ep("127.0.0.1", 3128));
  EXPECT_FALSE(f.check(ep("127.0.0.1", 3128)).empty());
  EXPECT_EQ(f.check(ep("127.0.0.1", 3129)), "");
  EXPECT_EQ(f.check(ep("127.0.0.2", 3128)), "");
  EXPECT_EQ(f.check(ep("::1", 3128)), "");
}

TEST(DestinationFilter, ProhibitedV6Listener) {
  DestinationFilter f;
  f.prohibit(ep("::1", 3128));
  EXPECT_FALSE(f.check(ep("::1", 3128)).empty());
  EXPECT_EQ(f.check(ep("127.0.0.1", 3128)), "");
}

TEST(DestinationFilter, WildcardListenerProhibitsLoopback) {
  DestinationFilter f;
  f.prohibit(ep("0.0.0.0", 3128));
  auto why = f.check(ep("127.0.0.1", 3128));
  EXPECT_FALSE(why.empty());
  EXPECT_NE(why.find("3128"), std::string::npos) << why;
  EXPECT_EQ(f.check(ep("127.0.0.1", 8080)), "");
  EXPECT_EQ(f.check(ep("::1", 3128)), "") << "a v6-only wildcard is not listening on v4, and vice versa";
}

TEST(DestinationFilter, WildcardV6ListenerProhibitsV6Loopback) {
  DestinationFilter f;
  f.prohibit(ep("::", 3128));
  EXPECT_FALSE(f.check(ep("::1", 3128)).empty());
}

TEST(DestinationFilter, WildcardListenerDoesNotBlockRemoteHostsOnSamePort) {
  // Listening on 0.0.0.0:3128 means "every local address", not "every
  // address on the internet": a Squid on another machine at :3128 (its
  // default port) is not ferry itself.
  DestinationFilter f;
  f.prohibit(ep("0.0.0.0", 3128));
  EXPECT_EQ(f.check(ep("203.0.113.5", 3128)), "");
}

TEST(DestinationFilter, V4MappedSpellingsAreNoLoophole) {
  // ::ffff:a.b.c.d reaches the same IPv4 host through a dual-stack socket.
  DestinationFilter f;
  f.prohibit(ep("127.0.0.1", 3128));
  EXPECT_FALSE(f.check(ep("::ffff:127.0.0.1", 3128)).empty()) << "own listener";
  EXPECT_FALSE(f.check(ep("::ffff:0.0.0.0", 80)).empty()) << "unspecified";
  EXPECT_FALSE(f.check(ep("::ffff:224.0.0.1", 80)).empty()) << "multicast";
  EXPECT_FALSE(f.check(ep("::ffff:255.255.255.255", 80)).empty()) << "broadcast";
  EXPECT_EQ(f.check(ep("::ffff:93.184.216.34", 80)), "");
}

}  // namespace
}  // namespace ferry
