#include "net/tls_context.h"

namespace ferry {

namespace {

void common_settings(boost::asio::ssl::context& ctx) {
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  // A renegotiation would need the write side to read (TLS 1.2 only); the
  // stream reads in one place, so it is refused.
  SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_RENEGOTIATION);
}

}  // namespace

TlsClientContext::TlsClientContext() : ctx_(boost::asio::ssl::context::tls_client) {
  ctx_.set_default_verify_paths();
  ctx_.set_verify_mode(boost::asio::ssl::verify_peer);
  common_settings(ctx_);
}

Expected<std::unique_ptr<TlsClientContext>, std::string> TlsClientContext::with_ca_file(const std::string& path) {
  auto ctx = std::make_unique<TlsClientContext>();
  // A fresh store: the file replaces system trust rather than adding to it.
  X509_STORE* store = X509_STORE_new();
  SSL_CTX_set_cert_store(ctx->ctx_.native_handle(), store);
  boost::system::error_code ec;
  ctx->ctx_.load_verify_file(path, ec);
  if (ec) return Unexpected{std::string("cannot load CA certificates: ") + ec.message()};
  return ctx;
}

TlsServerContext::TlsServerContext() : ctx_(boost::asio::ssl::context::tls_server) { common_settings(ctx_); }

Expected<std::unique_ptr<TlsServerContext>, std::string> TlsServerContext::from_pem(std::string_view cert_chain,
                                                                                    std::string_view key) {
  std::unique_ptr<TlsServerContext> ctx(new TlsServerContext());
  boost::system::error_code ec;
  ctx->ctx_.use_certificate_chain(boost::asio::buffer(cert_chain.data(), cert_chain.size()), ec);
  if (ec) return Unexpected{std::string("cannot load the certificate chain: ") + ec.message()};
  ctx->ctx_.use_private_key(boost::asio::buffer(key.data(), key.size()), boost::asio::ssl::context::pem, ec);
  if (ec) return Unexpected{std::string("cannot load the private key: ") + ec.message()};
  if (SSL_CTX_check_private_key(ctx->ctx_.native_handle()) != 1)
    return Unexpected{std::string("the private key does not match the certificate")};
  return ctx;
}

}  // namespace ferry
