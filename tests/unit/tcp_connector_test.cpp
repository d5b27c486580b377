// The TCP connector: address-family interleaving, the destination filter
// (and its remote-client policy), and Happy Eyeballs on loopback addresses.
#include "net/tcp_connector.h"

#include "policy/grants.h"
#include "policy/network_policy.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

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
  auto out =
      interleave_families({ep("2001:db8::1"), ep("2001:db8::2"), ep("2001:db8::3"), ep("192.0.2.1"), ep("192.0.2.2")});
  EXPECT_EQ(names(out),
            (std::vector<std::string>{"2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2", "2001:db8::3"}));
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
  for (const char* a : {"0.0.0.0", "::", "224.0.0.1", "239.255.255.250", "ff02::1", "ff05::1:3", "255.255.255.255"}) {
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

// ---------------------------------------------------------------- remote clients (D8) and own addresses (D7)

namespace ferry {
namespace {

TEST(DestinationFilter, WildcardListenerReachedThroughAHostAddress) {
  // 0.0.0.0:3128 answers on the host's LAN address too: an upstream
  // pointing there is ferry itself.
  DestinationFilter f;
  f.prohibit(ep("0.0.0.0", 3128));
  f.set_host_addresses({asio::ip::make_address("192.0.2.10"), asio::ip::make_address("2001:db8::10")});
  EXPECT_FALSE(f.check(ep("192.0.2.10", 3128)).empty());
  EXPECT_EQ(f.check(ep("192.0.2.11", 3128)), "");
  EXPECT_EQ(f.check(ep("2001:db8::10", 3128)), "") << "the v4 wildcard does not listen on v6";
}

TEST(DestinationFilter, RemoteClientsCannotReachIntoTheHost) {
  DestinationFilter f;
  f.set_host_addresses({asio::ip::make_address("192.0.2.10"), asio::ip::make_address("fe80::1%1")});
  for (const char* a : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "169.254.169.254", "169.254.0.1",
                        "fe80::1", "fe80::abcd", "192.0.2.10", "::ffff:169.254.169.254"}) {
    EXPECT_FALSE(f.check(ep(a, 80), ClientScope::remote).empty()) << a;
    EXPECT_EQ(f.check(ep(a, 80), ClientScope::local), "") << a << ": the local user keeps full reach";
  }
  for (const char* a : {"10.0.0.7", "192.168.1.1", "172.16.0.1", "192.0.2.11", "93.184.216.34", "fd00::1",
                        "2606:2800:220:1::1", "169.253.255.255", "169.255.0.1"})
    EXPECT_EQ(f.check(ep(a, 80), ClientScope::remote), "") << a;
}

TEST(ClientScope, LoopbackClientsAreLocal) {
  EXPECT_EQ(scope_of_client(asio::ip::make_address("127.0.0.1")), ClientScope::local);
  EXPECT_EQ(scope_of_client(asio::ip::make_address("::1")), ClientScope::local);
  EXPECT_EQ(scope_of_client(asio::ip::make_address("::ffff:127.0.0.1")), ClientScope::local);
  EXPECT_EQ(scope_of_client(asio::ip::make_address("10.0.0.5")), ClientScope::remote);
}

// ---------------------------------------------------------------- connect_tcp (Happy Eyeballs)

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Every name resolves to the same fixed list, at once.
class FixedResolver final : public DnsResolver {
 public:
  explicit FixedResolver(std::vector<const char*> addrs) {
    for (auto a : addrs) addrs_.push_back(asio::ip::make_address(a));
  }
  awaitable<DnsResult> resolve(const std::string&, Millis) override {
    ++calls;
    co_return addrs_;
  }
  int calls = 0;

 private:
  std::vector<asio::ip::address> addrs_;
};

struct Connected {
  std::optional<Expected<tcp::socket, ProxyError>> result;
  Clock::duration took{};
};

Connected connect_now(asio::io_context& io, const HostPort& target, Millis timeout, const Destinations& to) {
  Connected out;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        const auto t0 = Clock::now();
        auto r = co_await connect_tcp(target, timeout, to);
        out.took = Clock::now() - t0;
        out.result.emplace(std::move(r));
      },
      asio::detached);
  io.run_for(timeout + 2s);
  return out;
}

// A listener whose accept queue is full: the kernel drops further SYNs,
// so connecting to it hangs like a black-holed address.
struct BlackHole {
  BlackHole(asio::io_context& io, const char* addr, uint16_t port) : acceptor(io) {
    tcp::endpoint at(asio::ip::make_address(addr), port);
    acceptor.open(at.protocol());
    acceptor.bind(at);
    acceptor.listen(0);
    for (int i = 0; i < 2; ++i) {
      fillers.emplace_back(io);
      fillers.back().open(at.protocol());
      fillers.back().non_blocking(true);
      // ::connect, not asio's, which would wait for the dropped SYN.
      (void)::connect(fillers.back().native_handle(), at.data(), at.size());
    }
  }
  tcp::acceptor acceptor;
  std::vector<tcp::socket> fillers;
};

TEST(ConnectTcp, BlackHoledFirstAddressCostsOneAttemptDelay) {
  asio::io_context io;
  tcp::acceptor good(io, tcp::endpoint(asio::ip::make_address("127.0.0.3"), 0));
  const uint16_t port = good.local_endpoint().port();
  BlackHole hole(io, "127.0.0.2", port);
  FixedResolver dns({"127.0.0.2", "127.0.0.3"});
  DestinationFilter filter;
  auto c = connect_now(io, HostPort{"twin.test", port}, 5000ms, Destinations{dns, filter});
  ASSERT_TRUE(c.result.has_value());
  ASSERT_TRUE(*c.result) << c.result->error().details;
  EXPECT_EQ((*c.result)->remote_endpoint().address().to_string(), "127.0.0.3");
  EXPECT_GE(c.took, kConnectionAttemptDelay - 20ms);
  EXPECT_LT(c.took, 1000ms) << "the second address waited for the first to time out";
}

TEST(ConnectTcp, FailedAttemptStartsTheNextAtOnce) {
  asio::io_context io;
  tcp::acceptor good(io, tcp::endpoint(asio::ip::make_address("127.0.0.3"), 0));
  const uint16_t port = good.local_endpoint().port();
  FixedResolver dns({"127.0.0.2", "127.0.0.3"});  // nothing listens on .2: refused
  DestinationFilter filter;
  auto c = connect_now(io, HostPort{"twin.test", port}, 5000ms, Destinations{dns, filter});
  ASSERT_TRUE(c.result && *c.result);
  EXPECT_LT(c.took, 200ms);
}

TEST(ConnectTcp, RefusalOutranksTimeout) {
  asio::io_context io;
  tcp::acceptor spare(io, tcp::endpoint(asio::ip::make_address("127.0.0.3"), 0));
  const uint16_t port = spare.local_endpoint().port();
  spare.close();  // .3 now refuses
  BlackHole hole(io, "127.0.0.2", port);
  FixedResolver dns({"127.0.0.2", "127.0.0.3"});
  DestinationFilter filter;
  auto c = connect_now(io, HostPort{"twin.test", port}, 800ms, Destinations{dns, filter});
  ASSERT_TRUE(c.result && !*c.result);
  EXPECT_EQ(c.result->error().type, ProxyErrc::connection_refused) << c.result->error().details;
  EXPECT_NE(c.result->error().details.find("127.0.0.3"), std::string::npos) << c.result->error().details;
}

TEST(ConnectTcp, TimeoutWhenNothingAnswers) {
  asio::io_context io;
  tcp::acceptor spare(io, tcp::endpoint(asio::ip::make_address("127.0.0.2"), 0));
  const uint16_t port = spare.local_endpoint().port();
  spare.close();
  BlackHole hole(io, "127.0.0.2", port);
  FixedResolver dns({"127.0.0.2"});
  DestinationFilter filter;
  auto c = connect_now(io, HostPort{"hole.test", port}, 400ms, Destinations{dns, filter});
  ASSERT_TRUE(c.result && !*c.result);
  EXPECT_EQ(c.result->error().type, ProxyErrc::connection_timeout);
  EXPECT_LT(c.took, 1000ms);
}

TEST(ConnectTcp, ResolvedAddressesAreJudgedForRemoteClients) {
  // A name that resolves to loopback is loopback: refused for a remote
  // client before any packet is sent, allowed for the local user.
  asio::io_context io;
  tcp::acceptor mine(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = mine.local_endpoint().port();
  FixedResolver dns({"127.0.0.1"});
  DestinationFilter filter;
  auto remote = connect_now(io, HostPort{"inside.test", port}, 2000ms, Destinations{dns, filter, ClientScope::remote});
  ASSERT_TRUE(remote.result && !*remote.result);
  EXPECT_EQ(remote.result->error().type, ProxyErrc::destination_ip_prohibited);
  EXPECT_EQ(remote.result->error().http_status(), 403);
  io.restart();
  auto local = connect_now(io, HostPort{"inside.test", port}, 2000ms, Destinations{dns, filter, ClientScope::local});
  ASSERT_TRUE(local.result && *local.result);
}

TEST(ConnectTcp, LinkLocalAndHostAddressesRefusedForRemoteClientsWithoutConnecting) {
  asio::io_context io;
  FixedResolver dns({"169.254.169.254", "fe80::1", "192.0.2.10"});
  DestinationFilter filter;
  filter.set_host_addresses({asio::ip::make_address("192.0.2.10")});
  auto c = connect_now(io, HostPort{"metadata.test", 80}, 2000ms, Destinations{dns, filter, ClientScope::remote});
  ASSERT_TRUE(c.result && !*c.result);
  EXPECT_EQ(c.result->error().type, ProxyErrc::destination_ip_prohibited);
  EXPECT_LT(c.took, 100ms);
}

// The network policy's after-DNS check (SPEC §7 deny_ips, deny_private)
// for local clients too: the default denies link-local and metadata
// addresses; deny_private adds RFC 1918, ULA and loopback. Nothing is dialled.
TEST(ConnectTcp, PolicyDeniesMetadataAndPrivateAddressesAfterDnsWithoutConnecting) {
  asio::io_context io;
  DestinationFilter filter;
  const auto by_default = NetworkPolicy::default_policy();
  FixedResolver metadata({"169.254.169.254", "fd00:ec2::254"});
  auto c = connect_now(io, HostPort{"metadata.test", 80}, 2000ms,
                       Destinations{metadata, filter, ClientScope::local, by_default.get()});
  ASSERT_TRUE(c.result && !*c.result);
  EXPECT_EQ(c.result->error().type, ProxyErrc::destination_ip_prohibited);
  EXPECT_NE(c.result->error().details.find("deny_ips"), std::string::npos) << c.result->error().details;
  EXPECT_LT(c.took, 100ms);

  PolicySpec spec;
  spec.deny_private = true;
  auto sealed = NetworkPolicy::create(spec, GrantCatalog::builtin());
  ASSERT_TRUE(sealed) << sealed.error();
  FixedResolver internal({"10.1.2.3", "::ffff:192.168.1.1", "fd12::1"});
  asio::io_context io2;
  c = connect_now(io2, HostPort{"internal.test", 80}, 2000ms,
                  Destinations{internal, filter, ClientScope::local, sealed->get()});
  ASSERT_TRUE(c.result && !*c.result);
  EXPECT_EQ(c.result->error().type, ProxyErrc::destination_ip_prohibited);
  EXPECT_NE(c.result->error().details.find("private"), std::string::npos) << c.result->error().details;
  EXPECT_LT(c.took, 100ms);
}

TEST(ConnectTcp, IpLiteralSkipsTheResolver) {
  asio::io_context io;
  tcp::acceptor mine(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  FixedResolver dns({"192.0.2.1"});
  DestinationFilter filter;
  auto c = connect_now(io, HostPort{"127.0.0.1", mine.local_endpoint().port()}, 2000ms, Destinations{dns, filter});
  ASSERT_TRUE(c.result && *c.result);
  EXPECT_EQ(dns.calls, 0);
}

}  // namespace
}  // namespace ferry
