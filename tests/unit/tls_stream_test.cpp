// TlsStream over in-memory byte streams: client and server, data both
// ways, half-close in both directions (close_notify, then the lower
// stream's half-close), truncation, and TLS inside TLS.
#include "net/tls_stream.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <cstdio>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <fstream>
#include <string>

#include "memory_stream.h"
#include "test_certificates.h"

namespace ferry {
namespace {

using namespace asio::experimental::awaitable_operators;
using testing::MemoryStream;
using testing::self_signed;

constexpr Millis kTimeout{5000};
const std::string kHost = "tls.test";

// Runs one coroutine on `io` to completion; rethrows what escaped it.
template <class Make>
void run(asio::io_context& io, Make make) {
  std::exception_ptr failure;
  asio::co_spawn(io, make(), [&](std::exception_ptr e) { failure = e; });
  io.run();
  io.restart();
  if (failure) std::rethrow_exception(failure);
}

awaitable<std::string> read_n(ByteStream& s, size_t n, error_code& ec) {
  std::string out;
  char buf[4096];
  while (out.size() < n) {
    size_t got = co_await s.read_some(asio::buffer(buf, std::min(sizeof buf, n - out.size())), ec);
    if (ec) break;
    out.append(buf, got);
  }
  co_return out;
}

// What a read returns after the data: the end (eof or truncated) or an error.
awaitable<error_code> read_end(ByteStream& s) {
  char buf[256];
  error_code ec;
  size_t n = co_await s.read_some(asio::buffer(buf), ec);
  if (!ec && n) ec = asio::error::message_size;  // data where the end should be
  co_return ec;
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 131 + 7) % 251);
  return s;
}

class TlsStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto [cert, key] = self_signed(kHost);
    // Per process: ctest runs each test as its own process, in parallel, and
    // each makes its own certificate.
    ca_path_ = ::testing::TempDir() + "/ferry-tls-stream-test-ca-" + std::to_string(::getpid()) + ".pem";
    std::ofstream(ca_path_) << cert;
    cert_ = cert;
    key_ = key;
  }

  static void TearDownTestSuite() { std::remove(ca_path_.c_str()); }

  void SetUp() override {
    auto server = TlsServerContext::from_pem(cert_, key_);
    ASSERT_TRUE(server) << server.error();
    server_ctx_ = std::move(*server);
    auto client = TlsClientContext::with_ca_file(ca_path_);
    ASSERT_TRUE(client) << client.error();
    client_ctx_ = std::move(*client);
  }

  // A handshake over `a` (client) and `b` (server).
  awaitable<std::pair<Expected<ByteStreamPtr, ProxyError>, Expected<ByteStreamPtr, ProxyError>>> handshake(
      ByteStreamPtr a, ByteStreamPtr b, std::string host = kHost) {
    auto [c, s] = co_await (tls_connect(std::move(a), *client_ctx_, host, kTimeout) &&
                            tls_accept(std::move(b), *server_ctx_, kTimeout));
    co_return std::pair{std::move(c), std::move(s)};
  }

  asio::io_context io_;
  std::unique_ptr<TlsServerContext> server_ctx_;
  std::unique_ptr<TlsClientContext> client_ctx_;
  static inline std::string ca_path_, cert_, key_;
};

TEST_F(TlsStreamTest, DataBothWays) {
  auto [a, b] = testing::memory_stream_pair(io_.get_executor());
  const std::string big = pattern(300 * 1024);  // many records, more than the output buffer
  std::string at_server, at_client;
  error_code read_ec, write_ec;
  bool connected = false;
  run(io_, [&]() -> awaitable<void> {
    auto [c, s] = co_await handshake(std::move(a), std::move(b));
    connected = c && s;
    if (!connected) co_return;
    // Three buffers, as the chunked relay writes them.
    co_await (*c)->write({asio::buffer("5\r\n", 3), asio::buffer("hello", 5), asio::buffer("\r\n", 2)}, write_ec);
    at_server = co_await read_n(**s, 10, read_ec);
    // The server writes while the client reads.
    error_code server_ec;
    auto writer = [&]() -> awaitable<void> { co_await (*s)->write(asio::buffer(big), server_ec); };
    auto got = co_await (writer() && read_n(**c, big.size(), read_ec));
    at_client = std::move(got);
    if (server_ec) write_ec = server_ec;
  });
  ASSERT_TRUE(connected);
  EXPECT_FALSE(read_ec) << read_ec.message();
  EXPECT_FALSE(write_ec) << write_ec.message();
  EXPECT_EQ(at_server, "5\r\nhello\r\n");
  EXPECT_TRUE(at_client == big) << at_client.size() << " bytes";
}

// Application-data records a TlsStream received (msg callback on its SSL).
void count_records(int write_p, int, int content_type, const void* buf, size_t len, SSL*, void* arg) {
  if (!write_p && content_type == SSL3_RT_HEADER && len > 0 && static_cast<const unsigned char*>(buf)[0] == 23)
    ++*static_cast<int*>(arg);
}

// Small pieces of one write (a head and a short body, a chunk and its
// framing) travel as one record; larger writes are split as before, and
// every byte arrives in order either way.
TEST_F(TlsStreamTest, SmallPiecesOfOneWriteGoOutAsOneRecord) {
  auto [a, b] = testing::memory_stream_pair(io_.get_executor());
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", body = pattern(100);
  const std::string large = pattern(5000);
  std::string small_got, large_got;
  int small_records = 0, large_records = 0;
  error_code read_ec, write_ec;
  bool connected = false;
  run(io_, [&]() -> awaitable<void> {
    auto [c, s] = co_await handshake(std::move(a), std::move(b));
    connected = c && s;
    if (!connected) co_return;
    SSL* server = static_cast<TlsStream&>(**s).native_handle();
    int records = 0;
    SSL_set_msg_callback(server, count_records);
    SSL_set_msg_callback_arg(server, &records);
    co_await (*c)->write({asio::buffer(head), asio::buffer(body), asio::buffer("\r\n", 2)}, write_ec);
    small_got = co_await read_n(**s, head.size() + body.size() + 2, read_ec);
    small_records = std::exchange(records, 0);
    co_await (*c)->write({asio::buffer(head), asio::buffer(large), asio::const_buffer()}, write_ec);
    large_got = co_await read_n(**s, head.size() + large.size(), read_ec);
    large_records = records;
    SSL_set_msg_callback(server, nullptr);
  });
  ASSERT_TRUE(connected);
  EXPECT_FALSE(read_ec) << read_ec.message();
  EXPECT_FALSE(write_ec) << write_ec.message();
  EXPECT_EQ(small_got, head + body + "\r\n");
  EXPECT_EQ(small_records, 1);
  EXPECT_TRUE(large_got == head + large);
  EXPECT_EQ(large_records, 2);  // over the limit: a record per piece
}

TEST_F(TlsStreamTest, HalfCloseEachWaySendsCloseNotifyThenLowerHalfClose) {
  auto [a, b] = testing::memory_stream_pair(io_.get_executor());
  MemoryStream& client_lower = *a;
  MemoryStream& server_lower = *b;
  bool connected = false;
  error_code server_saw, client_saw, answer_ec;
  bool lower_closed_after_client_close = false, lower_closed_after_server_close = false;
  std::string answer;
  run(io_, [&]() -> awaitable<void> {
    auto [c, s] = co_await handshake(std::move(a), std::move(b));
    connected = c && s;
    if (!connected) co_return;
    co_await (*c)->shutdown_send();
    lower_closed_after_client_close = client_lower.out().closed;
    server_saw = co_await read_end(**s);
    // The other direction still works: the server answers after the
    // client's close_notify, then closes its side.
    error_code ec;
    co_await (*s)->write(asio::buffer("answer", 6), ec);
    answer = co_await read_n(**c, 6, answer_ec);
    co_await (*s)->shutdown_send();
    lower_closed_after_server_close = server_lower.out().closed;
    client_saw = co_await read_end(**c);
  });
  ASSERT_TRUE(connected);
  EXPECT_TRUE(lower_closed_after_client_close);
  EXPECT_EQ(server_saw, asio::error::eof) << server_saw.message();  // close_notify arrived, not truncation
  EXPECT_FALSE(answer_ec) << answer_ec.message();
  EXPECT_EQ(answer, "answer");
  EXPECT_EQ(client_saw, asio::error::eof) << client_saw.message();
  EXPECT_TRUE(lower_closed_after_server_close);
}

TEST_F(TlsStreamTest, CloseWithoutCloseNotifyIsTruncation) {
  auto [a, b] = testing::memory_stream_pair(io_.get_executor());
  bool connected = false;
  error_code server_saw;
  run(io_, [&]() -> awaitable<void> {
    auto [c, s] = co_await handshake(std::move(a), std::move(b));
    connected = c && s;
    if (!connected) co_return;
    error_code ec;
    co_await (*c)->write(asio::buffer("partial", 7), ec);
    co_await static_cast<TlsStream&>(**c).lower().shutdown_send();  // a bare FIN
    std::string got = co_await read_n(**s, 7, ec);
    server_saw = co_await read_end(**s);
  });
  ASSERT_TRUE(connected);
  EXPECT_EQ(server_saw, asio::ssl::error::stream_truncated) << server_saw.message();
  EXPECT_TRUE(is_end_of_stream(server_saw));
}

TEST_F(TlsStreamTest, WrongHostIsCertificateError) {
  auto [a, b] = testing::memory_stream_pair(io_.get_executor());
  std::optional<ProxyError> client_error;
  bool server_failed = false;
  run(io_, [&]() -> awaitable<void> {
    auto [c, s] = co_await handshake(std::move(a), std::move(b), "other.test");
    if (!c) client_error = c.error();
    server_failed = !s;
  });
  ASSERT_TRUE(client_error);
  EXPECT_EQ(client_error->type, ProxyErrc::tls_certificate_error) << client_error->details;
  EXPECT_TRUE(server_failed);  // the client's alert reached it
}

TEST_F(TlsStreamTest, ReadAvailableAndBufferedInput) {
  auto [a, b] = testing::memory_stream_pair(io_.get_executor());
  bool connected = false;
  error_code before_ec, after_ec;
  size_t before = 99, after = 0;
  char got[8] = {};
  bool buffered_before = true, buffered_after = false;
  run(io_, [&]() -> awaitable<void> {
    auto [c, s] = co_await handshake(std::move(a), std::move(b));
    connected = c && s;
    if (!connected) co_return;
    // Only the server's session tickets have arrived: no application data.
    before = (*c)->read_available(asio::buffer(got), before_ec);
    error_code ec;
    co_await (*s)->write(asio::buffer("xyz", 3), ec);
    after = (*c)->read_available(asio::buffer(got, 1), after_ec);
    buffered_after = (*c)->has_buffered_input();  // "yz" are decrypted and waiting
    std::string rest = co_await read_n(**c, 2, ec);
    buffered_before = (*c)->has_buffered_input();
  });
  ASSERT_TRUE(connected);
  EXPECT_EQ(before, 0u);
  EXPECT_EQ(before_ec, asio::error::would_block) << before_ec.message();
  EXPECT_EQ(after, 1u);
  EXPECT_FALSE(after_ec);
  EXPECT_EQ(got[0], 'x');
  EXPECT_TRUE(buffered_after);
  EXPECT_FALSE(buffered_before);
}

// An echo over `s` until its end, then a half-close.
awaitable<void> echo(ByteStream& s, error_code& ec) {
  char buf[8192];
  for (;;) {
    size_t n = co_await s.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::eof) break;
    if (ec) co_return;
    co_await s.write(asio::buffer(buf, n), ec);
    if (ec) co_return;
  }
  ec = {};
  co_await s.shutdown_send();
}

TEST_F(TlsStreamTest, TlsInsideTls) {
  auto [a, b] = testing::memory_stream_pair(io_.get_executor());
  MemoryStream& client_lower = *a;
  const std::string data = pattern(200 * 1024);
  bool connected = false;
  std::string echoed;
  error_code echo_ec, read_ec, write_ec, end_ec;
  bool fin_after_close = false;
  run(io_, [&]() -> awaitable<void> {
    // The outer pair (ferry to an https:// proxy), then the inner one over
    // it (ferry to the origin through the proxy's tunnel).
    auto [oc, os] = co_await handshake(std::move(a), std::move(b));
    if (!oc || !os) co_return;
    auto [ic, is] = co_await handshake(std::move(*oc), std::move(*os));
    connected = ic && is;
    if (!connected) co_return;
    ByteStream& client = **ic;
    auto send = [&]() -> awaitable<void> {
      co_await client.write(asio::buffer(data), write_ec);
      co_await client.shutdown_send();  // inner close_notify, outer close_notify, FIN
      fin_after_close = client_lower.out().closed;
    };
    auto receive = [&]() -> awaitable<void> {
      echoed = co_await read_n(client, data.size(), read_ec);
      end_ec = co_await read_end(client);
    };
    co_await (echo(**is, echo_ec) && send() && receive());
  });
  ASSERT_TRUE(connected);
  EXPECT_FALSE(write_ec) << write_ec.message();
  EXPECT_FALSE(read_ec) << read_ec.message();
  EXPECT_FALSE(echo_ec) << echo_ec.message();
  EXPECT_TRUE(echoed == data) << echoed.size() << " bytes";
  EXPECT_TRUE(fin_after_close);
  EXPECT_EQ(end_ec, asio::error::eof) << end_ec.message();
}

}  // namespace
}  // namespace ferry
