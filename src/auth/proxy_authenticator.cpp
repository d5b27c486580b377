#include "auth/proxy_authenticator.h"

#include "auth/basic_auth.h"

namespace ferry::auth {

std::string_view scheme_name(Scheme s) {
  switch (s) {
    case Scheme::none: return "none";
    case Scheme::basic: return "Basic";
    case Scheme::digest: return "Digest";
  }
  return "none";
}

ProxyAuthenticator::ProxyAuthenticator(AuthMode mode, Credentials creds, std::string proxy_name)
    : mode_(mode), creds_(std::move(creds)), proxy_name_(std::move(proxy_name)) {
  // --auth basic with credentials: send them from the first request, like
  // curl --proxy-basic; no 407 round trip.
  if (mode_ == AuthMode::basic && creds_.present()) learnt_ = Scheme::basic;
}

ProxyError ProxyAuthenticator::denied(std::string why) const {
  return ProxyError{ProxyErrc::http_request_denied, "upstream proxy " + proxy_name_ + " " + why, 407};
}

std::string ProxyAuthenticator::make_value(Scheme s, const DigestRequest& req) {
  switch (s) {
    case Scheme::basic: return basic_credentials(creds_.user, creds_.password.view());
    case Scheme::digest:
      if (!digest_) return {};
      return digest_credentials(*digest_, creds_.user, creds_.password.view(), req, ++nonce_count_, random_cnonce());
    case Scheme::none: break;
  }
  return {};
}

std::string ProxyAuthenticator::first_try(const DigestRequest& req, AuthAttempt& attempt) {
  std::lock_guard lock(mu_);
  attempt.sent = learnt_;
  return make_value(learnt_, req);
}

namespace {

bool allowed(AuthMode mode, Scheme s) {
  switch (mode) {
    case AuthMode::automatic: return true;
    case AuthMode::basic: return s == Scheme::basic;
    case AuthMode::digest: return s == Scheme::digest;
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

  auto digest = best_digest(challenges);
  bool basic_offered = false;
  for (const auto& c : challenges) basic_offered |= c.scheme == "basic";

  std::lock_guard lock(mu_);
  const bool sent_scheme_offered = (attempt.sent == Scheme::basic && basic_offered) ||
                                   (attempt.sent == Scheme::digest && digest.has_value());
  if (attempt.sent != Scheme::none && !sent_scheme_offered && mode_ != AuthMode::automatic)
    return Unexpected{denied("offers " + offered + ", not the --auth " + std::string(auth_mode_name(mode_)) +
                             " that is configured")};
  if (attempt.sent != Scheme::none) {
    // Our credentials were refused. Only a stale Digest nonce is worth one
    // more try (RFC 7616 §3.3: same credentials, new nonce); a fresh nonce
    // without stale=true means the password is wrong.
    const bool stale = attempt.sent == Scheme::digest && digest && digest->stale && !attempt.stale_retry_used;
    if (!stale) {
      if (attempt.sent == Scheme::digest && learnt_ == Scheme::digest) learnt_ = Scheme::none;
      if (attempt.sent == Scheme::basic && mode_ != AuthMode::basic) learnt_ = Scheme::none;
      // The user name stays out of the message: userinfo is not for logs.
      return Unexpected{denied("rejected ferry's " + std::string(scheme_name(attempt.sent)) +
                               " credentials (wrong user name or password?)")};
    }
    attempt.stale_retry_used = true;
  } else if (attempt.answers > 0) {
    return Unexpected{denied("asked for authentication again")};
  }

  if (!creds_.present())
    return Unexpected{denied("requires authentication (offers " + offered +
                             "); no credentials are configured: use --user with --password-file, or user:pass@ in "
                             "the upstream URL")};
  Scheme pick = Scheme::none;
  if (digest && allowed(mode_, Scheme::digest)) pick = Scheme::digest;
  else if (basic_offered && allowed(mode_, Scheme::basic)) pick = Scheme::basic;
  if (pick == Scheme::none) {
    if (mode_ == AuthMode::automatic)
      return Unexpected{denied("offers " + offered + ", which this version of ferry cannot answer (it speaks Basic and Digest)")};
    return Unexpected{denied("offers " + offered + ", not the --auth " + std::string(auth_mode_name(mode_)) +
                             " that is configured")};
  }
  if (pick == Scheme::digest) {
    digest_ = digest;
    nonce_count_ = 0;
  }
  learnt_ = pick;
  ++attempt.answers;
  attempt.sent = pick;
  return make_value(pick, req);
}

}  // namespace ferry::auth
