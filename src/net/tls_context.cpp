#include "net/tls_context.h"

#include <openssl/err.h>

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

std::unique_ptr<TlsServerContext> TlsServerContext::without_certificate() {
  return std::unique_ptr<TlsServerContext>(new TlsServerContext());
}

Expected<std::unique_ptr<TlsServerContext>, std::string> TlsServerContext::from_certificate(X509* leaf, X509* issuer,
                                                                                            EVP_PKEY* key) {
  std::unique_ptr<TlsServerContext> ctx(new TlsServerContext());
  SSL_CTX* native = ctx->ctx_.native_handle();
  if (SSL_CTX_use_certificate(native, leaf) != 1 || (issuer && SSL_CTX_add1_chain_cert(native, issuer) != 1) ||
      SSL_CTX_use_PrivateKey(native, key) != 1) {
    ERR_clear_error();
    return Unexpected{std::string("cannot load the certificate and key")};
  }
  return ctx;
}

}  // namespace ferry
