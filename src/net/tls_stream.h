#pragma once
// TLS client connections to origins, verified against the system trust store
// (OpenSSL's default paths, so SSL_CERT_FILE / SSL_CERT_DIR are honoured).
#include <boost/asio/ssl.hpp>

#include "base/expected.h"
#include "base/duration.h"
#include "base/proxy_error.h"
#include "net/byte_stream.h"

namespace ferry {

class TlsClientContext {
 public:
  TlsClientContext();  // system trust
  // Trusts only the certificates in `path` (PEM), e.g. --upstream-ca.
  static Expected<std::unique_ptr<TlsClientContext>, std::string> with_ca_file(const std::string& path);
  asio::ssl::context& native() { return ctx_; }

 private:
  asio::ssl::context ctx_;
};

class TlsStream final : public ByteStream {
 public:
  TlsStream(tcp::socket s, asio::ssl::context& ctx) : stream_(std::move(s), ctx) {}
  awaitable<size_t> read_some(asio::mutable_buffer buf, error_code& ec) override;
  awaitable<void> write(std::array<asio::const_buffer, 3> bufs, error_code& ec) override;
  using ByteStream::write;
  awaitable<void> shutdown_send() override;
  size_t read_available(asio::mutable_buffer buf, error_code& ec) override;
  tcp::socket& socket() override { return stream_.next_layer(); }
  bool is_plain_tcp() const override { return false; }
  bool has_buffered_input() const override;

  asio::ssl::stream<tcp::socket>& ssl() { return stream_; }

 private:
  asio::ssl::stream<tcp::socket> stream_;
};

// Runs the client handshake with SNI and host name verification. Failures
// are tls_certificate_error (verification) or tls_protocol_error (anything
// else), never connection errors.
awaitable<Expected<ByteStreamPtr, ProxyError>> tls_connect(tcp::socket socket, TlsClientContext& ctx,
                                                           const std::string& host, Millis timeout);

}  // namespace ferry
