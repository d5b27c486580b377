#include "auth/negotiate/kdc_locator.h"

#include <krb5/krb5.h>
#include <profile.h>

namespace ferry::auth {

KdcList configured_kdcs() {
  KdcList out;
  krb5_context kctx = nullptr;
  if (krb5_init_context(&kctx) != 0) {
    out.error = "cannot read the Kerberos configuration (krb5.conf)";
    return out;
  }
  char* realm = nullptr;
  if (krb5_get_default_realm(kctx, &realm) != 0 || !realm) {
    out.error = "krb5.conf names no default_realm";
    krb5_free_context(kctx);
    return out;
  }
  out.realm = realm;
  profile_t profile = nullptr;
  if (krb5_get_profile(kctx, &profile) == 0 && profile) {
    const char* names[] = {"realms", realm, "kdc", nullptr};
    char** values = nullptr;
    if (profile_get_values(profile, names, &values) == 0 && values) {
      for (char** v = values; *v; ++v) {
        auto hp = parse_host_port(*v, 88);
        if (hp) out.kdcs.push_back(*hp);
      }
      profile_free_list(values);
    }
    profile_release(profile);
  }
  if (out.kdcs.empty()) out.error = "krb5.conf lists no kdc for realm " + out.realm + " (DNS SRV lookup is not probed)";
  krb5_free_default_realm(kctx, realm);
  krb5_free_context(kctx);
  return out;
}

}  // namespace ferry::auth
