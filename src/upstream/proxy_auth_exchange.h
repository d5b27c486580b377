#pragma once
// One request's conversation with an upstream proxy about credentials: what
// each try carries, what a 407 leads to, and what the proxy's final answer
// proves. Plain HTTP forwarding and CONNECT tunnels (and, later, requests
// inside intercepted tunnels) use this one component, so the rules live in
// one place: the authenticator decides, this class carries its decisions
// across the tries of one request and off the event loop when GSSAPI may
// block.
#include <optional>
#include <string>
#include <vector>

#include "auth/proxy_authenticator.h"
#include "http/message_head.h"
#include "net/byte_stream.h"
#include "upstream/blocking_pool.h"
#include "upstream/upstream_context.h"

namespace ferry {

class ProxyAuthExchange {
 public:
  // `authr` may be null: a proxy ferry has no authenticator for (a 407 from
  // it is then the client's answer).
  // `req` and `proxy` are borrowed for the exchange's lifetime.
  ProxyAuthExchange(BlockingPool& blocking, auth::ProxyAuthenticator* authr, auth::DigestRequest req,
                    const ProxyUrl& proxy);
  ~ProxyAuthExchange();
  ProxyAuthExchange(const ProxyAuthExchange&) = delete;
  ProxyAuthExchange& operator=(const ProxyAuthExchange&) = delete;

  // Prepares a try on `conn`: the answer to the last 407 if one is pending,
  // else the authenticator's first try (none on a connection that already
  // authenticated with a connection-bound scheme).
  // The error: no try can be made (the GSSAPI pool is full or its wait ran out).
  awaitable<std::optional<ProxyError>> begin_try(const ByteStream& conn);
  // The Proxy-Authorization value of this try (empty: none).
  const std::string& credentials() const { return credentials_; }
  // Adds this try's Proxy-Authorization field to a rendered head (before the
  // final CRLF). The head then holds a credential: wipe it when done.
  void add_credentials(std::string& head) const;

  // This try is NTLM's type 1 before any 407 of this request: the proxy has
  // not said it wants NTLM for this destination, so a body request must not
  // ride on it (the proxy may let it through; review D1).
  bool preemptive_ntlm_leg() const;
  // This try is NTLM's type 1 in answer to a 407 on this request: the proxy
  // demanded the handshake, so the leg carries no body.
  bool reactive_ntlm_leg() const;
  // Ferry could authenticate but has not learnt whether this proxy wants it.
  bool scheme_unknown() const;

  // After a 407: prepares the next try's credentials, or returns the
  // client's error (rejected, no scheme ferry can answer, retries used up).
  awaitable<std::optional<ProxyError>> on_challenge(const http::ResponseHead& resp);
  // The pending answer belongs to this connection's handshake (NTLM type 3,
  // a SPNEGO continuation): a new connection cannot carry it.
  bool needs_same_connection() const { return attempt_.same_connection; }
  bool answer_pending() const { return answer_pending_; }

  // After the proxy's final non-407 answer: verifies a mutual-auth token and
  // marks `conn` authenticated for connection-bound schemes.
  awaitable<std::optional<ProxyError>> on_accepted(const http::ResponseHead& resp, ByteStream& conn);

  // The destination needs no credentials (the proxy let a probe through):
  // later tries of this request carry none.
  void drop_credentials();

  const auth::AuthAttempt& attempt() const { return attempt_; }
  bool has_authenticator() const { return authr_ != nullptr; }

 private:
  bool may_block() const;

  BlockingPool& blocking_;
  auth::ProxyAuthenticator* authr_;
  const auth::DigestRequest req_;
  const ProxyUrl& proxy_;  // named in errors (redacted), only when one happens
  auth::AuthAttempt attempt_;
  std::string credentials_;  // wiped in the destructor and on every change
  bool answer_pending_ = false;
  bool no_credentials_ = false;
};

}  // namespace ferry
