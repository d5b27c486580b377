#pragma once
// Where an intercepted tunnel gets its server certificate: the process's
// leaf-certificate cache under the interception CA (src/intercept/), or a
// fixed context in tests.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

#include "base/expected.h"

namespace ferry {

class CertificateSource {
 public:
  virtual ~CertificateSource() = default;

  // A server TLS context for one connection to `host` (a DNS name or an IP
  // literal), and what puts `host`'s certificate on that connection before
  // its handshake (the leaf cache serves every host from one shared context:
  // a new host costs one certificate, not a context). `setup` may be empty.
  struct ServerTls {
    std::shared_ptr<boost::asio::ssl::context> context;
    std::function<bool(SSL*)> setup;
  };
  // May block for a mint (~50 µs of certificate making and signing): event
  // loops call it through off_loop. Errors name the host, never key material.
  virtual Expected<ServerTls, std::string> server_tls(std::string_view host) = 0;
  // Without blocking: the cached certificate's, or nullopt.
  virtual std::optional<ServerTls> cached_tls(std::string_view host) = 0;
};

}  // namespace ferry
