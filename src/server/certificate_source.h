#pragma once
// Where an intercepted tunnel gets its server certificate: the process's
// leaf-certificate cache under the interception CA (src/intercept/), or a
// fixed context in tests.
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/ssl/context.hpp>

#include "base/expected.h"

namespace ferry {

class CertificateSource {
 public:
  virtual ~CertificateSource() = default;
  // A TLS server context presenting a certificate for `host` (a DNS name
  // or an IP literal), made on first use. Errors name the host, never key
  // material.
  // May block for a mint (one ECDSA signature plus a TLS context, ~0.2 ms):
  // event loops call it through off_loop.
  virtual Expected<std::shared_ptr<boost::asio::ssl::context>, std::string> server_context(std::string_view host) = 0;
  // Without blocking: the cached context, or null.
  virtual std::shared_ptr<boost::asio::ssl::context> cached(std::string_view host) = 0;
};

}  // namespace ferry
