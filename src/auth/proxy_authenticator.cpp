#include "auth/proxy_authenticator.h"

#include <openssl/rand.h>

#include <chrono>

#include "auth/basic_auth.h"
#include "auth/ntlm/ntlm_codec.h"

namespace ferry::auth {

std::string_view scheme_name(Scheme s) {
  switch (s) {
    case Scheme::none: return "none";
    case Scheme::basic: return "Basic";
    case Scheme::digest: return "Digest";
    case Scheme::ntlm: return "NTLM";
    case Scheme::negotiate: return "Negotiate";
  }
  return "none";
}

ProxyAuthenticator::ProxyAuthenticator(AuthMode mode, Credentials creds, std::string proxy_name,
                                       NegotiateSetup negotiate, std::function<Clock::time_point()> now,
                                       AuthPolicy policy)
    : mode_(mode), creds_(std::move(creds)), proxy_name_(std::move(proxy_name)), negotiate_(std::move(negotiate)),
      basic_value_(creds_.present() ? basic_credentials(creds_.user, creds_.password.view()) : std::string()),
      now_(std::move(now)), policy_(std::move(policy)) {
  if (!policy_.backoff) policy_.backoff = std::make_shared<AuthBackoff>(now_);
  // An explicit --auth basic or negotiate sends credentials from the first
  // request (like curl --proxy-basic / --proxy-negotiate): no 407 round trip.
  if (mode_ == AuthMode::basic && creds_.present()) learnt_ = Scheme::basic;
  if (mode_ == AuthMode::negotiate && negotiate_.mechanism) learnt_ = Scheme::negotiate;
  if (mode_ == AuthMode::ntlm && creds_.present()) learnt_ = Scheme::ntlm;
}

std::string ProxyAuthenticator::ntlm_type1(AuthAttempt& attempt) const {
  attempt.sent = Scheme::ntlm;
  attempt.ntlm_leg = 1;
  attempt.same_connection = false;
  return "NTLM " + base64_encode(ntlm::negotiate_message());
}

Expected<std::string, ProxyError> ProxyAuthenticator::ntlm_type3(std::string_view server_token,
                                                                 AuthAttempt& attempt) const {
  std::string raw;
  if (!base64_decode(server_token, raw)) return Unexpected{denied("sent an NTLM challenge that is not base64")};
  auto challenge = ntlm::parse_challenge(raw);
  if (!challenge) return Unexpected{denied("sent a malformed NTLM challenge: " + challenge.error())};
  // "DOMAIN\user" splits into the two fields; "user@domain" goes as the user name (UPN).
  ntlm::Identity id;
  const auto slash = creds_.user.find('\\');
  id.user = slash == std::string::npos ? creds_.user : creds_.user.substr(slash + 1);
  id.domain = slash == std::string::npos ? std::string() : creds_.user.substr(0, slash);
  std::array<uint8_t, 8> client_challenge{};
  RAND_bytes(client_challenge.data(), int(client_challenge.size()));
  // FILETIME: 100 ns ticks since 1601-01-01.
  const auto since_1970 =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch());
  const uint64_t filetime = uint64_t(since_1970.count() / 100) + 116444736000000000ULL;
  auto type3 = ntlm::authenticate_message(*challenge, id, creds_.password.view(), client_challenge, filetime);
  if (!type3) return Unexpected{denied("cannot answer its NTLM challenge: " + type3.error())};
  attempt.ntlm_leg = 3;
  attempt.same_connection = true;
  std::string value = "NTLM " + base64_encode(*type3);
  cleanse_string(*type3);
  return value;
}

ProxyError ProxyAuthenticator::denied(const std::string& why) const {
  return ProxyError{ProxyErrc::http_request_denied, "upstream proxy " + proxy_name_ + " " + why, 407};
}

std::string ProxyAuthenticator::make_value(Scheme s, const DigestRequest& req) {
  switch (s) {
    case Scheme::basic: return std::string(basic_value_.view());
    case Scheme::digest:
      if (!digest_) return {};
      {
        // -sess algorithms compute HA1 once per nonce from the first cnonce
        // (RFC 7616 §3.4.2): keep that cnonce for the nonce's lifetime.
        const bool sess = digest_->algorithm.ends_with("-SESS");
        if (sess && session_cnonce_.empty()) session_cnonce_ = random_cnonce();
        return digest_credentials(*digest_, creds_.user, creds_.password.view(), req, ++nonce_count_,
                                  sess ? session_cnonce_ : random_cnonce());
      }
    case Scheme::ntlm:
    case Scheme::negotiate:
    case Scheme::none: break;
  }
  return {};
}

Expected<std::string, GssFailure> ProxyAuthenticator::fresh_negotiate(AuthAttempt& attempt) {
  // Called without the mutex: GSSAPI may talk to the KDC.
  attempt.context = negotiate_.mechanism->start(negotiate_.spn);
  auto token = attempt.context->step({});
  if (!token) {
    attempt.context.reset();
    return Unexpected{token.error()};
  }
  return "Negotiate " + base64_encode(*token);
}

Expected<std::string, GssFailure> ProxyAuthenticator::counted_negotiate(AuthAttempt& attempt) {
  // The wave is taken before the KDC is asked: requests that ask together
  // are one wave (see AuthBackoff).
  const uint64_t wave = policy_.backoff->wave();
  auto value = fresh_negotiate(attempt);
  if (!value && value.error().cause == GssCause::bad_password) {
    AuthAttempt counted;
    counted.wave = wave;
    note_rejection(counted);
  }
  return value;
}

void ProxyAuthenticator::note_rejection(const AuthAttempt& attempt) { policy_.backoff->rejected(attempt.wave); }

bool ProxyAuthenticator::uses_password(Scheme s) const {
  switch (s) {
    case Scheme::basic:
    case Scheme::digest:
    case Scheme::ntlm: return true;
    case Scheme::negotiate: return policy_.kerberos_password;
    case Scheme::none: break;
  }
  return false;
}

std::optional<ProxyError> ProxyAuthenticator::backing_off() const {
  auto left = policy_.backoff->paused();
  if (!left) return std::nullopt;
  return denied("needs authentication, but ferry's password was refused " + std::to_string(kMaxRejections) +
                " times in a row, so ferry stopped sending it for " +
                std::to_string(policy_.backoff->pause_length().count()) +
                " s (each failed try can count towards an account lockout); it tries again by itself in " +
                std::to_string(left->count()) + " s");
}

std::optional<std::string> ProxyAuthenticator::first_try_now(const DigestRequest& req, AuthAttempt& attempt,
                                                             bool connection_authenticated) {
  Scheme scheme;
  {
    std::lock_guard lock(mu_);
    scheme = learnt_;
    // While Negotiate rests after failing, auto answers with the scheme it
    // fell back to; once the rest is over Negotiate is tried again.
    if (scheme == Scheme::negotiate && now_() < negotiate_rest_until_) scheme = fallback_;
    if (uses_password(scheme) && backing_off()) {
      // Nothing new is sent; a connection that already authenticated stays so.
      attempt.rode_on_connection = connection_authenticated;
      return std::string();
    }
    attempt.wave = policy_.backoff->wave();
    if (scheme != Scheme::negotiate && scheme != Scheme::ntlm) {
      attempt.sent = scheme;
      return make_value(scheme, req);
    }
  }
  if (scheme == Scheme::ntlm) {
    // NTLM authenticates the connection: start the handshake on new ones only.
    if (connection_authenticated) {
      attempt.rode_on_connection = true;
      return std::string();
    }
    return ntlm_type1(attempt);
  }
  // Negotiate: a fresh token for every new connection (Squid's replay cache
  // rejects a token seen before); nothing on one already authenticated.
  if (connection_authenticated) {
    attempt.rode_on_connection = true;
    return std::string();
  }
  return std::nullopt;  // a fresh token: GSSAPI, which may wait for the KDC
}

std::string ProxyAuthenticator::first_try(const DigestRequest& req, AuthAttempt& attempt,
                                          bool connection_authenticated) {
  if (auto now = first_try_now(req, attempt, connection_authenticated)) return std::move(*now);
  auto value = counted_negotiate(attempt);
  if (!value) {
    attempt.token_failure = value.error();
    return {};
  }
  attempt.sent = Scheme::negotiate;
  return std::move(*value);
}

namespace {

bool allowed(AuthMode mode, Scheme s) {
  switch (mode) {
    case AuthMode::automatic: return true;
    case AuthMode::basic: return s == Scheme::basic;
    case AuthMode::digest: return s == Scheme::digest;
    case AuthMode::negotiate: return s == Scheme::negotiate;
    case AuthMode::ntlm: return s == Scheme::ntlm;
    default: return false;
  }
}

std::string offered_list(const std::vector<Challenge>& challenges) {
  std::string s;
  for (const auto& c : challenges) {
    std::string name = c.scheme;
    if (!name.empty()) name[0] = char(std::toupper(static_cast<unsigned char>(name[0])));
    if (name == "Ntlm") name = "NTLM";
    if (s.find(name) != std::string::npos) continue;
    s += (s.empty() ? "" : ", ") + name;
  }
  return s.empty() ? "no scheme" : s;
}

// The Digest challenge to answer: SHA-256 before MD5 (RFC 7616 §3.7).
std::optional<DigestChallenge> best_digest(const std::vector<Challenge>& challenges) {
  std::optional<DigestChallenge> best;
  for (const auto& c : challenges) {
    auto d = parse_digest_challenge(c);
    if (!d) continue;
    const bool sha = d->algorithm.starts_with("SHA-256");
    if (!best || (sha && !best->algorithm.starts_with("SHA-256"))) best = std::move(d);
  }
  return best;
}

// The server token of a "Negotiate <token>" challenge ("" for a bare one);
// nullopt when Negotiate was not offered.
std::optional<std::string> negotiate_token(const std::vector<Challenge>& challenges) {
  for (const auto& c : challenges)
    if (c.scheme == "negotiate") return c.token68;
  return std::nullopt;
}

}  // namespace

Expected<std::string, ProxyError> ProxyAuthenticator::answer(const std::vector<std::string>& challenge_values,
                                                             const DigestRequest& req, AuthAttempt& attempt) {
  std::vector<Challenge> challenges;
  for (const auto& v : challenge_values)
    if (!parse_challenges(v, challenges))
      return Unexpected{denied("sent a Proxy-Authenticate header ferry cannot parse")};
  const std::string offered = offered_list(challenges);
  if (challenges.empty()) return Unexpected{denied("answered 407 without any Proxy-Authenticate challenge")};
  if (mode_ == AuthMode::none)
    return Unexpected{denied("requires authentication (offers " + offered + ") and --auth none is set")};

  const auto digest = best_digest(challenges);
  const auto neg_token = negotiate_token(challenges);
  bool basic_offered = false;
  for (const auto& c : challenges) basic_offered |= c.scheme == "basic";

  std::optional<std::string> ntlm_token;
  for (const auto& c : challenges)
    if (c.scheme == "ntlm") ntlm_token = c.token68;
  if (attempt.sent == Scheme::ntlm) {
    if (attempt.ntlm_leg == 1 && ntlm_token && !ntlm_token->empty()) return ntlm_type3(*ntlm_token, attempt);
    // A type 1 carries no password: only a refused type 3 counts.
    if (attempt.ntlm_leg == 1) return Unexpected{denied("did not answer ferry's NTLM negotiation with a challenge")};
    note_rejection(attempt);
    return Unexpected{denied("rejected ferry's NTLM credentials (wrong user name, domain or password?)")};
  }

  if (attempt.sent == Scheme::negotiate) {
    // A server token on a context still in progress is the next leg of the
    // same handshake (SPNEGO can take several), on the same connection.
    if (attempt.context && !attempt.context->established() && neg_token && !neg_token->empty() && attempt.answers < 4) {
      std::string raw;
      if (!base64_decode(*neg_token, raw)) return Unexpected{denied("sent a Negotiate token that is not base64")};
      auto next = attempt.context->step(raw);
      if (next && !next->empty()) {
        ++attempt.answers;
        attempt.same_connection = true;
        return "Negotiate " + base64_encode(*next);
      }
    }
    // The token was refused. One fresh context, once (a stale ticket or a
    // replayed token); after that the proxy means it.
    if (!attempt.fresh_context_used && neg_token) {
      attempt.fresh_context_used = true;
      ++attempt.answers;
      auto value = counted_negotiate(attempt);
      if (value) return std::move(*value);
      return Unexpected{denied("requires Negotiate, and " + value.error().words)};
    }
    // Not counted towards the back-off: the proxy refusing a valid ticket
    // (its helper restarting, a keytab rollover) never reaches the domain's
    // bad-password counter, and a ticket needs no password to be re-sent.
    return Unexpected{denied(gss_cause_words(GssCause::rejected, negotiate_.spn))};
  }

  {
    std::lock_guard lock(mu_);
    const bool sent_scheme_offered =
        (attempt.sent == Scheme::basic && basic_offered) || (attempt.sent == Scheme::digest && digest.has_value());
    if (attempt.sent != Scheme::none && !sent_scheme_offered && mode_ != AuthMode::automatic)
      return Unexpected{denied("offers " + offered + ", not the --auth " + std::string(auth_mode_name(mode_)) +
                               " that is configured")};
    if (attempt.sent != Scheme::none) {
      // Our credentials were refused. Only a stale Digest nonce is worth
      // another try (RFC 7616 §3.3: same credentials, new nonce); a fresh
      // nonce without stale=true means the password is wrong.
      const bool stale_said = attempt.sent == Scheme::digest && digest && digest->stale;
      if (stale_said && attempt.stale_retries >= kMaxStaleRetries)
        // stale=true says the password matched: no rejection to count.
        return Unexpected{denied("called ferry's Digest nonce stale " + std::to_string(attempt.stale_retries + 1) +
                                 " times for one request")};
      if (!stale_said) {
        if (attempt.sent == Scheme::digest && learnt_ == Scheme::digest) learnt_ = Scheme::none;
        if (attempt.sent == Scheme::basic && mode_ != AuthMode::basic && learnt_ == Scheme::basic)
          learnt_ = Scheme::none;
        if (attempt.sent == fallback_) fallback_ = Scheme::none;
        note_rejection(attempt);
        // The user name stays out of the message: userinfo is not for logs.
        return Unexpected{denied("rejected ferry's " + std::string(scheme_name(attempt.sent)) +
                                 " credentials (wrong user name or password?)")};
      }
      attempt.stale_retry_used = true;
      ++attempt.stale_retries;
    } else if (attempt.answers > 0) {
      return Unexpected{denied("asked for authentication again")};
    }
  }

  // Pick the strongest offered scheme ferry can answer:
  // Negotiate > NTLM > Digest > Basic.
  std::optional<GssFailure> negotiate_failure = attempt.token_failure;
  bool negotiate_resting = false;
  {
    std::lock_guard lock(mu_);
    negotiate_resting = now_() < negotiate_rest_until_;
  }
  const bool negotiate_offered = neg_token && negotiate_.mechanism && allowed(mode_, Scheme::negotiate);
  if (negotiate_offered && !negotiate_resting && !negotiate_failure) {
    if (auto b = backing_off(); b && policy_.kerberos_password) return Unexpected{*b};
    auto value = counted_negotiate(attempt);
    if (value) {
      std::lock_guard lock(mu_);
      learnt_ = Scheme::negotiate;
      ++attempt.answers;
      attempt.sent = Scheme::negotiate;
      // A 407 on a connection that had authenticated: this fresh context
      // is its one retry (SPEC §5), not a first answer.
      if (attempt.rode_on_connection) attempt.fresh_context_used = true;
      return std::move(*value);
    }
    negotiate_failure = value.error();
  }

  std::lock_guard lock(mu_);
  Scheme pick = Scheme::none;
  if (creds_.present()) {
    if (ntlm_token && allowed(mode_, Scheme::ntlm)) pick = Scheme::ntlm;
    else if (digest && allowed(mode_, Scheme::digest)) pick = Scheme::digest;
    else if (basic_offered && allowed(mode_, Scheme::basic)) pick = Scheme::basic;
  }
  // Only auto allows both Negotiate and another scheme: this is a fallback.
  const bool fallback = negotiate_offered && pick != Scheme::none;
  if (fallback && pick == Scheme::basic && policy_.cleartext && !policy_.allow_basic_fallback) {
    // Basic over http:// is the password in cleartext; with a Kerberos
    // password identity it is the domain password. Not without being told.
    const std::string why = negotiate_failure ? negotiate_failure->words : "Negotiate failed a moment ago";
    return Unexpected{denied("requires Negotiate, and " + why +
                             "; ferry does not fall back to Basic over http://, which would send the password in "
                             "cleartext (--auth-allow-basic-fallback allows it)")};
  }
  if (pick == Scheme::none) {
    if (negotiate_failure && neg_token)
      return Unexpected{denied("requires Negotiate, and " + negotiate_failure->words)};
    if (!creds_.present() && (digest || basic_offered))
      return Unexpected{denied("requires authentication (offers " + offered +
                               "); no credentials are configured: use --user with --password-file, or user:pass@ in "
                               "the upstream URL")};
    if (mode_ == AuthMode::automatic)
      return Unexpected{denied("offers " + offered + ", which ferry cannot answer with the credentials it has")};
    return Unexpected{
        denied("offers " + offered + ", not the --auth " + std::string(auth_mode_name(mode_)) + " that is configured")};
  }
  if (auto b = backing_off()) return Unexpected{*b};
  if (fallback) {
    // In auto mode a Negotiate that cannot make a token (no ticket, KDC
    // down) rests for a while: no failed Kerberos round trip on every
    // request. The other scheme answers only while it rests: learnt_ stays
    // Negotiate, so the downgrade is never for good.
    if (negotiate_failure) negotiate_rest_until_ = now_() + kNegotiateRest;
    learnt_ = Scheme::negotiate;
    fallback_ = pick;
  } else {
    learnt_ = pick;
  }
  ++attempt.answers;
  attempt.wave = policy_.backoff->wave();
  if (pick == Scheme::ntlm) return ntlm_type1(attempt);
  if (pick == Scheme::digest) {
    digest_ = digest;
    nonce_count_ = 0;
    session_cnonce_.clear();
  }
  attempt.sent = pick;
  return make_value(pick, req);
}

bool ProxyAuthenticator::scheme_unknown() {
  if (!creds_.present() && !negotiate_.mechanism) return false;
  std::lock_guard lock(mu_);
  return learnt_ == Scheme::none && !let_through_without_auth_;
}

Expected<bool, ProxyError> ProxyAuthenticator::accepted(const std::vector<std::string>& proxy_authenticate_values,
                                                        AuthAttempt& attempt) {
  bool authenticated = attempt.rode_on_connection;
  if (attempt.sent == Scheme::negotiate && attempt.context) {
    // A mutual-auth token that comes (Apache sends one, Squid does not) must
    // verify: a bad one means something other than the proxy answered. Its
    // absence proves nothing (whoever answered can just leave it out), so
    // the check is opportunistic unless --require-mutual-auth demands the
    // token. Checked before the back-off is reset: a failed check is no success.
    std::vector<Challenge> challenges;
    for (const auto& v : proxy_authenticate_values) parse_challenges(v, challenges);
    auto token = negotiate_token(challenges);
    if (token && !token->empty() && !attempt.context->established()) {
      const std::string why =
          "upstream proxy " + proxy_name_ + " sent a Negotiate answer that failed mutual authentication";
      std::string raw;
      if (!base64_decode(*token, raw))
        return Unexpected{ProxyError{ProxyErrc::http_protocol_error, why + " (not base64)", 502}};
      auto r = attempt.context->step(raw);
      if (!r) return Unexpected{ProxyError{ProxyErrc::http_protocol_error, why + ": " + r.error().words, 502}};
    }
    if (policy_.require_mutual_auth && !attempt.context->established())
      return Unexpected{ProxyError{ProxyErrc::http_protocol_error,
                                   "upstream proxy " + proxy_name_ +
                                       " accepted ferry's Negotiate token without proving its own identity (no "
                                       "mutual-authentication token), and --require-mutual-auth is set",
                                   502}};
    authenticated = true;
  } else if (attempt.sent == Scheme::ntlm && attempt.ntlm_leg == 3) {
    authenticated = true;
  }
  if (uses_password(attempt.sent)) policy_.backoff->accepted();
  std::lock_guard lock(mu_);
  if (attempt.sent == Scheme::none && !attempt.rode_on_connection) let_through_without_auth_ = true;
  return authenticated;
}

}  // namespace ferry::auth
