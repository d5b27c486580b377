#pragma once
// TLS over any ByteStream, client or server side: TLS over TCP to an origin
// or an https:// proxy, TLS to an origin inside a CONNECT tunnel that itself
// runs over TLS to the proxy, and the server side for interception.
//
// OpenSSL talks to a BIO pair whose buffers the stream fills from and
// drains to the lower stream directly (no copy besides OpenSSL's own), so
// the stream decides when its output is flushed: shutdown_send's
// close_notify really leaves, followed by the lower layer's half-close.
#include <openssl/ssl.h>

#include <functional>

#include "base/duration.h"
#include "base/expected.h"
#include "base/proxy_error.h"
#include "net/byte_stream.h"
#include "net/tls_context.h"

namespace ferry {

class TlsStream final : public ByteStream {
 public:
  enum class Role { client, server };
  TlsStream(ByteStreamPtr lower, asio::ssl::context& ctx, Role role);
  ~TlsStream() override;
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // The handshake; errors are OpenSSL's (ssl category) or the lower
  // stream's (stream_truncated when it ended).
  awaitable<void> handshake(error_code& ec);

  // stream_truncated when the peer closed without close_notify.
  awaitable<size_t> read_some(asio::mutable_buffer buf, error_code& ec) override;
  // One read and one write (or shutdown_send) may run at the same time.
  awaitable<void> write(std::array<asio::const_buffer, 3> bufs, error_code& ec) override;
  using ByteStream::write;
  // close_notify, flushed, then the lower stream's shutdown_send (a TCP
  // FIN at the bottom). Reading goes on: TLS 1.3 and OpenSSL allow the
  // peer to answer after our close_notify.
  awaitable<void> shutdown_send() override;
  size_t read_available(asio::mutable_buffer buf, error_code& ec) override;
  tcp::socket& socket() override { return lower_->socket(); }
  bool is_plain_tcp() const override { return false; }
  bool has_buffered_input() const override;

  SSL* native_handle() { return ssl_; }
  ByteStream& lower() { return *lower_; }

 private:
  // One SSL_read: done (bytes in n, or the end or a failure in ec), or what
  // OpenSSL needs first.
  enum class ReadStep { done, want_input, want_room };
  ReadStep read_step(asio::mutable_buffer buf, size_t& n, error_code& ec);
  // Sends what OpenSSL wrote. With `wait`, first waits for a flush already
  // under way (the reading side's); without, leaves the bytes to it.
  awaitable<void> flush(error_code& ec, bool wait);
  // SSL_write_ex of the buffers joined into one record (total at most
  // kJoinLimit): the bytes taken in n, or the SSL_get_error kind.
  int write_joined(const std::array<asio::const_buffer, 3>& bufs, size_t total, size_t& n);
  // One read from the lower stream into OpenSSL's input.
  awaitable<void> fill(error_code& ec);

  ByteStreamPtr lower_;
  SSL* ssl_ = nullptr;
  BIO* net_ = nullptr;  // our end of the pair; OpenSSL owns the other
  bool flushing_ = false;
  bool filling_ = false;
  asio::steady_timer flush_done_;  // cancelled when a flush ends
  error_code write_error_;         // sticky: a failed flush loses bytes
  bool sent_close_ = false;
};

// Runs the client handshake with SNI and host name verification over
// `lower`. Failures are tls_certificate_error (verification) or
// tls_protocol_error (anything else), never connection errors.
awaitable<Expected<ByteStreamPtr, ProxyError>> tls_connect(ByteStreamPtr lower, TlsClientContext& ctx,
                                                           const std::string& host, Millis timeout);
awaitable<Expected<ByteStreamPtr, ProxyError>> tls_connect(tcp::socket socket, TlsClientContext& ctx,
                                                           const std::string& host, Millis timeout);

// Runs the server handshake over `lower` (tls_protocol_error on failure).
awaitable<Expected<ByteStreamPtr, ProxyError>> tls_accept(ByteStreamPtr lower, TlsServerContext& ctx, Millis timeout);
// The same with any server context, keeping the TlsStream's type (the
// caller reads the SNI and ALPN the client sent).
awaitable<Expected<std::unique_ptr<TlsStream>, ProxyError>> tls_accept_stream(ByteStreamPtr lower,
                                                                              asio::ssl::context& ctx, Millis timeout);
// The same, with `setup` called on the connection before the handshake
// (e.g. the certificate of a context shared by many hosts:
// LeafCertificate::install); false from it is a tls_protocol_error.
awaitable<Expected<std::unique_ptr<TlsStream>, ProxyError>> tls_accept_stream(ByteStreamPtr lower,
                                                                              asio::ssl::context& ctx, Millis timeout,
                                                                              std::function<bool(SSL*)> setup);

}  // namespace ferry
