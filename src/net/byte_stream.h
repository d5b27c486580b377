#pragma once
// One hop's byte stream (plain TCP, or TLS over any byte stream), so the HTTP
// code above it does not care which. Modelled on curl's connection filters:
// later layers (TLS to a proxy, CONNECT through it, TLS to the origin inside
// that tunnel) wrap the one below.
#include <array>
#include <memory>

#include <boost/asio/ssl/error.hpp>

#include "net/asio.h"

namespace ferry {

// The peer ended the stream: a clean EOF, or a TLS peer that closed its
// connection without close_notify (asio::ssl::error::stream_truncated).
// Byte tunnels treat both alike; a body delimited by the close must not
// (the end of a truncated one is unauthenticated: an attacker's FIN).
inline bool is_end_of_stream(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

class ByteStream {
 public:
  virtual ~ByteStream() = default;

  // Reads at least one byte; 0 with ec == eof at end of stream (or
  // stream_truncated, see is_end_of_stream).
  virtual awaitable<size_t> read_some(asio::mutable_buffer buf, error_code& ec) = 0;
  // Writes all of the buffers (empty ones are skipped).
  virtual awaitable<void> write(std::array<asio::const_buffer, 3> bufs, error_code& ec) = 0;
  // Not a coroutine itself: the caller awaits the write above directly (a
  // frame less per write).
  awaitable<void> write(asio::const_buffer buf, error_code& ec) { return write({buf, {}, {}}, ec); }
  // Half-close: no more bytes will be sent.
  virtual awaitable<void> shutdown_send() = 0;
  // Reads what is there without waiting: 0 with ec == would_block when no
  // application bytes are (for TLS a readable socket may hold only a
  // session ticket), 0 with ec == eof at end of stream.
  virtual size_t read_available(asio::mutable_buffer buf, error_code& ec) = 0;

  // Completes when the stream has something to read (or has ended): the
  // socket's readability, unless a layer holds bytes of its own.
  virtual awaitable<void> wait_readable(error_code& ec) {
    auto [e] = co_await socket().async_wait(tcp::socket::wait_read, nothrow_awaitable);
    ec = e;
  }

  // The TCP socket at the bottom of the stack: to wait for readability,
  // cancel pending operations, or splice when the stream is plain TCP.
  virtual tcp::socket& socket() = 0;
  virtual bool is_plain_tcp() const = 0;
  // Bytes that arrived but were not yet handed out (e.g. decrypted TLS
  // records), so "readable" checks are honest.
  virtual bool has_buffered_input() const { return false; }

  // Set once a connection-bound scheme (Negotiate) authenticated this
  // connection to an upstream proxy: later requests on it need no token.
  bool proxy_authenticated = false;

  // Cancels pending operations; virtual so in-memory streams (tests) can
  // wake their own waiters.
  virtual void cancel() {
    error_code ignored;
    socket().cancel(ignored);
  }
  virtual void close() {
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }
};

using ByteStreamPtr = std::unique_ptr<ByteStream>;

class TcpStream final : public ByteStream {
 public:
  explicit TcpStream(tcp::socket s) : socket_(std::move(s)) {}
  awaitable<size_t> read_some(asio::mutable_buffer buf, error_code& ec) override;
  awaitable<void> write(std::array<asio::const_buffer, 3> bufs, error_code& ec) override;
  using ByteStream::write;
  awaitable<void> shutdown_send() override;
  size_t read_available(asio::mutable_buffer buf, error_code& ec) override;
  tcp::socket& socket() override { return socket_; }
  bool is_plain_tcp() const override { return true; }

 private:
  tcp::socket socket_;
};

}  // namespace ferry
