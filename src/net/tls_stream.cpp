#include "net/tls_stream.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/write.hpp>
#include <openssl/x509v3.h>

namespace ferry {

using namespace asio::experimental::awaitable_operators;

TlsClientContext::TlsClientContext() : ctx_(asio::ssl::context::tls_client) {
  ctx_.set_default_verify_paths();
  ctx_.set_verify_mode(asio::ssl::verify_peer);
  SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
}

Expected<std::unique_ptr<TlsClientContext>, std::string> TlsClientContext::with_ca_file(const std::string& path) {
  auto ctx = std::make_unique<TlsClientContext>();
  // A fresh store: the file replaces system trust rather than adding to it.
  X509_STORE* store = X509_STORE_new();
  SSL_CTX_set_cert_store(ctx->ctx_.native_handle(), store);
  error_code ec;
  ctx->ctx_.load_verify_file(path, ec);
  if (ec) return Unexpected{std::string("cannot load CA certificates: ") + ec.message()};
  return ctx;
}

awaitable<size_t> TlsStream::read_some(asio::mutable_buffer buf, error_code& ec) {
  auto [e, n] = co_await stream_.async_read_some(buf, nothrow_awaitable);
  // Many servers close without close_notify; treat that as a plain EOF and
  // let the HTTP framing decide whether the body was complete.
  ec = (e == asio::ssl::error::stream_truncated) ? asio::error::eof : e;
  co_return n;
}

awaitable<void> TlsStream::write(std::array<asio::const_buffer, 3> bufs, error_code& ec) {
  auto [e, n] = co_await asio::async_write(stream_, bufs, nothrow_awaitable);
  (void)n;
  ec = e;
}

size_t TlsStream::read_available(asio::mutable_buffer buf, error_code& ec) {
  // With the socket in non-blocking mode the synchronous SSL read returns
  // would_block instead of waiting when the records that arrived held no
  // application data; the engine keeps any partial record for next time.
  auto& sock = stream_.next_layer();
  sock.non_blocking(true, ec);
  if (ec) return 0;
  size_t n = stream_.read_some(buf, ec);
  error_code ignored;
  sock.non_blocking(false, ignored);
  if (ec == asio::ssl::error::stream_truncated) ec = asio::error::eof;
  return n;
}

awaitable<void> TlsStream::shutdown_send() {
  // TLS has no half-close that servers honour; send close_notify and move on.
  SSL_shutdown(stream_.native_handle());
  co_return;
}

bool TlsStream::has_buffered_input() const {
  return SSL_pending(const_cast<asio::ssl::stream<tcp::socket>&>(stream_).native_handle()) > 0;
}

awaitable<Expected<ByteStreamPtr, ProxyError>> tls_connect(tcp::socket socket, TlsClientContext& ctx,
                                                           const std::string& host, Millis timeout) {
  auto tls = std::make_unique<TlsStream>(std::move(socket), ctx.native());
  SSL* ssl = tls->ssl().native_handle();
  boost::system::error_code addr_ec;
  (void)asio::ip::make_address(host, addr_ec);  // an IP literal gets IP verification, no SNI
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (addr_ec) {
    SSL_set_tlsext_host_name(ssl, host.c_str());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  }

  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  error_code ec;
  auto result = co_await (tls->ssl().async_handshake(asio::ssl::stream_base::client,
                                                     asio::redirect_error(asio::use_awaitable, ec)) ||
                          timer.async_wait(nothrow_awaitable));
  if (result.index() == 1)
    co_return Unexpected{ProxyError{ProxyErrc::tls_protocol_error, "TLS handshake with " + host + " timed out"}};
  if (ec) {
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK)
      co_return Unexpected{ProxyError{ProxyErrc::tls_certificate_error,
                                      "certificate of " + host + " not trusted: " +
                                          X509_verify_cert_error_string(verify)}};
    co_return Unexpected{ProxyError{ProxyErrc::tls_protocol_error, "TLS handshake with " + host + " failed: " + ec.message()}};
  }
  co_return ByteStreamPtr(std::move(tls));
}

}  // namespace ferry
