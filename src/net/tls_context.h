#pragma once
// TLS configurations (OpenSSL SSL_CTX) for the two roles of a TlsStream.
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/ssl/context.hpp>

#include "base/expected.h"

namespace ferry {

// Connections to origins and https:// proxies, verified against the system
// trust store (OpenSSL's default paths, so SSL_CERT_FILE / SSL_CERT_DIR are
// honoured) or a given CA file.
class TlsClientContext {
 public:
  TlsClientContext();  // system trust
  // Trusts only the certificates in `path` (PEM), e.g. --upstream-ca.
  static Expected<std::unique_ptr<TlsClientContext>, std::string> with_ca_file(const std::string& path);
  boost::asio::ssl::context& native() { return ctx_; }

 private:
  boost::asio::ssl::context ctx_;
};

// The server side (TLS interception, tests): one certificate chain and key.
class TlsServerContext {
 public:
  // PEM text: the leaf first, then any intermediates; an unencrypted key.
  static Expected<std::unique_ptr<TlsServerContext>, std::string> from_pem(std::string_view cert_chain,
                                                                           std::string_view key);
  // A leaf, the certificate that issued it (sent as the chain; may be
  // null) and the leaf's key, as OpenSSL objects (each up-referenced).
  static Expected<std::unique_ptr<TlsServerContext>, std::string> from_certificate(X509* leaf, X509* issuer,
                                                                                   EVP_PKEY* key);
  // No certificate: each connection gets its own before the handshake
  // (SSL_use_cert_and_key), as the interception leaves do.
  static std::unique_ptr<TlsServerContext> without_certificate();
  boost::asio::ssl::context& native() { return ctx_; }

 private:
  TlsServerContext();
  boost::asio::ssl::context ctx_;
};

}  // namespace ferry
