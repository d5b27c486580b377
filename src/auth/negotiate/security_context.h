#pragma once
// The seam between ferry's auth controller and a GSSAPI implementation
// (Envoy-style: a small interface at the external boundary, so unit tests
// can drive every failure a real KDC cannot produce on demand).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/expected.h"

namespace ferry::auth {

// Why a token could not be made, in terms a user can act on.
enum class GssCause {
  no_credentials,       // no ticket in the ccache, no keytab entry
  credentials_expired,  // the TGT (or service ticket) has expired
  server_unknown,       // the KDC does not know the SPN
  kdc_unreachable,
  clock_skew,
  bad_password,        // preauthentication failed
  client_unknown,      // the KDC does not know the user
  rejected,            // the proxy refused a valid-looking token
  mutual_auth_failed,  // the proxy's answer token did not verify
  other,
};

struct GssFailure {
  GssCause cause = GssCause::other;
  std::string words;  // for the client's Proxy-Status details and the log
  std::string debug;  // GSSAPI major/minor status strings, debug log only
};

// The advice that goes with a cause ("run kinit", ...).
std::string gss_cause_words(GssCause cause, std::string_view spn);

// One security context: lives for one upstream connection (Squid binds
// Negotiate to the connection, and a token is good for one connection only).
class SecurityContext {
 public:
  virtual ~SecurityContext() = default;
  // One leg: consumes the server's token (empty on the first call) and
  // returns the token to send; an empty token once established.
  virtual Expected<std::string, GssFailure> step(std::string_view server_token) = 0;
  virtual bool established() const = 0;
};

struct CredentialStatus {
  bool present = false;
  std::string principal;   // "alice@TEST.LOCAL"
  int64_t lifetime_s = 0;  // seconds left; 0 when expired or unknown
  std::string source;      // "ccache FILE:/tmp/krb5cc_0", "password", "keytab FILE"
  GssFailure failure;      // when !present
};

// A source of security contexts for one identity (the default ccache, or
// ferry's own credentials from a password or keytab).
class GssMechanism {
 public:
  virtual ~GssMechanism() = default;
  // A fresh context towards `spn` ("HTTP@proxy.corp").
  virtual std::unique_ptr<SecurityContext> start(const std::string& spn) = 0;
  virtual CredentialStatus status() = 0;
};

}  // namespace ferry::auth
