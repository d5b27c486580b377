#include "auth/negotiate/security_context.h"

namespace ferry::auth {

namespace {
// "HTTP@host" as the principal the KDC looks up, "HTTP/host".
std::string as_principal(std::string_view spn) {
  std::string p(spn);
  if (p.find('/') == std::string::npos)
    if (auto at = p.find('@'); at != std::string::npos) p[at] = '/';
  return p;
}
}  // namespace

std::string gss_cause_words(GssCause cause, std::string_view spn) {
  switch (cause) {
    case GssCause::no_credentials:
      return "no Kerberos credentials: the credential cache holds no ticket (run kinit, or give ferry --user with "
             "--password-file, or --keytab)";
    case GssCause::credentials_expired:
      return "the Kerberos ticket has expired (run kinit again, or give ferry --password-file or --keytab so it renews "
             "its own)";
    case GssCause::server_unknown:
      return "the KDC does not know the service principal " + as_principal(spn) +
             (as_principal(spn) != spn ? " (SPN " + std::string(spn) + ")" : std::string()) +
             " (check --spn and the proxy host name: ferry uses the name as configured, without DNS canonicalisation)";
    case GssCause::kdc_unreachable:
      return "cannot reach the Kerberos KDC (check krb5.conf [realms] and that the KDC is up)";
    case GssCause::clock_skew: return "the clocks of this machine and the KDC differ too much (synchronise the clock)";
    case GssCause::bad_password: return "the KDC rejected the password (check --password-file)";
    case GssCause::client_unknown: return "the KDC does not know the user principal (check --user and --realm)";
    case GssCause::rejected:
      return "the proxy rejected ferry's Negotiate token (the proxy's keytab may not match " + std::string(spn) + ")";
    case GssCause::mutual_auth_failed:
      return "the proxy's Negotiate answer did not verify (mutual authentication failed)";
    case GssCause::other: break;
  }
  return "Kerberos authentication failed";
}

}  // namespace ferry::auth
