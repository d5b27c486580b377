#include "upstream/proxy_auth_exchange.h"

#include "auth/proxy_authorization.h"
#include "upstream/proxy_hop.h"

namespace ferry {

ProxyAuthExchange::ProxyAuthExchange(BlockingPool& blocking, auth::ProxyAuthenticator* authr, auth::DigestRequest req,
                                     const ProxyUrl& proxy)
    : blocking_(blocking), authr_(authr), req_(req), proxy_(proxy) {}

ProxyAuthExchange::~ProxyAuthExchange() { auth::cleanse_string(credentials_); }

bool ProxyAuthExchange::may_block() const {
  // Only GSSAPI may wait (for the KDC); the other schemes are computed here.
  return authr_ && authr_->negotiate_mechanism() != nullptr;
}

awaitable<std::optional<ProxyError>> ProxyAuthExchange::begin_try(const ByteStream& conn) {
  if (answer_pending_) {
    answer_pending_ = false;  // this try carries the answer
    co_return std::nullopt;
  }
  auth::cleanse_string(credentials_);
  credentials_.clear();
  if (!authr_ || no_credentials_) co_return std::nullopt;
  attempt_ = auth::AuthAttempt{};
  const bool authenticated = conn.proxy_authenticated;
  // Without a GSSAPI call nothing can wait: computed here, no pool round trip.
  if (auto now = authr_->first_try_now(req_, attempt_, authenticated)) {
    credentials_ = std::move(*now);
    co_return std::nullopt;
  }
  attempt_ = auth::AuthAttempt{};
  auto first = [&] { return authr_->first_try(req_, attempt_, authenticated); };
  auto made = co_await off_loop(blocking_, first, true);
  if (!made) co_return made.error();
  // The move frees nothing unwiped: credentials_ was wiped and emptied above.
  credentials_ = std::move(*made);
  co_return std::nullopt;
}

void ProxyAuthExchange::add_credentials(std::string& head) const {
  // No temporary copy of the credential, and the head's one reallocation
  // happens before the value is written.
  auth::append_proxy_authorization(head, credentials_);
}

bool ProxyAuthExchange::preemptive_ntlm_leg() const {
  return !credentials_.empty() && auth::ProxyAuthenticator::body_withheld(attempt_) && attempt_.answers == 0;
}

bool ProxyAuthExchange::reactive_ntlm_leg() const {
  return !credentials_.empty() && auth::ProxyAuthenticator::body_withheld(attempt_) && attempt_.answers > 0;
}

bool ProxyAuthExchange::scheme_unknown() const {
  return authr_ && credentials_.empty() && !no_credentials_ && authr_->scheme_unknown();
}

awaitable<std::optional<ProxyError>> ProxyAuthExchange::on_challenge(const http::ResponseHead& resp) {
  if (!authr_ || no_credentials_)
    co_return ProxyError{ProxyErrc::http_request_denied,
                         "upstream proxy " + proxy_.to_redacted_string() + " requires authentication", 407};
  const auto challenges = proxy_authenticate_values(resp);
  auto respond = [&] { return authr_->answer(challenges, req_, attempt_); };
  auto next = co_await off_loop(blocking_, respond, may_block());
  if (!next) co_return next.error();
  auth::cleanse_string(credentials_);
  credentials_ = std::move(*next);
  auth::cleanse_string(*next);
  answer_pending_ = true;
  co_return std::nullopt;
}

awaitable<std::optional<ProxyError>> ProxyAuthExchange::on_accepted(const http::ResponseHead& resp, ByteStream& conn) {
  if (!authr_) co_return std::nullopt;
  const auto answers = proxy_authenticate_values(resp);
  auto verify = [&] { return authr_->accepted(answers, attempt_); };
  if (!attempt_.context) {
    // No security context to verify a token with: nothing can wait.
    auto ok = verify();
    if (!ok) co_return ok.error();
    if (*ok) conn.proxy_authenticated = true;
    co_return std::nullopt;
  }
  auto ok = co_await off_loop(blocking_, verify, true);
  if (!ok) co_return ok.error();
  if (*ok) conn.proxy_authenticated = true;
  co_return std::nullopt;
}

void ProxyAuthExchange::drop_credentials() {
  auth::cleanse_string(credentials_);
  credentials_.clear();
  answer_pending_ = false;
  no_credentials_ = true;
}

}  // namespace ferry
