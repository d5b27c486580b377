#pragma once
// The auth controller for one upstream proxy (after Chromium's
// HttpAuthController): it owns the identity and the scheme learnt from the
// proxy's 407, answers challenges, and decides — in one place — whether a
// repeated challenge means "retry" (a stale Digest nonce, a fresh Negotiate
// context) or "rejected", so a 407 loop is impossible whatever the proxy does.
//
// Shared by every worker thread talking to that proxy (a Digest nonce and
// its count are per proxy, not per connection), hence the mutex. State that
// belongs to one connection (a Negotiate security context; whether the
// connection is already authenticated) lives in the AuthAttempt and on the
// connection, never here.
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/auth_backoff.h"
#include "auth/auth_mode.h"
#include "auth/challenge.h"
#include "auth/credentials.h"
#include "auth/digest_auth.h"
#include "auth/negotiate/security_context.h"
#include "base/expected.h"
#include "base/proxy_error.h"

namespace ferry::auth {

enum class Scheme { none, basic, digest, ntlm, negotiate };
std::string_view scheme_name(Scheme s);

// One request's conversation with the proxy: at most one answer to a 407,
// plus one more for a Digest `stale=true` (a new nonce, same password) or,
// for Negotiate, one fresh security context after a rejected token.
struct AuthAttempt {
  Scheme sent = Scheme::none;  // what the last try carried
  int answers = 0;             // 407s answered so far
  bool stale_retry_used = false;
  int stale_retries = 0;  // Digest stale=true answers so far (S2: concurrency)
  bool fresh_context_used = false;
  bool rode_on_connection = false;  // sent nothing: the connection was authenticated
  // The next try must go on the same connection (a multi-leg handshake:
  // NTLM type 3 after type 2, or a SPNEGO continuation).
  bool same_connection = false;
  int ntlm_leg = 0;                          // 1: type 1 sent, 3: type 3 sent
  std::unique_ptr<SecurityContext> context;  // Negotiate: this connection's context
  std::optional<GssFailure> token_failure;   // why no token could be made
  uint64_t wave = 0;                         // AuthBackoff::wave() when this try's password went out
};

struct NegotiateSetup {
  std::shared_ptr<GssMechanism> mechanism;  // null: Negotiate unavailable
  std::string spn;                          // "HTTP@proxy.corp"
};

// How far ferry trusts the path to the proxy and the proxy itself.
struct AuthPolicy {
  // The proxy is reached over http://: Basic would cross the network in
  // cleartext, so `auto` does not fall back to it from a failed Negotiate
  // unless `allow_basic_fallback` (--auth-allow-basic-fallback).
  bool cleartext = true;
  bool allow_basic_fallback = false;
  // --require-mutual-auth: a Negotiate success must carry a mutual-auth
  // token that verifies (Apache sends one, Squid never does).
  bool require_mutual_auth = false;
  // Negotiate gets ferry's own ticket from the password: a KDC refusing it
  // counts towards the back-off, and the back-off stops Negotiate too.
  bool kerberos_password = false;
  // Shared by the upstreams using the same identity; null: one of its own.
  std::shared_ptr<AuthBackoff> backoff;
};

class ProxyAuthenticator {
 public:
  using Clock = std::chrono::steady_clock;
  ProxyAuthenticator(AuthMode mode, Credentials creds, std::string proxy_name, NegotiateSetup negotiate = {},
                     std::function<Clock::time_point()> now = Clock::now, AuthPolicy policy = {});

  // The Proxy-Authorization value for a first try on a connection: set once
  // the proxy is known to want a scheme ferry can answer (or --auth basic /
  // negotiate), else empty. `connection_authenticated`: a Negotiate
  // connection that already authenticated needs no new token.
  // The same, when it can be had without GSSAPI (which may wait for the
  // KDC); nullopt when a fresh Negotiate token is needed: then first_try
  // goes off the event loop.
  std::optional<std::string> first_try_now(const DigestRequest& req, AuthAttempt& attempt,
                                           bool connection_authenticated = false);
  std::string first_try(const DigestRequest& req, AuthAttempt& attempt, bool connection_authenticated = false);

  // After a 407 whose Proxy-Authenticate values are `challenge_values`:
  // the value to retry with, or the error the client gets (a 407 with
  // Proxy-Status http_request_denied and details in words a user can act on).
  Expected<std::string, ProxyError> answer(const std::vector<std::string>& challenge_values, const DigestRequest& req,
                                           AuthAttempt& attempt);

  // After the proxy's final non-407 answer: verifies a Negotiate mutual-auth
  // token if one came and resets the failure count. Returns true when the
  // connection is now authenticated for later requests (connection-bound
  // schemes), or the error when the proxy's token does not verify.
  Expected<bool, ProxyError> accepted(const std::vector<std::string>& proxy_authenticate_values, AuthAttempt& attempt);

  bool has_credentials() const { return creds_.present(); }
  // True while ferry could authenticate but has not yet learnt whether this
  // proxy wants it (no 407 seen, no unauthenticated request let through).
  bool scheme_unknown();
  const std::string& proxy_name() const { return proxy_name_; }
  const std::string& spn() const { return negotiate_.spn; }
  GssMechanism* negotiate_mechanism() const { return negotiate_.mechanism.get(); }

  // NTLM's first leg carries no request body (the proxy answers it with a
  // 407 anyway); the caller asks here whether this try is such a leg.
  static bool body_withheld(const AuthAttempt& a) { return a.sent == Scheme::ntlm && a.ntlm_leg == 1; }

  // Consecutive rejections before ferry pauses this identity (each failed
  // try can count towards an Active Directory lockout): see AuthBackoff.
  static constexpr int kMaxRejections = AuthBackoff::kMaxFailures;
  // How long auto mode leaves Negotiate aside after it could not make a
  // token while another offered scheme could answer.
  static constexpr std::chrono::seconds kNegotiateRest{60};
  // Digest stale=true answers one request may get. More than one: with one
  // nonce and count shared by all connections, concurrent requests reach
  // the proxy with their nc out of order, and a strict proxy (Squid's
  // nonce_strictness) calls the late ones stale, retries included. Each
  // stale answer brings a nonce the other connections share again, so a
  // request can lose the race several times in a row on a loaded machine
  // (a CI run saw 4 with 16 concurrent clients on 2 busy cores); stale=true
  // says the password matched, so the bound only stops a proxy that never
  // stops calling nonces stale.
  static constexpr int kMaxStaleRetries = 8;

 private:
  ProxyError denied(const std::string& why) const;
  std::string make_value(Scheme s, const DigestRequest& req);  // mutex held
  // A Negotiate token from a fresh context, or the reason there is none.
  Expected<std::string, GssFailure> fresh_negotiate(AuthAttempt& attempt);
  std::string ntlm_type1(AuthAttempt& attempt) const;
  Expected<std::string, ProxyError> ntlm_type3(std::string_view server_token, AuthAttempt& attempt) const;
  // A password try of `attempt` was refused (by the proxy or the KDC).
  void note_rejection(const AuthAttempt& attempt);
  std::optional<ProxyError> backing_off() const;
  // Whether sending `s` now would send the identity's password.
  bool uses_password(Scheme s) const;
  // A fresh Negotiate token; a KDC refusing the password counts.
  Expected<std::string, GssFailure> counted_negotiate(AuthAttempt& attempt);

  const AuthMode mode_;
  const Credentials creds_;
  const std::string proxy_name_;  // redacted URL, for messages
  const NegotiateSetup negotiate_;
  const Secret basic_value_;  // "Basic base64(user:password)", made once
  const std::function<Clock::time_point()> now_;
  AuthPolicy policy_;  // read-only after construction

  std::mutex mu_;
  Scheme learnt_ = Scheme::none;
  bool let_through_without_auth_ = false;
  std::optional<DigestChallenge> digest_;
  uint32_t nonce_count_ = 0;
  std::string session_cnonce_;  // Digest -sess: the cnonce HA1 was made with
  Clock::time_point negotiate_rest_until_{};
  // What auto answers with while Negotiate rests (learnt_ stays Negotiate,
  // so the downgrade ends with the rest).
  Scheme fallback_ = Scheme::none;
};

}  // namespace ferry::auth
