#pragma once
// The auth controller for one upstream proxy (after Chromium's
// HttpAuthController): it owns the identity and the scheme learnt from the
// proxy's 407, answers challenges, and decides — in one place — whether a
// repeated challenge means "retry" (a stale Digest nonce) or "rejected"
// (anything else), so a 407 loop is impossible whatever the proxy does.
//
// Shared by every worker thread talking to that proxy (a Digest nonce and
// its count are per proxy, not per connection), hence the mutex.
// Connection-bound schemes (Negotiate, NTLM) will keep their per-connection
// state beside the connection; this class then only picks the scheme.
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/challenge.h"
#include "auth/credentials.h"
#include "auth/digest_auth.h"
#include "base/expected.h"
#include "base/proxy_error.h"
#include "config/config.h"

namespace ferry::auth {

enum class Scheme { none, basic, digest };
std::string_view scheme_name(Scheme s);

// One request's conversation with the proxy: at most one answer to a 407,
// plus one more only for a Digest `stale=true` (a new nonce, same password).
struct AuthAttempt {
  Scheme sent = Scheme::none;  // what the last try carried
  int answers = 0;             // 407s answered so far
  bool stale_retry_used = false;
};

class ProxyAuthenticator {
 public:
  ProxyAuthenticator(AuthMode mode, Credentials creds, std::string proxy_name);

  // The Proxy-Authorization value for a first try: set once the proxy is
  // known to want a scheme ferry can answer (or --auth basic), else empty.
  // `attempt` records what was sent.
  std::string first_try(const DigestRequest& req, AuthAttempt& attempt);

  // After a 407 whose Proxy-Authenticate values are `challenge_values`:
  // the value to retry with, or the error the client gets (a 407 with
  // Proxy-Status http_request_denied and details in words a user can act on).
  Expected<std::string, ProxyError> answer(const std::vector<std::string>& challenge_values, const DigestRequest& req,
                                           AuthAttempt& attempt);

  bool has_credentials() const { return creds_.present(); }
  const std::string& proxy_name() const { return proxy_name_; }

 private:
  ProxyError denied(std::string why) const;
  std::string make_value(Scheme s, const DigestRequest& req);  // with mutex held

  const AuthMode mode_;
  const Credentials creds_;
  const std::string proxy_name_;  // redacted URL, for messages

  std::mutex mu_;
  Scheme learnt_ = Scheme::none;
  std::optional<DigestChallenge> digest_;
  uint32_t nonce_count_ = 0;
};

}  // namespace ferry::auth
