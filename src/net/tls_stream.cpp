#include "net/tls_stream.h"

#include <algorithm>
#include <cstring>
#include <new>

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <boost/asio/experimental/awaitable_operators.hpp>

namespace ferry {

using namespace asio::experimental::awaitable_operators;

namespace {

// The BIO pair's buffers (Asio's sizes: one full record; Asio keeps two
// more of them to copy through). OpenSSL asks for input only once it has
// drained this buffer into its own record buffer, so a read never finds it
// full; output goes out in pieces of this size.
constexpr size_t kInputBuffer = 17 * 1024;
constexpr size_t kOutputBuffer = 17 * 1024;
// Pieces of one write up to this size in all (a response head and a short
// body, a chunk with its size line) are joined into one record: one
// encryption and 22 bytes of overhead instead of one per piece, and the
// peer decrypts once.
constexpr size_t kJoinLimit = 4096;

// An OpenSSL failure as an error code (the ssl category carries OpenSSL's
// reason text), after SSL_get_error said which kind it was.
error_code ssl_error(int kind) {
  if (kind == SSL_ERROR_SSL) {
    const unsigned long e = ERR_get_error();
    if (e != 0) return error_code(int(e), asio::error::get_ssl_category());
  }
  return asio::ssl::error::unexpected_result;
}

awaitable<bool> timed_handshake(TlsStream& tls, Millis timeout, error_code& ec) {
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto result = co_await (tls.handshake(ec) || timer.async_wait(nothrow_awaitable));
  co_return result.index() == 0;
}

}  // namespace

TlsStream::TlsStream(ByteStreamPtr lower, asio::ssl::context& ctx, Role role)
    : lower_(std::move(lower)), flush_done_(lower_->socket().get_executor(), asio::steady_timer::time_point::max()) {
  ssl_ = SSL_new(ctx.native_handle());
  if (!ssl_) throw std::bad_alloc();
  BIO* inner = nullptr;
  if (BIO_new_bio_pair(&inner, kOutputBuffer, &net_, kInputBuffer) != 1) {
    SSL_free(ssl_);
    throw std::bad_alloc();
  }
  SSL_set_bio(ssl_, inner, inner);
  // Partial writes: a write larger than the output buffer goes out in
  // pieces (the buffer is drained between them).
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (role == Role::client) SSL_set_connect_state(ssl_);
  else SSL_set_accept_state(ssl_);
}

TlsStream::~TlsStream() {
  SSL_free(ssl_);  // and the inner BIO
  BIO_free(net_);
}

awaitable<void> TlsStream::handshake(error_code& ec) {
  ec = {};
  for (;;) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    if (r == 1) {
      co_await flush(ec, true);  // the client's Finished, the server's tickets
      co_return;
    }
    const int kind = SSL_get_error(ssl_, r);
    if (kind == SSL_ERROR_WANT_WRITE) {
      co_await flush(ec, true);
      if (ec) co_return;
      continue;
    }
    if (kind != SSL_ERROR_WANT_READ) {
      ec = ssl_error(kind);
      error_code ignored;
      co_await flush(ignored, true);  // the alert, so the peer learns why
      co_return;
    }
    co_await flush(ec, true);
    if (ec) co_return;
    co_await fill(ec);
    if (ec) co_return;
  }
}

TlsStream::ReadStep TlsStream::read_step(asio::mutable_buffer buf, size_t& n, error_code& ec) {
  ERR_clear_error();
  n = 0;
  const int r = SSL_read_ex(ssl_, buf.data(), buf.size(), &n);
  if (r == 1) return ReadStep::done;
  const int kind = SSL_get_error(ssl_, r);
  if (kind == SSL_ERROR_WANT_READ) return ReadStep::want_input;
  if (kind == SSL_ERROR_WANT_WRITE) return ReadStep::want_room;  // an answer (KeyUpdate) needs room
  // close_notify is a real end; anything else a failure.
  ec = kind == SSL_ERROR_ZERO_RETURN ? error_code(asio::error::eof) : ssl_error(kind);
  return ReadStep::done;
}

awaitable<size_t> TlsStream::read_some(asio::mutable_buffer buf, error_code& ec) {
  ec = {};
  if (buf.size() == 0) co_return 0;
  for (;;) {
    size_t n = 0;
    const ReadStep step = read_step(buf, n, ec);
    if (step == ReadStep::done) co_return n;
    if (step == ReadStep::want_room) {
      co_await flush(ec, true);
      if (ec) co_return 0;
      continue;
    }
    // Records that ask for an answer left it in the output; a write under
    // way sends it, else it goes now.
    if (BIO_ctrl_pending(net_) > 0) {
      co_await flush(ec, false);
      if (ec) co_return 0;
    }
    co_await fill(ec);
    if (ec) co_return 0;
  }
}

awaitable<void> TlsStream::fill(error_code& ec) {
  char* space = nullptr;
  const int room = BIO_nwrite0(net_, &space);
  if (room <= 0) {  // cannot happen (see kInputBuffer); no busy loop if it does
    ec = asio::ssl::error::unexpected_result;
    co_return;
  }
  // The lower stream reads straight into OpenSSL's input buffer. While it
  // waits, nothing may read from that buffer (OpenSSL rewinds an emptied
  // one), hence the flag for has_buffered_input.
  filling_ = true;
  const size_t n = co_await lower_->read_some(asio::buffer(space, size_t(room)), ec);
  filling_ = false;
  // The lower stream ended while TLS had not: whatever it was, the end
  // is not authenticated.
  if (is_end_of_stream(ec)) ec = asio::ssl::error::stream_truncated;
  if (ec) co_return;
  BIO_nwrite(net_, &space, int(n));
}

awaitable<void> TlsStream::flush(error_code& ec, bool wait) {
  while (flushing_) {
    if (!wait) co_return;
    co_await flush_done_.async_wait(nothrow_awaitable);
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) {
      ec = asio::error::operation_aborted;
      co_return;
    }
  }
  if (write_error_) {
    ec = write_error_;
    co_return;
  }
  flushing_ = true;
  for (;;) {
    // The bytes are written from OpenSSL's buffer and released after: more
    // output appended meanwhile (by the reading side) does not move them.
    char* data = nullptr;
    const int n = BIO_nread0(net_, &data);
    if (n <= 0) break;
    co_await lower_->write(asio::buffer(data, size_t(n)), ec);
    if (ec) {
      write_error_ = ec;
      break;
    }
    BIO_nread(net_, &data, n);
  }
  flushing_ = false;
  flush_done_.cancel();
}

int TlsStream::write_joined(const std::array<asio::const_buffer, 3>& bufs, size_t total, size_t& n) {
  char joined[kJoinLimit];
  size_t at = 0;
  for (const auto& b : bufs) {
    if (b.size() == 0) continue;  // an empty buffer's data() may be null
    std::memcpy(joined + at, b.data(), b.size());
    at += b.size();
  }
  ERR_clear_error();
  n = 0;
  // After WANT_WRITE the retry passes the same bytes again (from wherever
  // the stack has them: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
  const int r = SSL_write_ex(ssl_, joined, total, &n);
  return r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
}

awaitable<void> TlsStream::write(std::array<asio::const_buffer, 3> bufs, error_code& ec) {
  ec = {};
  size_t total = 0, pieces = 0;
  for (const auto& b : bufs) {
    total += b.size();
    pieces += b.size() > 0;
  }
  size_t taken = 0;  // bytes of bufs OpenSSL has already
  if (pieces > 1 && total <= kJoinLimit) {
    for (;;) {
      const int kind = write_joined(bufs, total, taken);
      if (kind == SSL_ERROR_NONE) break;
      if (kind != SSL_ERROR_WANT_WRITE) {
        ec = ssl_error(kind);
        co_return;
      }
      co_await flush(ec, true);  // the output buffer is full
      if (ec) co_return;
    }
  }
  for (const auto& b : bufs) {
    const char* p = static_cast<const char*>(b.data());
    size_t left = b.size();
    // Only a negotiated max_fragment_length below kJoinLimit leaves part
    // of a joined write over.
    const size_t skip = std::min(taken, left);
    p += skip;
    left -= skip;
    taken -= skip;
    while (left) {
      ERR_clear_error();
      size_t n = 0;
      const int r = SSL_write_ex(ssl_, p, left, &n);
      if (r == 1) {
        p += n;
        left -= n;
        continue;
      }
      const int kind = SSL_get_error(ssl_, r);
      if (kind != SSL_ERROR_WANT_WRITE) {
        ec = ssl_error(kind);
        co_return;
      }
      co_await flush(ec, true);  // the output buffer is full
      if (ec) co_return;
    }
  }
  co_await flush(ec, true);
}

awaitable<void> TlsStream::shutdown_send() {
  if (sent_close_) co_return;
  sent_close_ = true;
  // One SSL_shutdown queues close_notify; a second would wait for the
  // peer's and discard its data, which a half-closed stream still wants.
  ERR_clear_error();
  const int r = SSL_shutdown(ssl_);
  error_code ec;
  if (r < 0 && SSL_get_error(ssl_, r) == SSL_ERROR_WANT_WRITE) {  // no room: make some
    co_await flush(ec, true);
    ERR_clear_error();
    if (!ec) (void)SSL_shutdown(ssl_);
  }
  co_await flush(ec, true);
  if (!ec) co_await lower_->shutdown_send();
}

size_t TlsStream::read_available(asio::mutable_buffer buf, error_code& ec) {
  ec = {};
  if (buf.size() == 0) return 0;
  for (;;) {
    size_t n = 0;
    const ReadStep step = read_step(buf, n, ec);
    if (step == ReadStep::done) return n;
    if (step == ReadStep::want_room) {  // only a write can make room
      ec = asio::error::would_block;
      return 0;
    }
    // Only records without application data so far (TLS 1.3 session
    // tickets): take what the lower stream has without waiting.
    char* space = nullptr;
    const int room = BIO_nwrite0(net_, &space);
    if (room <= 0) {
      ec = asio::ssl::error::unexpected_result;
      return 0;
    }
    const size_t got = lower_->read_available(asio::buffer(space, size_t(room)), ec);
    if (is_end_of_stream(ec)) ec = asio::ssl::error::stream_truncated;
    if (!ec && got == 0) ec = asio::error::would_block;
    if (ec) return 0;
    BIO_nwrite(net_, &space, int(got));
  }
}

bool TlsStream::has_buffered_input() const {
  if (SSL_pending(ssl_) > 0 || lower_->has_buffered_input()) return true;
  if (filling_ || BIO_ctrl_pending(SSL_get_rbio(ssl_)) == 0) return false;
  // Records are buffered: decrypt them to learn whether one holds
  // application data or an end (a session ticket is neither).
  ERR_clear_error();
  char c;
  size_t n = 0;
  const int r = SSL_peek_ex(ssl_, &c, 1, &n);
  if (r == 1) return true;
  const int kind = SSL_get_error(ssl_, r);
  ERR_clear_error();
  return kind != SSL_ERROR_WANT_READ && kind != SSL_ERROR_WANT_WRITE;
}

awaitable<Expected<ByteStreamPtr, ProxyError>> tls_connect(ByteStreamPtr lower, TlsClientContext& ctx,
                                                           const std::string& host, Millis timeout) {
  auto tls = std::make_unique<TlsStream>(std::move(lower), ctx.native(), TlsStream::Role::client);
  SSL* ssl = tls->native_handle();
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

  error_code ec;
  const bool in_time = co_await timed_handshake(*tls, timeout, ec);
  if (!in_time)
    co_return Unexpected{ProxyError{ProxyErrc::tls_protocol_error, "TLS handshake with " + host + " timed out"}};
  if (ec) {
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK)
      co_return Unexpected{ProxyError{ProxyErrc::tls_certificate_error, "certificate of " + host + " not trusted: " +
                                                                            X509_verify_cert_error_string(verify)}};
    co_return Unexpected{
        ProxyError{ProxyErrc::tls_protocol_error, "TLS handshake with " + host + " failed: " + ec.message()}};
  }
  co_return ByteStreamPtr(std::move(tls));
}

awaitable<Expected<ByteStreamPtr, ProxyError>> tls_connect(tcp::socket socket, TlsClientContext& ctx,
                                                           const std::string& host, Millis timeout) {
  ByteStreamPtr lower = std::make_unique<TcpStream>(std::move(socket));
  auto secured = co_await tls_connect(std::move(lower), ctx, host, timeout);
  co_return secured;
}

awaitable<Expected<ByteStreamPtr, ProxyError>> tls_accept(ByteStreamPtr lower, TlsServerContext& ctx, Millis timeout) {
  auto accepted = co_await tls_accept_stream(std::move(lower), ctx.native(), timeout);
  if (!accepted) co_return Unexpected{accepted.error()};
  co_return ByteStreamPtr(std::move(*accepted));
}

awaitable<Expected<std::unique_ptr<TlsStream>, ProxyError>> tls_accept_stream(ByteStreamPtr lower,
                                                                              asio::ssl::context& ctx, Millis timeout) {
  auto accepted = co_await tls_accept_stream(std::move(lower), ctx, timeout, nullptr);
  co_return accepted;
}

awaitable<Expected<std::unique_ptr<TlsStream>, ProxyError>> tls_accept_stream(ByteStreamPtr lower,
                                                                              asio::ssl::context& ctx, Millis timeout,
                                                                              std::function<bool(SSL*)> setup) {
  auto tls = std::make_unique<TlsStream>(std::move(lower), ctx, TlsStream::Role::server);
  if (setup && !setup(tls->native_handle()))
    co_return Unexpected{ProxyError{ProxyErrc::tls_protocol_error, "cannot set up the TLS server connection"}};
  error_code ec;
  const bool in_time = co_await timed_handshake(*tls, timeout, ec);
  if (!in_time)
    co_return Unexpected{ProxyError{ProxyErrc::tls_protocol_error, "TLS handshake with a client timed out"}};
  if (ec)
    co_return Unexpected{
        ProxyError{ProxyErrc::tls_protocol_error, "TLS handshake with a client failed: " + ec.message()}};
  co_return tls;
}

}  // namespace ferry
