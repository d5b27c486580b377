#pragma once
// GssMechanism on MIT krb5's GSSAPI, SPNEGO mechanism (RFC 4559).
#include <memory>
#include <string>

#include "auth/credentials.h"
#include "auth/negotiate/security_context.h"
#include "base/duration.h"

namespace ferry::auth {

struct KerberosIdentity {
  enum class Source { default_ccache, password, keytab } source = Source::default_ccache;
  std::string user;    // "alice" or "alice@REALM"; empty = the keytab's/ccache's own
  std::string realm;   // appended to a bare user
  Secret password;     // Source::password
  std::string keytab;  // Source::keytab
};

// Credentials from a password or keytab are acquired into memory (never
// into the user's ccache) on first use and re-acquired before they expire
// (in the background, serving the old ones; a request waits for the KDC at
// most `kdc_wait`, see RenewingCredential);
// the default ccache is read afresh for every context, so a `kinit` after
// ferry started is picked up without a restart and a failure is never cached.
std::unique_ptr<GssMechanism> make_mit_negotiate(KerberosIdentity identity, Millis kdc_wait);

}  // namespace ferry::auth
