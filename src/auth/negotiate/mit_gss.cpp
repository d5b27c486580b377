#include "auth/negotiate/mit_gss.h"

#include "auth/negotiate/renewing_credential.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>

#include <unistd.h>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>

namespace ferry::auth {

namespace {

using Clock = std::chrono::steady_clock;

gss_OID_desc kSpnegoOid = {6, const_cast<char*>("\x2b\x06\x01\x05\x05\x02")};
gss_OID_desc kKrb5Oid = {9, const_cast<char*>("\x2a\x86\x48\x86\xf7\x12\x01\x02\x02")};

std::string status_text(OM_uint32 code, int type) {
  std::string out;
  OM_uint32 ctx = 0, minor = 0;
  do {
    gss_buffer_desc msg{0, nullptr};
    if (GSS_ERROR(gss_display_status(&minor, code, type, GSS_C_NO_OID, &ctx, &msg))) break;
    if (!out.empty()) out += "; ";
    out.append(static_cast<const char*>(msg.value), msg.length);
    gss_release_buffer(&minor, &msg);
  } while (ctx != 0);
  return out;
}

GssCause classify(OM_uint32 major, OM_uint32 minor) {
  switch (static_cast<int32_t>(minor)) {
    case static_cast<int32_t>(KRB5_FCC_NOFILE):
    case static_cast<int32_t>(KRB5_CC_NOTFOUND):
    case static_cast<int32_t>(KRB5_CC_NOSUPP): return GssCause::no_credentials;
    case static_cast<int32_t>(KRB5KRB_AP_ERR_TKT_EXPIRED): return GssCause::credentials_expired;
    case static_cast<int32_t>(KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN): return GssCause::server_unknown;
    case static_cast<int32_t>(KRB5_KDC_UNREACH): return GssCause::kdc_unreachable;
    case static_cast<int32_t>(KRB5KRB_AP_ERR_SKEW): return GssCause::clock_skew;
    case static_cast<int32_t>(KRB5KDC_ERR_PREAUTH_FAILED):
    case static_cast<int32_t>(KRB5KRB_AP_ERR_BAD_INTEGRITY): return GssCause::bad_password;
    case static_cast<int32_t>(KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN): return GssCause::client_unknown;
    default: break;
  }
  switch (GSS_ROUTINE_ERROR(major)) {
    case GSS_S_NO_CRED: return GssCause::no_credentials;
    case GSS_S_CREDENTIALS_EXPIRED: return GssCause::credentials_expired;
    default: return GssCause::other;
  }
}

// The mechglue maps mechanism minor codes to its own numbers, so through
// SPNEGO the krb5 codes above rarely survive; MIT's message text does.
GssCause classify_text(std::string_view text) {
  auto has = [&](std::string_view needle) { return text.find(needle) != std::string_view::npos; };
  if (has("Server ") && has("not found in Kerberos database")) return GssCause::server_unknown;
  if (has("Client ") && has("not found in Kerberos database")) return GssCause::client_unknown;
  if (has("Ticket expired") || has("ticket has expired")) return GssCause::credentials_expired;
  if (has("Cannot contact any KDC") || has("Cannot find KDC")) return GssCause::kdc_unreachable;
  if (has("Clock skew too great")) return GssCause::clock_skew;
  if (has("Preauthentication failed") || has("Password incorrect") || has("Decrypt integrity check failed"))
    return GssCause::bad_password;
  if (has("No Kerberos credentials") || has("No credentials cache") || has("No credentials were supplied") ||
      has("credential cache file") || has("Matching credential not found"))
    return GssCause::no_credentials;
  return GssCause::other;
}

GssFailure failure(OM_uint32 major, OM_uint32 minor, std::string_view spn, std::string_view during) {
  GssFailure f;
  f.cause = classify(major, minor);
  const std::string mech_text = status_text(minor, GSS_C_MECH_CODE);
  if (const GssCause by_text = classify_text(mech_text);
      by_text != GssCause::other && (f.cause == GssCause::other || f.cause == GssCause::no_credentials))
    f.cause = by_text;
  f.words = gss_cause_words(f.cause, spn);
  f.debug = std::string(during) + ": " + status_text(major, GSS_C_GSS_CODE) + " (" + mech_text + ")";
  return f;
}

struct Name {
  gss_name_t name = GSS_C_NO_NAME;
  ~Name() {
    OM_uint32 minor;
    if (name != GSS_C_NO_NAME) gss_release_name(&minor, &name);
  }
};

bool import_name(const std::string& text, gss_OID type, Name& out, OM_uint32& major, OM_uint32& minor) {
  gss_buffer_desc buf{text.size(), const_cast<char*>(text.data())};
  major = gss_import_name(&minor, &buf, type, &out.name);
  return !GSS_ERROR(major);
}

// A credential handle shared by the contexts made from it; a renewal swaps
// in a new one while contexts in flight keep the old one alive.
struct Cred {
  gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;  // SPNEGO, for the contexts
  gss_cred_id_t krb5 = GSS_C_NO_CREDENTIAL;  // the same identity for krb5 alone, for diagnosis
  Clock::time_point refresh_at = Clock::time_point::max();
  ~Cred() {
    OM_uint32 minor;
    if (cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &cred);
    if (krb5 != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &krb5);
  }
};

// SPNEGO reports most Kerberos failures as "cannot find mechanisms to
// negotiate". Running the same step with the krb5 mechanism directly gives
// the real reason (no ticket, KDC down, unknown principal...), for the words.
GssFailure diagnose(GssFailure f, gss_cred_id_t krb5_cred, gss_name_t target, std::string_view spn) {
  if (f.cause != GssCause::other && f.cause != GssCause::no_credentials) return f;
  OM_uint32 minor = 0;
  gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
  gss_buffer_desc out{0, nullptr};
  OM_uint32 major = gss_init_sec_context(&minor, krb5_cred, &ctx, target, &kKrb5Oid, GSS_C_MUTUAL_FLAG, 0,
                                         GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, nullptr, &out, nullptr, nullptr);
  OM_uint32 ignored;
  gss_release_buffer(&ignored, &out);
  if (ctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&ignored, &ctx, GSS_C_NO_BUFFER);
  if (!GSS_ERROR(major)) return f;
  GssFailure precise = failure(major, minor, spn, "gss_init_sec_context (krb5)");
  if (precise.cause == GssCause::other) return f;
  precise.debug = f.debug + "; " + precise.debug;
  return precise;
}

class MitContext final : public SecurityContext {
 public:
  MitContext(std::shared_ptr<Cred> cred, std::string spn, std::optional<GssFailure> startup_failure)
      : cred_(std::move(cred)), spn_(std::move(spn)), startup_failure_(std::move(startup_failure)) {}
  ~MitContext() override {
    OM_uint32 minor;
    if (ctx_ != GSS_C_NO_CONTEXT) gss_delete_sec_context(&minor, &ctx_, GSS_C_NO_BUFFER);
  }

  Expected<std::string, GssFailure> step(std::string_view server_token) override {
    if (startup_failure_) return Unexpected{*startup_failure_};
    OM_uint32 major = 0, minor = 0;
    // "HTTP@host" is a host-based service name; "HTTP/host@REALM" a Kerberos principal.
    const gss_OID name_type =
        spn_.find('/') != std::string::npos ? GSS_KRB5_NT_PRINCIPAL_NAME : GSS_C_NT_HOSTBASED_SERVICE;
    if (target_.name == GSS_C_NO_NAME && !import_name(spn_, name_type, target_, major, minor))
      return Unexpected{failure(major, minor, spn_, "gss_import_name")};
    gss_buffer_desc in{server_token.size(), const_cast<char*>(server_token.data())};
    gss_buffer_desc out{0, nullptr};
    major = gss_init_sec_context(&minor, cred_ ? cred_->cred : GSS_C_NO_CREDENTIAL, &ctx_, target_.name, &kSpnegoOid,
                                 GSS_C_MUTUAL_FLAG, 0, GSS_C_NO_CHANNEL_BINDINGS,
                                 server_token.empty() ? GSS_C_NO_BUFFER : &in, nullptr, &out, nullptr, nullptr);
    std::string token(static_cast<const char*>(out.value ? out.value : ""), out.length);
    OM_uint32 ignored;
    gss_release_buffer(&ignored, &out);
    if (GSS_ERROR(major)) {
      GssFailure f = failure(major, minor, spn_, "gss_init_sec_context");
      if (server_token.empty())
        f = diagnose(std::move(f), cred_ ? cred_->krb5 : GSS_C_NO_CREDENTIAL, target_.name, spn_);
      // A bad answer token from the server is the server's fault, not ours.
      if (!server_token.empty() && f.cause == GssCause::other) {
        f.cause = GssCause::mutual_auth_failed;
        f.words = gss_cause_words(f.cause, spn_);
      }
      return Unexpected{std::move(f)};
    }
    established_ = major == GSS_S_COMPLETE;
    return token;
  }
  bool established() const override { return established_; }

 private:
  std::shared_ptr<Cred> cred_;  // null: the default ccache, read afresh
  std::string spn_;
  std::optional<GssFailure> startup_failure_;
  Name target_;
  gss_ctx_id_t ctx_ = GSS_C_NO_CONTEXT;
  bool established_ = false;
};

class MitNegotiate final : public GssMechanism {
 public:
  MitNegotiate(KerberosIdentity id, Millis kdc_wait)
      : in_(make_inputs(std::move(id))), id_(in_->id), renewing_([in = in_] { return acquire(*in); }, kdc_wait) {}

  std::unique_ptr<SecurityContext> start(const std::string& spn) override {
    if (id_.source == KerberosIdentity::Source::default_ccache)
      return std::make_unique<MitContext>(nullptr, spn, std::nullopt);
    auto cred = credentials(spn);
    if (!cred) return std::make_unique<MitContext>(nullptr, spn, cred.error());
    return std::make_unique<MitContext>(*cred, spn, std::nullopt);
  }

  CredentialStatus status() override {
    CredentialStatus st;
    std::shared_ptr<Cred> cred;
    OM_uint32 major = 0, minor = 0;
    if (id_.source == KerberosIdentity::Source::default_ccache) {
      cred = std::make_shared<Cred>();
      gss_OID_set_desc mechs{1, &kKrb5Oid};
      major = gss_acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE, &cred->cred, nullptr,
                               nullptr);
      if (GSS_ERROR(major)) {
        st.failure = failure(major, minor, "", "gss_acquire_cred");
        return st;
      }
      const char* env = std::getenv("KRB5CCNAME");
      st.source = std::string("credential cache ") + (env ? env : "(default)");
    } else {
      auto c = credentials("");
      if (!c) {
        st.failure = c.error();
        return st;
      }
      cred = *c;
      st.source = id_.source == KerberosIdentity::Source::password ? "password (in memory)" : "keytab " + id_.keytab;
    }
    gss_name_t name = GSS_C_NO_NAME;
    OM_uint32 lifetime = 0;
    major = gss_inquire_cred(&minor, cred->cred, &name, &lifetime, nullptr, nullptr);
    if (GSS_ERROR(major)) {
      st.failure = failure(major, minor, "", "gss_inquire_cred");
      return st;
    }
    gss_buffer_desc text{0, nullptr};
    if (!GSS_ERROR(gss_display_name(&minor, name, &text, nullptr))) {
      st.principal.assign(static_cast<const char*>(text.value), text.length);
      gss_release_buffer(&minor, &text);
    }
    gss_release_name(&minor, &name);
    st.lifetime_s = lifetime == GSS_C_INDEFINITE ? -1 : int64_t(lifetime);
    st.present = lifetime > 0;
    if (!st.present) {
      st.failure.cause = GssCause::credentials_expired;
      st.failure.words = gss_cause_words(st.failure.cause, "");
    }
    return st;
  }

 private:
  // What an acquisition needs, owned by its thread too: it may outlive
  // ferry's shutdown when the KDC never answers.
  struct Inputs {
    KerberosIdentity id;
    std::string memory_ccache;
  };
  static std::shared_ptr<const Inputs> make_inputs(KerberosIdentity id) {
    static std::atomic<unsigned> counter{0};
    // Each ferry identity gets its own in-memory ccache: never the user's.
    return std::make_shared<const Inputs>(Inputs{
        std::move(id), "MEMORY:ferry-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)});
  }

  static std::string principal(const KerberosIdentity& id) {
    if (id.user.empty() || id.user.find('@') != std::string::npos || id.realm.empty()) return id.user;
    return id.user + "@" + id.realm;
  }

  // The current credentials: RenewingCredential acquires them on first
  // use and renews them ahead of expiry, outside any lock, one acquisition
  // at a time, serving the old ones meanwhile. A failure is not cached.
  Expected<std::shared_ptr<Cred>, GssFailure> credentials(std::string_view spn) {
    auto c = renewing_.get();
    if (!c) {
      GssFailure f = c.error();
      if (f.words.empty()) f.words = gss_cause_words(f.cause, spn);
      return Unexpected{std::move(f)};
    }
    return *c;
  }

  // One acquisition from the KDC (runs on RenewingCredential's thread).
  static Expected<RenewingCredential<Cred>::Fresh, GssFailure> acquire(const Inputs& in) {
    const KerberosIdentity& id = in.id;
    auto fresh = std::make_shared<Cred>();
    OM_uint32 major = 0, minor = 0, lifetime = 0;
    Name name;
    const std::string who = principal(id);
    if (!who.empty() && !import_name(who, GSS_C_NT_USER_NAME, name, major, minor))
      return Unexpected{failure(major, minor, "", "gss_import_name")};
    // Kerberos first, for the krb5 mechanism alone: a password gets the TGT
    // right here, so a wrong password or a dead KDC is reported precisely.
    // The credentials land in ferry's own MEMORY ccache; the SPNEGO handle
    // the contexts use is then acquired from it (a krb5-only handle is no use
    // to SPNEGO), negotiating Kerberos only.
    gss_OID_set_desc krb5_set{1, &kKrb5Oid};
    gss_OID_set_desc spnego_set{1, &kSpnegoOid};
    gss_key_value_element_desc elements[] = {{"ccache", in.memory_ccache.c_str()},
                                             {"client_keytab", id.keytab.c_str()}};
    gss_key_value_set_desc store{id.source == KerberosIdentity::Source::keytab ? 2u : 1u, elements};
    if (id.source == KerberosIdentity::Source::password) {
      gss_buffer_desc pw{id.password.view().size(), const_cast<char*>(id.password.view().data())};
      major = gss_acquire_cred_with_password(&minor, name.name, &pw, GSS_C_INDEFINITE, &krb5_set, GSS_C_INITIATE,
                                             &fresh->krb5, nullptr, &lifetime);
      if (!GSS_ERROR(major))
        major = gss_store_cred_into(&minor, fresh->krb5, GSS_C_INITIATE, &kKrb5Oid, 1, 0, &store, nullptr, nullptr);
    } else {
      major = gss_acquire_cred_from(&minor, name.name, GSS_C_INDEFINITE, &krb5_set, GSS_C_INITIATE, &store,
                                    &fresh->krb5, nullptr, &lifetime);
    }
    if (!GSS_ERROR(major)) {
      OM_uint32 spnego_life = 0;
      major = gss_acquire_cred_from(&minor, name.name, GSS_C_INDEFINITE, &spnego_set, GSS_C_INITIATE, &store,
                                    &fresh->cred, nullptr, &spnego_life);
    }
    if (GSS_ERROR(major)) return Unexpected{failure(major, minor, "", "acquiring credentials")};
    gss_OID_set_desc krb5_only{1, &kKrb5Oid};
    OM_uint32 ignored;
    gss_set_neg_mechs(&ignored, fresh->cred, &krb5_only);
    const auto now = Clock::now();
    RenewingCredential<Cred>::Fresh out{fresh, now, Clock::time_point::max()};
    if (lifetime == GSS_C_INDEFINITE || lifetime == 0) {
      // A keytab: MIT gets tickets lazily and refreshes them itself;
      // re-acquire now and then anyway.
      out.refresh_at = now + std::chrono::minutes(30);
    } else {
      // Renew at three quarters of the lifetime, and at least a minute
      // before expiry, so no request meets an expired ticket.
      const auto life = std::chrono::seconds(lifetime);
      const auto margin =
          std::max<std::chrono::seconds>(life / 4, std::min<std::chrono::seconds>(std::chrono::seconds(60), life / 2));
      out.refresh_at = now + life - margin;
      out.expires_at = now + life;
    }
    return out;
  }

  std::shared_ptr<const Inputs> in_;
  const KerberosIdentity& id_;  // in_->id
  RenewingCredential<Cred> renewing_;
};

}  // namespace

std::unique_ptr<GssMechanism> make_mit_negotiate(KerberosIdentity identity, Millis kdc_wait) {
  return std::make_unique<MitNegotiate>(std::move(identity), kdc_wait);
}

}  // namespace ferry::auth
