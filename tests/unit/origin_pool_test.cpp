// The origin pool's liveness check on real loopback connections: a TLS 1.3
// connection whose server sent only its session tickets (what an origin
// connection dialled ahead of its first request has waiting) is handed
// out; one with data nobody asked for, or whose server closed, is not.
#include "server/origin_pool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cstdio>
#include <fstream>

#include "net/tls_stream.h"
#include "test_certificates.h"

namespace ferry {
namespace {

using namespace asio::experimental::awaitable_operators;

constexpr Millis kTimeout{5000};
const std::string kHost = "pool.test";
const std::string kKey = "https://pool.test:443";

class OriginPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto [cert, key] = testing::self_signed(kHost);
    ca_path_ = ::testing::TempDir() + "/ferry-origin-pool-test-ca-" + std::to_string(::getpid()) + ".pem";
    std::ofstream(ca_path_) << cert;
    auto server = TlsServerContext::from_pem(cert, key);
    ASSERT_TRUE(server) << server.error();
    server_ctx_ = std::move(*server);
    auto client = TlsClientContext::with_ca_file(ca_path_);
    ASSERT_TRUE(client) << client.error();
    client_ctx_ = std::move(*client);
  }
  void TearDown() override { std::remove(ca_path_.c_str()); }

  // A TLS connection over loopback TCP: (client, server), both handshaken.
  std::pair<ByteStreamPtr, ByteStreamPtr> connect_pair() {
    tcp::acceptor acceptor(io_, {asio::ip::address_v4::loopback(), 0});
    std::pair<ByteStreamPtr, ByteStreamPtr> out;
    auto both = [&]() -> awaitable<void> {
      tcp::socket client(io_);
      co_await client.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
      tcp::socket server = co_await acceptor.async_accept(asio::use_awaitable);
      // As ferry's sockets: no Nagle delay holding a small record back.
      client.set_option(tcp::no_delay(true));
      server.set_option(tcp::no_delay(true));
      auto [c, s] = co_await (tls_connect(std::move(client), *client_ctx_, kHost, kTimeout) &&
                              tls_accept(std::make_unique<TcpStream>(std::move(server)), *server_ctx_, kTimeout));
      if (c && s) out = {std::move(*c), std::move(*s)};
    };
    asio::co_spawn(io_, both(), asio::detached);
    io_.run();
    io_.restart();
    return out;
  }

  // Until the client's socket has more than `than` bytes waiting (the
  // server's records); how many it has then.
  static size_t wait_readable(ByteStream& s, size_t than = 0) {
    for (int i = 0; i < 2500; ++i) {
      error_code ec;
      if (const size_t n = s.socket().available(ec); n > than) return n;
      ::usleep(2000);
    }
    return 0;
  }

  asio::io_context io_;
  std::string ca_path_;
  std::unique_ptr<TlsServerContext> server_ctx_;
  std::unique_ptr<TlsClientContext> client_ctx_;
};

TEST_F(OriginPoolTest, FreshTlsConnectionWithOnlySessionTicketsWaitingIsReused) {
  auto [client, server] = connect_pair();
  ASSERT_TRUE(client && server);
  ASSERT_GT(wait_readable(*client), 0u) << "TLS 1.3 servers send session tickets after the handshake";
  ByteStream* raw = client.get();
  OriginPool pool;
  pool.put(kKey, std::move(client));
  ByteStreamPtr taken = pool.take(kKey, OriginPool::kFreshIdle);
  EXPECT_EQ(taken.get(), raw) << "a connection holding only session tickets is alive and quiet";
}

TEST_F(OriginPoolTest, TlsConnectionWithUnaskedDataIsDiscarded) {
  auto [client, server] = connect_pair();
  ASSERT_TRUE(client && server);
  const size_t tickets = wait_readable(*client);
  ASSERT_GT(tickets, 0u);
  auto write = [&]() -> awaitable<void> {
    error_code ec;
    co_await server->write(asio::buffer("HTTP/1.1 200 OK\r\n", 17), ec);
  };
  asio::co_spawn(io_, write(), asio::detached);
  io_.run();
  io_.restart();
  ASSERT_GT(wait_readable(*client, tickets), 0u) << "the data record behind the tickets";
  OriginPool pool;
  pool.put(kKey, std::move(client));
  EXPECT_EQ(pool.take(kKey), nullptr) << "bytes nobody asked for: the connection is not reusable";
  EXPECT_EQ(pool.idle_count(), 0u);
}

TEST_F(OriginPoolTest, TlsConnectionTheServerClosedIsDiscarded) {
  auto [client, server] = connect_pair();
  ASSERT_TRUE(client && server);
  const size_t tickets = wait_readable(*client);
  ASSERT_GT(tickets, 0u);
  auto close = [&]() -> awaitable<void> { co_await server->shutdown_send(); };
  asio::co_spawn(io_, close(), asio::detached);
  io_.run();
  io_.restart();
  server->close();
  ASSERT_GT(wait_readable(*client, tickets), 0u) << "close_notify behind the tickets";
  OriginPool pool;
  pool.put(kKey, std::move(client));
  EXPECT_EQ(pool.take(kKey), nullptr) << "the origin closed: not reusable";
}

}  // namespace
}  // namespace ferry
