// ProxyAuthenticator's connection-bound schemes and lockout protection:
// Negotiate through a scripted GssMechanism (fresh context per connection,
// continuation legs, one fresh context after a rejected token, failures in
// words, mutual authentication), NTLM type 1 -> type 2 -> type 3, and the
// back-off after consecutive rejections (with an injected clock).
//
// Every refusal in this file goes through expect_denied()/expect_error(),
// which also check that no user name or password leaks into the details.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <vector>

#include "auth/basic_auth.h"
#include "auth/ntlm/ntlm_codec.h"
#include "auth/proxy_authenticator.h"
#include "fake_gss.h"

namespace ferry::auth {
namespace {

using fake::FakeGssMechanism;
using fake::FakeStep;
using Clock = ProxyAuthenticator::Clock;

constexpr const char* kProxy = "http://proxy.example:3128";
constexpr const char* kSpn = "HTTP@proxy.example";
constexpr DigestRequest kReq{"GET", "http://x/"};

const std::string kUser = "TESTDOM\\carol";
const std::string kPassword = "S3cret-Unique-Passw0rd";
const std::string kBasic = R"(Basic realm="b")";
const std::string kDigest = R"(Digest realm="r", nonce="n1", qop="auth", algorithm=MD5)";

Credentials creds(std::string user = kUser, std::string pw = kPassword) {
  Credentials c;
  c.user = std::move(user);
  c.password = Secret(std::move(pw));
  return c;
}

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

std::string b64(std::string_view s) { return base64_encode(s); }

std::string unb64(std::string_view s) {
  std::string out;
  EXPECT_TRUE(base64_decode(s, out)) << s;
  return out;
}

// No secret (nor any part of "DOMAIN\user", nor Basic's encoding of it)
// may reach a client: details go into Proxy-Status and the log.
void expect_no_secrets(const ProxyError& e, std::source_location loc = std::source_location::current()) {
  SCOPED_TRACE(::testing::Message() << "from line " << loc.line());
  for (const std::string& s : {kUser, std::string("carol"), kPassword, b64(kUser + ":" + kPassword),
                               std::string(fake::kFakeGssDebug), std::string("FAKE-M")}) {
    EXPECT_FALSE(contains(e.details, s)) << "details leak \"" << s << "\": " << e.details;
  }
}

// A refusal of a 407: the client gets ferry's 407, http_request_denied,
// naming the proxy. Returns the details.
std::string expect_denied(const Expected<std::string, ProxyError>& r,
                          std::source_location loc = std::source_location::current()) {
  SCOPED_TRACE(::testing::Message() << "from line " << loc.line());
  EXPECT_FALSE(r.has_value()) << "answered: " << (r.has_value() ? r.value() : std::string());
  if (r.has_value()) return {};
  EXPECT_EQ(r.error().type, ProxyErrc::http_request_denied);
  EXPECT_EQ(r.error().http_status(), 407);
  EXPECT_TRUE(contains(r.error().details, kProxy)) << r.error().details;
  expect_no_secrets(r.error(), loc);
  return r.error().details;
}

// A bad answer from the proxy after it accepted: 502 http_protocol_error.
std::string expect_protocol_error(const Expected<bool, ProxyError>& r,
                                  std::source_location loc = std::source_location::current()) {
  SCOPED_TRACE(::testing::Message() << "from line " << loc.line());
  EXPECT_FALSE(r.has_value()) << "accepted: " << (r.has_value() ? r.value() : false);
  if (r.has_value()) return {};
  EXPECT_EQ(r.error().type, ProxyErrc::http_protocol_error);
  EXPECT_EQ(r.error().http_status(), 502);
  EXPECT_TRUE(contains(r.error().details, kProxy)) << r.error().details;
  expect_no_secrets(r.error(), loc);
  return r.error().details;
}

// accepted()'s answer: true when the connection is now authenticated.
bool authenticated(const Expected<bool, ProxyError>& r) {
  EXPECT_TRUE(r.has_value()) << (r.has_value() ? "" : r.error().details);
  return r.has_value() && *r;
}

std::string negotiate(std::string_view token) { return "Negotiate " + b64(token); }

// A mechanism, a clock, and the authenticators made with them.
struct Rig {
  std::shared_ptr<FakeGssMechanism> gss = std::make_shared<FakeGssMechanism>();
  std::shared_ptr<Clock::time_point> now =
      std::make_shared<Clock::time_point>(Clock::time_point{} + std::chrono::hours(24));

  AuthPolicy policy;  // for the authenticators made from now on
  ProxyAuthenticator make(AuthMode mode, Credentials c = {}, bool with_mechanism = true) {
    NegotiateSetup neg;
    if (with_mechanism) neg.mechanism = gss;
    neg.spn = kSpn;
    auto clock = now;
    return ProxyAuthenticator(
        mode, std::move(c), kProxy, std::move(neg), [clock] { return *clock; }, policy);
  }
  int starts() const { return gss->log->starts; }
  const std::vector<std::string>& server_tokens() const { return gss->log->server_tokens; }
};

// ---- Negotiate: answering, learning, a fresh context per connection ----

TEST(NegotiateAuth, AutoAnswersNegotiateWithATokenFromAFreshContext) {
  struct Case {
    std::vector<std::string> challenges;
    bool with_creds;
  };
  // Negotiate is preferred over everything else ferry could answer.
  const Case cases[] = {
      {{"Negotiate"}, false},
      {{"Negotiate"}, true},
      {{kBasic, "Negotiate"}, true},
      {{"NTLM", "Negotiate"}, true},
      {{"NTLM, Negotiate, " + kBasic}, true},
      {{kDigest, "Negotiate"}, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.challenges.front());
    Rig rig;
    auto a = rig.make(AuthMode::automatic, c.with_creds ? creds() : Credentials{});
    AuthAttempt at;
    EXPECT_EQ(a.first_try(kReq, at), "");  // nothing learnt yet
    EXPECT_EQ(rig.starts(), 0);
    auto r = a.answer(c.challenges, kReq, at);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_EQ(*r, negotiate(FakeGssMechanism::default_token(1)));
    EXPECT_EQ(at.sent, Scheme::negotiate);
    EXPECT_EQ(at.answers, 1);
    EXPECT_NE(at.context, nullptr);
    EXPECT_EQ(rig.starts(), 1);
    EXPECT_EQ(rig.gss->log->spns, std::vector<std::string>{kSpn});
    EXPECT_EQ(rig.server_tokens(), std::vector<std::string>{""});  // the first leg has no server token
    auto acc = a.accepted({}, at);
    ASSERT_TRUE(acc.has_value()) << acc.error().details;
    EXPECT_TRUE(*acc);  // the connection is authenticated
  }
}

TEST(NegotiateAuth, LearntNegotiateMakesAFreshTokenPerNewConnection) {
  Rig rig;
  auto a = rig.make(AuthMode::automatic);
  AuthAttempt first;
  ASSERT_TRUE(a.answer({"Negotiate"}, kReq, first).has_value());
  ASSERT_EQ(rig.starts(), 1);

  std::vector<std::string> seen = {negotiate(FakeGssMechanism::default_token(1))};
  for (int i = 2; i <= 4; ++i) {
    AuthAttempt at;
    auto v = a.first_try(kReq, at, /*connection_authenticated=*/false);
    EXPECT_EQ(rig.starts(), i) << "one new context per new connection";
    EXPECT_EQ(v, negotiate(FakeGssMechanism::default_token(i)));
    for (const auto& old : seen) EXPECT_NE(v, old) << "token replayed";
    seen.push_back(v);
    EXPECT_EQ(at.sent, Scheme::negotiate);
    EXPECT_NE(at.context, nullptr);
    EXPECT_FALSE(at.rode_on_connection);
    auto acc = a.accepted({}, at);
    ASSERT_TRUE(acc.has_value()) << acc.error().details;
    EXPECT_TRUE(*acc);
  }

  // An authenticated connection needs no token and no context.
  for (int i = 0; i < 3; ++i) {
    AuthAttempt at;
    EXPECT_EQ(a.first_try(kReq, at, /*connection_authenticated=*/true), "");
    EXPECT_TRUE(at.rode_on_connection);
    EXPECT_EQ(at.sent, Scheme::none);
    EXPECT_EQ(at.context, nullptr);
    EXPECT_EQ(rig.starts(), 4);
    auto acc = a.accepted({}, at);
    ASSERT_TRUE(acc.has_value()) << acc.error().details;
    EXPECT_TRUE(*acc) << "the connection stays authenticated";
  }
}

TEST(NegotiateAuth, NegotiateModeIsPreemptive) {
  Rig rig;
  auto a = rig.make(AuthMode::negotiate);
  AuthAttempt at;
  EXPECT_EQ(rig.starts(), 0);  // nothing made before a request needs it
  EXPECT_EQ(a.first_try(kReq, at), negotiate(FakeGssMechanism::default_token(1)));
  EXPECT_EQ(at.sent, Scheme::negotiate);
  EXPECT_EQ(rig.starts(), 1);
  AuthAttempt next;
  EXPECT_EQ(a.first_try(kReq, next), negotiate(FakeGssMechanism::default_token(2)));
  EXPECT_EQ(rig.starts(), 2);

  // Auto mode, by contrast, waits for the proxy to ask.
  Rig rig2;
  auto b = rig2.make(AuthMode::automatic, creds());
  AuthAttempt at2;
  EXPECT_EQ(b.first_try(kReq, at2), "");
  EXPECT_EQ(rig2.starts(), 0);
}

// ---- Negotiate: a rejected token, continuation legs ----

TEST(NegotiateAuth, RejectedTokenGetsOneFreshContextThenIsDenied) {
  for (bool preemptive : {false, true}) {
    SCOPED_TRACE(preemptive ? "token sent by first_try" : "token sent by answer");
    Rig rig;
    auto a = rig.make(preemptive ? AuthMode::negotiate : AuthMode::automatic);
    AuthAttempt at;
    if (preemptive) {
      ASSERT_FALSE(a.first_try(kReq, at).empty());
    } else {
      ASSERT_EQ(a.first_try(kReq, at), "");
      ASSERT_TRUE(a.answer({"Negotiate"}, kReq, at).has_value());
    }
    ASSERT_EQ(rig.starts(), 1);
    const int answers = at.answers;

    auto r = a.answer({"Negotiate"}, kReq, at);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_EQ(*r, negotiate(FakeGssMechanism::default_token(2)));
    EXPECT_EQ(rig.starts(), 2) << "exactly one fresh context";
    EXPECT_TRUE(at.fresh_context_used);
    EXPECT_EQ(at.answers, answers + 1);
    EXPECT_EQ(at.sent, Scheme::negotiate);
    // The fresh context starts from scratch, not from the refused one's state.
    EXPECT_EQ(rig.server_tokens(), (std::vector<std::string>{"", ""}));

    auto d = expect_denied(a.answer({"Negotiate"}, kReq, at));
    EXPECT_TRUE(contains(d, "rejected ferry's Negotiate token")) << d;
    EXPECT_TRUE(contains(d, kSpn)) << d;
    EXPECT_EQ(rig.starts(), 2) << "no third context";
    // Asked yet again: still denied, still no new context (never a loop).
    expect_denied(a.answer({"Negotiate"}, kReq, at));
    EXPECT_EQ(rig.starts(), 2);
  }
}

TEST(NegotiateAuth, ServerTokenContinuesTheHandshakeOnTheSameConnection) {
  Rig rig;
  rig.gss->established_after = 3;  // three legs
  auto a = rig.make(AuthMode::automatic);
  AuthAttempt at;
  auto first = a.answer({"Negotiate"}, kReq, at);
  ASSERT_TRUE(first.has_value()) << first.error().details;
  EXPECT_EQ(*first, negotiate(FakeGssMechanism::default_token(1, 1)));
  EXPECT_FALSE(at.same_connection);
  ASSERT_FALSE(at.context->established());

  auto r = a.answer({"Negotiate " + b64("server-leg-1")}, kReq, at);
  ASSERT_TRUE(r.has_value()) << r.error().details;
  EXPECT_EQ(*r, negotiate(FakeGssMechanism::default_token(1, 2)));
  EXPECT_TRUE(at.same_connection);
  EXPECT_FALSE(at.fresh_context_used);
  EXPECT_EQ(rig.starts(), 1) << "a continuation is not a new context";
  EXPECT_EQ(rig.server_tokens(), (std::vector<std::string>{"", "server-leg-1"}));

  r = a.answer({kBasic + ", Negotiate " + b64("server-leg-2")}, kReq, at);
  ASSERT_TRUE(r.has_value()) << r.error().details;
  EXPECT_EQ(*r, negotiate(FakeGssMechanism::default_token(1, 3)));
  EXPECT_TRUE(at.same_connection);
  EXPECT_EQ(rig.server_tokens().back(), "server-leg-2");
  EXPECT_TRUE(at.context->established());
  EXPECT_EQ(rig.starts(), 1);

  auto acc = a.accepted({}, at);
  ASSERT_TRUE(acc.has_value()) << acc.error().details;
  EXPECT_TRUE(*acc);
}

TEST(NegotiateAuth, ContinuationTokenThatIsNotBase64IsDenied) {
  Rig rig;
  rig.gss->established_after = 2;
  auto a = rig.make(AuthMode::automatic);
  AuthAttempt at;
  ASSERT_TRUE(a.answer({"Negotiate"}, kReq, at).has_value());
  auto d = expect_denied(a.answer({"Negotiate a-b_"}, kReq, at));
  EXPECT_TRUE(contains(d, "not base64")) << d;
  EXPECT_EQ(rig.server_tokens().size(), 1u) << "nothing undecodable reaches step()";
}

TEST(NegotiateAuth, EndlessContinuationsAreBounded) {
  // A proxy that answers every leg with yet another server token, and a
  // context that never completes: ferry must give up, not loop.
  Rig rig;
  rig.gss->established_after = 0;
  auto a = rig.make(AuthMode::automatic);
  AuthAttempt at;
  ASSERT_TRUE(a.answer({"Negotiate"}, kReq, at).has_value());
  int answered = 1;
  for (int i = 0; i < 20; ++i) {
    auto r = a.answer({"Negotiate " + b64("more-" + std::to_string(i))}, kReq, at);
    if (!r) {
      expect_denied(r);
      break;
    }
    ++answered;
  }
  EXPECT_LE(answered, 6) << "407s answered for one request";
  EXPECT_LE(rig.starts(), 2);
}

// ---- Negotiate: failures in words ----

struct CauseCase {
  GssCause cause;
  const char* phrase;
};
const CauseCase kCauses[] = {
    {GssCause::no_credentials, "no Kerberos credentials"},
    {GssCause::credentials_expired, "expired"},
    {GssCause::server_unknown, "does not know the service principal"},
    {GssCause::kdc_unreachable, "cannot reach the Kerberos KDC"},
    {GssCause::clock_skew, "clocks"},
};

TEST(NegotiateAuth, TokenFailureIsDeniedInTheCausesWords) {
  for (const auto& c : kCauses) {
    SCOPED_TRACE(c.phrase);
    Rig rig;
    rig.gss->fail_with(c.cause);
    auto a = rig.make(AuthMode::automatic);
    AuthAttempt at;
    auto d = expect_denied(a.answer({"Negotiate"}, kReq, at));
    EXPECT_TRUE(contains(d, c.phrase)) << d;
    EXPECT_TRUE(contains(d, gss_cause_words(c.cause, kSpn))) << d;
    EXPECT_TRUE(contains(d, "Negotiate")) << d;
    if (c.cause == GssCause::server_unknown) {
      EXPECT_TRUE(contains(d, kSpn)) << d;
    }
    EXPECT_EQ(rig.starts(), 1);
    EXPECT_EQ(at.sent, Scheme::none);
    // A failed context is not kept.
    EXPECT_EQ(at.context, nullptr);
  }
}

TEST(NegotiateAuth, FreshContextFailureIsDeniedInTheCausesWords) {
  for (const auto& c : kCauses) {
    SCOPED_TRACE(c.phrase);
    Rig rig;
    auto a = rig.make(AuthMode::automatic);
    AuthAttempt at;
    ASSERT_TRUE(a.answer({"Negotiate"}, kReq, at).has_value());
    rig.gss->fail_with(c.cause);  // the ticket went bad meanwhile
    auto d = expect_denied(a.answer({"Negotiate"}, kReq, at));
    EXPECT_TRUE(contains(d, c.phrase)) << d;
    EXPECT_EQ(rig.starts(), 2);
  }
}

TEST(NegotiateAuth, TokenFailureFallsBackToBasicInAutoMode) {
  for (const auto& c : kCauses) {
    SCOPED_TRACE(c.phrase);
    Rig rig;
    rig.policy.allow_basic_fallback = true;
    rig.gss->fail_with(c.cause);
    auto a = rig.make(AuthMode::automatic, creds());
    AuthAttempt at;
    auto r = a.answer({"Negotiate", kBasic}, kReq, at);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_TRUE(r->starts_with("Basic ")) << *r;
    EXPECT_EQ(*r, basic_credentials(kUser, kPassword));
    EXPECT_EQ(at.sent, Scheme::basic);
    EXPECT_EQ(rig.starts(), 1);
  }
  // ... but not in --auth negotiate: that is what was asked for.
  Rig rig;
  rig.gss->fail_with(GssCause::no_credentials);
  auto a = rig.make(AuthMode::negotiate, creds());
  AuthAttempt at;
  EXPECT_EQ(a.first_try(kReq, at), "");
  auto d = expect_denied(a.answer({"Negotiate", kBasic}, kReq, at));
  EXPECT_TRUE(contains(d, "no Kerberos credentials")) << d;
}

// A Negotiate that cannot make a token rests for a minute in auto mode when
// another scheme answers, so each request does not pay a failed Kerberos call.
TEST(NegotiateAuth, FailedNegotiateRestsInAutoModeWhileAnotherSchemeAnswers) {
  Rig rig;
  rig.policy.allow_basic_fallback = true;
  rig.gss->fail_with(GssCause::kdc_unreachable);
  auto a = rig.make(AuthMode::automatic, creds());
  AuthAttempt first;
  ASSERT_TRUE(a.answer({"Negotiate", kBasic}, kReq, first).has_value());
  EXPECT_EQ(rig.starts(), 1);
  // Another 407 offering both within the minute: Basic at once, no new context.
  AuthAttempt second;
  auto r = a.answer({"Negotiate", kBasic}, kReq, second);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->starts_with("Basic "));
  EXPECT_EQ(rig.starts(), 1);
  // After the rest, Negotiate is tried again.
  *rig.now += ProxyAuthenticator::kNegotiateRest + std::chrono::seconds(1);
  AuthAttempt third;
  ASSERT_TRUE(a.answer({"Negotiate", kBasic}, kReq, third).has_value());
  EXPECT_EQ(rig.starts(), 2);
}

TEST(NegotiateAuth, FirstTryFailureIsRememberedForTheAnswer) {
  for (const auto& c : kCauses) {
    SCOPED_TRACE(c.phrase);
    Rig rig;
    rig.policy.allow_basic_fallback = true;
    auto a = rig.make(AuthMode::automatic, creds());
    AuthAttempt learn;
    ASSERT_TRUE(a.answer({"Negotiate"}, kReq, learn).has_value());  // Negotiate learnt
    rig.gss->fail_with(c.cause);

    AuthAttempt at;
    EXPECT_EQ(a.first_try(kReq, at), "");
    EXPECT_EQ(rig.starts(), 2);
    ASSERT_TRUE(at.token_failure.has_value());
    EXPECT_EQ(at.token_failure->cause, c.cause);
    EXPECT_EQ(at.sent, Scheme::none);
    EXPECT_EQ(at.context, nullptr);

    // The 407 that follows is answered from that failure, without asking
    // the KDC again (it may be slow or down).
    auto d = expect_denied(a.answer({"Negotiate"}, kReq, at));
    EXPECT_TRUE(contains(d, c.phrase)) << d;
    EXPECT_EQ(rig.starts(), 2);

    // With Basic also offered, the same failure falls back to it, still
    // without a new context.
    AuthAttempt at2;
    EXPECT_EQ(a.first_try(kReq, at2), "");
    EXPECT_EQ(rig.starts(), 3);
    auto r = a.answer({"Negotiate", kBasic}, kReq, at2);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_TRUE(r->starts_with("Basic ")) << *r;
    EXPECT_EQ(rig.starts(), 3);
  }
}

TEST(NegotiateAuth, NoMechanismIsDeniedNamingNegotiate) {
  Rig rig;
  auto a = rig.make(AuthMode::automatic, {}, /*with_mechanism=*/false);
  AuthAttempt at;
  auto d = expect_denied(a.answer({"Negotiate"}, kReq, at));
  EXPECT_TRUE(contains(d, "Negotiate")) << d;
  EXPECT_EQ(rig.starts(), 0);
}

// ---- Negotiate: mutual authentication ----

TEST(NegotiateAuth, MutualAuthTokenIsVerifiedByTheContext) {
  Rig rig;
  rig.gss->established_after = 2;  // the context waits for the proxy's answer token
  auto a = rig.make(AuthMode::automatic);
  AuthAttempt at;
  ASSERT_TRUE(a.answer({"Negotiate"}, kReq, at).has_value());
  ASSERT_FALSE(at.context->established());
  auto acc = a.accepted({negotiate("mutual-answer")}, at);
  ASSERT_TRUE(acc.has_value()) << acc.error().details;
  EXPECT_TRUE(*acc);
  EXPECT_EQ(rig.server_tokens(), (std::vector<std::string>{"", "mutual-answer"}));
  EXPECT_TRUE(at.context->established());
  EXPECT_EQ(rig.starts(), 1);
}

// Opportunistic by default (Squid never sends a mutual-auth token); with
// --require-mutual-auth a success without one is refused.
TEST(NegotiateAuth, RequireMutualAuthRefusesASuccessWithoutAToken) {
  for (bool required : {false, true}) {
    SCOPED_TRACE(required ? "required" : "opportunistic");
    Rig rig;
    rig.gss->established_after = 2;  // the context waits for the proxy's answer token
    rig.policy.require_mutual_auth = required;
    auto a = rig.make(AuthMode::automatic);
    AuthAttempt without;
    ASSERT_TRUE(a.answer({"Negotiate"}, kReq, without).has_value());
    auto acc = a.accepted({}, without);
    if (required) {
      auto d = expect_protocol_error(acc);
      EXPECT_TRUE(contains(d, "--require-mutual-auth")) << d;
      EXPECT_TRUE(contains(d, "mutual-authentication token")) << d;
    } else {
      EXPECT_TRUE(authenticated(acc));
    }
    // A token that verifies is accepted either way.
    AuthAttempt with;
    ASSERT_TRUE(a.answer({"Negotiate"}, kReq, with).has_value());
    EXPECT_TRUE(authenticated(a.accepted({negotiate("mutual-answer")}, with)));
    EXPECT_TRUE(with.context->established());
  }
}

TEST(NegotiateAuth, MutualAuthFailureIsAProtocolError) {
  // Whatever cause GSSAPI reports for a bad answer token (MIT reports a
  // tampered AP-REP as an integrity error, which classifies as a bad
  // password), the client must learn that mutual authentication failed.
  struct Case {
    GssCause cause;
    std::string words;  // empty: gss_cause_words(cause)
  };
  const Case cases[] = {
      {GssCause::mutual_auth_failed, ""},
      {GssCause::other, "Kerberos authentication failed"},
      {GssCause::bad_password, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(int(c.cause));
    Rig rig;
    rig.gss->established_after = 2;
    rig.gss->script = {FakeStep::ok(), FakeStep::failing(c.cause, c.words)};
    auto a = rig.make(AuthMode::automatic);
    AuthAttempt at;
    ASSERT_TRUE(a.answer({"Negotiate"}, kReq, at).has_value());
    auto d = expect_protocol_error(a.accepted({negotiate("forged-answer")}, at));
    EXPECT_TRUE(contains(d, "mutual authentication")) << d;
    EXPECT_EQ(rig.server_tokens().back(), "forged-answer");
  }
}

TEST(NegotiateAuth, MutualAuthTokenThatIsNotBase64IsAProtocolError) {
  Rig rig;
  rig.gss->established_after = 2;
  auto a = rig.make(AuthMode::automatic);
  AuthAttempt at;
  ASSERT_TRUE(a.answer({"Negotiate"}, kReq, at).has_value());
  auto d = expect_protocol_error(a.accepted({"Negotiate a-b_"}, at));
  EXPECT_TRUE(contains(d, "not base64")) << d;
  EXPECT_EQ(rig.server_tokens().size(), 1u);
}

// ---- NTLM ----

void put16(std::string& s, uint16_t v) {
  s.push_back(char(v & 0xff));
  s.push_back(char(v >> 8));
}
void put32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(char((v >> (8 * i)) & 0xff));
}

const std::array<uint8_t, 8> kServerChallenge = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

std::string av(uint16_t id, std::string_view value) {
  std::string s;
  put16(s, id);
  put16(s, uint16_t(value.size()));
  s += value;
  return s;
}

const std::string kTargetInfo = av(ntlm::kMsvAvNbDomainName, ntlm::utf16le("TESTDOM")) +
                                av(ntlm::kMsvAvNbComputerName, ntlm::utf16le("PROXY")) + av(ntlm::kMsvAvEol, "");

// A CHALLENGE_MESSAGE laid out as in MS-NLMP §4.2.4.3: target name, then
// target info, after a 56-byte header with the Version field.
std::string type2(std::string_view target_info = kTargetInfo, uint32_t flags = 0xe28a8235u) {
  std::string m("NTLMSSP\0", 8);
  put32(m, 2);
  const std::string name = ntlm::utf16le("TESTDOM");
  const uint32_t name_at = 56;
  const uint32_t info_at = name_at + uint32_t(name.size());
  put16(m, uint16_t(name.size()));
  put16(m, uint16_t(name.size()));
  put32(m, name_at);
  put32(m, flags);
  m.append(reinterpret_cast<const char*>(kServerChallenge.data()), 8);
  m.append(8, '\0');
  put16(m, uint16_t(target_info.size()));
  put16(m, uint16_t(target_info.size()));
  put32(m, info_at);
  m.append("\x0a\x00\x63\x45\x00\x00\x00\x0f", 8);
  m += name;
  m += target_info;
  return m;
}

std::string ntlm_value(std::string_view raw) { return "NTLM " + b64(raw); }

// The bytes of a security buffer (len, max_len, offset) at `at` in an NTLM message.
std::string field(const std::string& m, size_t at) {
  ntlm::LeReader r(m);
  auto len = r.u16(at);
  auto off = r.u32(at + 4);
  EXPECT_TRUE(len && off) << "field at " << at;
  if (!len || !off) return {};
  auto b = r.bytes(*off, *len);
  EXPECT_TRUE(b) << "field at " << at << " outside the message";
  return b ? std::string(*b) : std::string();
}

// Checks a "NTLM <base64>" value carries a 40-byte NEGOTIATE_MESSAGE.
void expect_type1(const std::string& v, std::source_location loc = std::source_location::current()) {
  SCOPED_TRACE(::testing::Message() << "from line " << loc.line());
  ASSERT_TRUE(v.starts_with("NTLM ")) << v;
  const std::string raw = unb64(v.substr(5));
  ASSERT_EQ(raw.size(), 40u);
  EXPECT_EQ(raw.substr(0, 8), std::string("NTLMSSP\0", 8));
  EXPECT_EQ(*ntlm::LeReader(raw).u32(8), 1u);
  EXPECT_EQ(raw, ntlm::negotiate_message());
}

TEST(NtlmAuth, NtlmModeRunsTheThreeLegHandshake) {
  struct Case {
    std::string user;
    std::string want_domain;
    std::string want_user;
  };
  const Case cases[] = {
      {"TESTDOM\\carol", "TESTDOM", "carol"},
      {"carol@testdom.example", "", "carol@testdom.example"},  // a UPN goes whole
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.user);
    Rig rig;
    auto a = rig.make(AuthMode::ntlm, creds(c.user), /*with_mechanism=*/false);
    AuthAttempt at;
    const std::string t1 = a.first_try(kReq, at);
    expect_type1(t1);
    EXPECT_EQ(at.sent, Scheme::ntlm);
    EXPECT_EQ(at.ntlm_leg, 1);
    EXPECT_FALSE(at.same_connection);
    EXPECT_TRUE(ProxyAuthenticator::body_withheld(at));

    auto r = a.answer({ntlm_value(type2())}, kReq, at);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_TRUE(at.same_connection);
    EXPECT_EQ(at.ntlm_leg, 3);
    EXPECT_EQ(at.sent, Scheme::ntlm);
    EXPECT_FALSE(ProxyAuthenticator::body_withheld(at));
    ASSERT_TRUE(r->starts_with("NTLM ")) << *r;

    const std::string m = unb64(r->substr(5));
    ASSERT_GE(m.size(), 72u);
    EXPECT_EQ(m.substr(0, 8), std::string("NTLMSSP\0", 8));
    EXPECT_EQ(*ntlm::LeReader(m).u32(8), 3u);
    EXPECT_EQ(field(m, 28), ntlm::utf16le(c.want_domain));
    EXPECT_EQ(field(m, 36), ntlm::utf16le(c.want_user));
    if (c.want_domain == "TESTDOM") {
      EXPECT_EQ(field(m, 28), std::string("T\0E\0S\0T\0D\0O\0M\0", 14));
      EXPECT_EQ(field(m, 36), std::string("c\0a\0r\0o\0l\0", 10));
    }
    // The NTLMv2 response proves the password: recompute NTProofStr from
    // the blob it carries.
    const std::string nt = field(m, 20);
    ASSERT_GT(nt.size(), 16u);
    const auto key = ntlm::ntowf_v2(kPassword, c.want_user, c.want_domain);
    const auto proof = ntlm::ntproof_str(key, kServerChallenge, nt.substr(16));
    EXPECT_EQ(nt.substr(0, 16), std::string(reinterpret_cast<const char*>(proof.data()), 16));
    EXPECT_TRUE(contains(nt, kTargetInfo)) << "target info echoed";
    // Never the password itself, in any encoding.
    EXPECT_FALSE(contains(m, kPassword));
    EXPECT_FALSE(contains(m, ntlm::utf16le(kPassword)));

    auto acc = a.accepted({}, at);
    ASSERT_TRUE(acc.has_value()) << acc.error().details;
    EXPECT_TRUE(*acc) << "NTLM authenticates the connection";
  }
}

TEST(NtlmAuth, AutoModeAnswersNtlmAndLearnsIt) {
  Rig rig;
  auto a = rig.make(AuthMode::automatic, creds(), /*with_mechanism=*/false);
  AuthAttempt at;
  EXPECT_EQ(a.first_try(kReq, at), "");
  auto r = a.answer({"NTLM", kBasic}, kReq, at);  // NTLM before Basic
  ASSERT_TRUE(r.has_value()) << r.error().details;
  expect_type1(*r);
  EXPECT_EQ(at.answers, 1);
  EXPECT_TRUE(ProxyAuthenticator::body_withheld(at));
  r = a.answer({ntlm_value(type2())}, kReq, at);
  ASSERT_TRUE(r.has_value()) << r.error().details;
  EXPECT_EQ(at.ntlm_leg, 3);
  EXPECT_TRUE(at.same_connection);
  EXPECT_TRUE(authenticated(a.accepted({}, at)));

  // Learnt: a new connection starts with type 1; an authenticated one rides.
  AuthAttempt next;
  expect_type1(a.first_try(kReq, next));
  AuthAttempt ride;
  EXPECT_EQ(a.first_try(kReq, ride, /*connection_authenticated=*/true), "");
  EXPECT_TRUE(ride.rode_on_connection);
  EXPECT_FALSE(ProxyAuthenticator::body_withheld(ride));
  EXPECT_TRUE(authenticated(a.accepted({}, ride)));
}

TEST(NtlmAuth, RejectionAfterType3IsDenied) {
  Rig rig;
  auto a = rig.make(AuthMode::ntlm, creds(), false);
  AuthAttempt at;
  expect_type1(a.first_try(kReq, at));
  ASSERT_TRUE(a.answer({ntlm_value(type2())}, kReq, at).has_value());
  auto d = expect_denied(a.answer({"NTLM"}, kReq, at));
  EXPECT_TRUE(contains(d, "rejected ferry's NTLM credentials")) << d;
  // A second type 2 after type 3 is not answered either (never a loop).
  d = expect_denied(a.answer({ntlm_value(type2())}, kReq, at));
  EXPECT_TRUE(contains(d, "rejected ferry's NTLM credentials")) << d;
}

TEST(NtlmAuth, Type1WithoutChallengeIsDenied) {
  Rig rig;
  auto a = rig.make(AuthMode::ntlm, creds(), false);
  AuthAttempt at;
  expect_type1(a.first_try(kReq, at));
  auto d = expect_denied(a.answer({"NTLM"}, kReq, at));
  EXPECT_TRUE(contains(d, "did not answer ferry's NTLM negotiation")) << d;
}

TEST(NtlmAuth, BadType2IsDenied) {
  std::string wrong_type = type2();
  wrong_type[8] = 1;
  std::string bad_sig = type2();
  bad_sig[0] = 'X';
  struct Case {
    std::string value;
    const char* says;
  };
  const Case cases[] = {
      {ntlm_value(type2().substr(0, 40)), "malformed NTLM challenge"},
      {ntlm_value(wrong_type), "malformed NTLM challenge"},
      {ntlm_value(bad_sig), "malformed NTLM challenge"},
      {ntlm_value(ntlm::negotiate_message()), "malformed NTLM challenge"},
      {ntlm_value(type2("", 0xe28a8235u & ~ntlm::kNegotiateTargetInfo)), "malformed NTLM challenge"},
      {ntlm_value(type2(kTargetInfo, 0xe28a8235u & ~ntlm::kNegotiateNtlm)), "malformed NTLM challenge"},
      {"NTLM a-b_", "not base64"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    Rig rig;
    auto a = rig.make(AuthMode::ntlm, creds(), false);
    AuthAttempt at;
    expect_type1(a.first_try(kReq, at));
    auto d = expect_denied(a.answer({c.value}, kReq, at));
    EXPECT_TRUE(contains(d, c.says)) << d;
    EXPECT_EQ(at.ntlm_leg, 1);
  }
}

// ---- Lockout protection: back-off after consecutive rejections ----

struct BackoffCase {
  const char* name;
  AuthMode mode;
  std::vector<std::string> challenge;  // what the proxy's 407 offers
  bool mechanism = false;
};

const BackoffCase kBackoffCases[] = {
    {"Basic", AuthMode::basic, {kBasic}},
    {"Basic, auto", AuthMode::automatic, {kBasic}},
    {"Digest", AuthMode::automatic, {kDigest}},
    {"NTLM", AuthMode::ntlm, {"NTLM"}},
};

// The proxy's next 407 for an attempt: NTLM's type 2 after a type 1.
std::vector<std::string> next_challenge(const BackoffCase& c, const AuthAttempt& at) {
  if (at.sent == Scheme::ntlm && at.ntlm_leg == 1) return {ntlm_value(type2())};
  return c.challenge;
}

// Whether a new request sends credentials (first_try, or the answer to the
// first 407 when nothing is learnt yet), and the attempt it used.
bool sends_credentials(ProxyAuthenticator& a, const BackoffCase& c, AuthAttempt& at) {
  if (!a.first_try(kReq, at).empty()) return true;
  auto r = a.answer(c.challenge, kReq, at);
  if (r) return true;
  auto d = expect_denied(r);
  EXPECT_TRUE(contains(d, "stopped sending")) << d;
  return false;
}

// One request whose credentials the proxy refuses. Returns false when
// ferry did not send any.
bool rejected_request(ProxyAuthenticator& a, const BackoffCase& c) {
  AuthAttempt at;
  if (!sends_credentials(a, c, at)) return false;
  for (int i = 0; i < 5; ++i) {
    auto r = a.answer(next_challenge(c, at), kReq, at);
    if (!r) {
      auto d = expect_denied(r);
      EXPECT_TRUE(contains(d, "rejected")) << d;
      return true;
    }
  }
  ADD_FAILURE() << "never denied";
  return true;
}

TEST(AuthBackoff, ThreeRejectionsPauseCredentialsFor30sThenFerryTriesAgain) {
  for (const auto& c : kBackoffCases) {
    SCOPED_TRACE(c.name);
    Rig rig;
    auto a = rig.make(c.mode, creds(), c.mechanism);
    for (int i = 0; i < ProxyAuthenticator::kMaxRejections; ++i) ASSERT_TRUE(rejected_request(a, c)) << i;

    // The 4th request: nothing sent, and the 407 is explained.
    AuthAttempt at;
    EXPECT_EQ(a.first_try(kReq, at), "");
    EXPECT_EQ(at.sent, Scheme::none);
    auto d = expect_denied(a.answer(c.challenge, kReq, at));
    EXPECT_TRUE(contains(d, "stopped sending it for 30 s")) << d;
    EXPECT_TRUE(contains(d, "3 times")) << d;
    EXPECT_TRUE(contains(d, "tries again by itself in 30 s")) << d;
    EXPECT_FALSE(contains(d, "restart")) << d;

    // Still paused just before the 30 s are up ...
    *rig.now += AuthBackoff::kFirstPause - std::chrono::seconds(1);
    AuthAttempt still;
    EXPECT_FALSE(sends_credentials(a, c, still));
    // ... and sending again after, without a restart.
    *rig.now += std::chrono::seconds(2);
    AuthAttempt again;
    EXPECT_TRUE(sends_credentials(a, c, again));
  }
}

// The back-off doubles for each wave refused right after a pause, up to
// 5 minutes; it never becomes permanent.
TEST(AuthBackoff, PauseDoublesUpToFiveMinutes) {
  auto now = std::make_shared<Clock::time_point>(Clock::time_point{} + std::chrono::hours(1));
  AuthBackoff b([now] { return *now; });
  for (int i = 0; i < AuthBackoff::kMaxFailures - 1; ++i) {
    EXPECT_TRUE(b.rejected(b.wave()));
    EXPECT_FALSE(b.paused()) << i;
  }
  const std::vector<int> pauses = {30, 60, 120, 240, 300, 300};
  for (int expected : pauses) {
    EXPECT_TRUE(b.rejected(b.wave()));
    ASSERT_TRUE(b.paused());
    EXPECT_EQ(b.paused()->count(), expected);
    EXPECT_EQ(b.pause_length().count(), expected);
    *now += std::chrono::seconds(expected);
    EXPECT_FALSE(b.paused()) << "expires by itself after " << expected << " s";
  }
  b.accepted();
  EXPECT_TRUE(b.rejected(b.wave()));
  EXPECT_FALSE(b.paused()) << "an accepted password starts the count over";
}

// Requests in flight together sent the password before any verdict was
// known: their rejections are one wave and count once.
TEST(AuthBackoff, ConcurrentRejectionsOfOneWaveCountOnce) {
  for (const auto& c : kBackoffCases) {
    SCOPED_TRACE(c.name);
    Rig rig;
    auto a = rig.make(c.mode, creds(), c.mechanism);
    for (int wave = 0; wave < 2; ++wave) {
      // Three requests send credentials before the first verdict.
      std::array<AuthAttempt, 3> ats;
      for (auto& at : ats) {
        ASSERT_TRUE(sends_credentials(a, c, at));
        if (at.sent == Scheme::ntlm && at.ntlm_leg == 1) {
          ASSERT_TRUE(a.answer(next_challenge(c, at), kReq, at));
        }
      }
      for (auto& at : ats) expect_denied(a.answer(next_challenge(c, at), kReq, at));
    }
    // Six rejections in two waves: two counted, so no pause yet.
    AuthAttempt next;
    EXPECT_TRUE(sends_credentials(a, c, next)) << "two waves of three must not pause";
    // A third wave (here of one) does.
    if (next.sent == Scheme::ntlm && next.ntlm_leg == 1) {
      ASSERT_TRUE(a.answer(next_challenge(c, next), kReq, next));
    }
    expect_denied(a.answer(next_challenge(c, next), kReq, next));
    AuthAttempt paused;
    EXPECT_FALSE(sends_credentials(a, c, paused));
  }
}

// A proxy refusing a Kerberos ticket (its helper restarting, a keytab
// rollover) does not touch the domain's bad-password counter: no pause.
TEST(AuthBackoff, NegotiateRefusalsByTheProxyAreNotCounted) {
  for (bool kerberos_password : {false, true}) {
    SCOPED_TRACE(kerberos_password ? "ticket from the password" : "ticket from a ccache");
    Rig rig;
    rig.policy.kerberos_password = kerberos_password;
    auto a = rig.make(AuthMode::negotiate, creds());
    for (int i = 0; i < 3 * ProxyAuthenticator::kMaxRejections; ++i) {
      AuthAttempt at;
      ASSERT_FALSE(a.first_try(kReq, at).empty()) << i;
      ASSERT_TRUE(a.answer({"Negotiate"}, kReq, at).has_value());  // the one fresh context
      auto d = expect_denied(a.answer({"Negotiate"}, kReq, at));
      EXPECT_TRUE(contains(d, "rejected ferry's Negotiate token")) << d;
    }
    AuthAttempt at;
    EXPECT_FALSE(a.first_try(kReq, at).empty()) << "tokens are still sent";
  }
}

// The KDC refusing the password (pre-authentication failed) is a password
// attempt: it counts, and the pause stops asking the KDC too.
TEST(AuthBackoff, KerberosPasswordRefusedByTheKdcCounts) {
  Rig rig;
  rig.policy.kerberos_password = true;
  rig.gss->fail_with(GssCause::bad_password);
  auto a = rig.make(AuthMode::negotiate, creds());
  for (int i = 0; i < ProxyAuthenticator::kMaxRejections; ++i) {
    AuthAttempt at;
    EXPECT_EQ(a.first_try(kReq, at), "");
    ASSERT_TRUE(at.token_failure.has_value());
    expect_denied(a.answer({"Negotiate"}, kReq, at));
  }
  EXPECT_EQ(rig.starts(), ProxyAuthenticator::kMaxRejections);
  AuthAttempt at;
  EXPECT_EQ(a.first_try(kReq, at), "");
  EXPECT_EQ(rig.starts(), ProxyAuthenticator::kMaxRejections) << "no KDC request while paused";
  auto d = expect_denied(a.answer({"Negotiate"}, kReq, at));
  EXPECT_TRUE(contains(d, "stopped sending")) << d;
  EXPECT_EQ(rig.starts(), ProxyAuthenticator::kMaxRejections);
  // After the pause the KDC is asked again, and a good password resets.
  *rig.now += AuthBackoff::kFirstPause;
  rig.gss->succeed();
  AuthAttempt ok;
  EXPECT_FALSE(a.first_try(kReq, ok).empty());
  ASSERT_TRUE(a.accepted({}, ok).has_value());
  AuthAttempt bad;
  rig.gss->fail_with(GssCause::bad_password);
  EXPECT_EQ(a.first_try(kReq, bad), "");
  AuthAttempt next;
  a.first_try(kReq, next);
  EXPECT_EQ(rig.starts(), ProxyAuthenticator::kMaxRejections + 3) << "one failure after a success: no pause";
}

TEST(AuthBackoff, AcceptedResetsTheCount) {
  for (const auto& c : kBackoffCases) {
    SCOPED_TRACE(c.name);
    Rig rig;
    auto a = rig.make(c.mode, creds(), c.mechanism);
    ASSERT_TRUE(rejected_request(a, c));
    ASSERT_TRUE(rejected_request(a, c));
    {
      AuthAttempt ok;
      ASSERT_TRUE(sends_credentials(a, c, ok));
      if (ok.sent == Scheme::ntlm && ok.ntlm_leg == 1) {
        ASSERT_TRUE(a.answer(next_challenge(c, ok), kReq, ok));
      }
      auto acc = a.accepted({}, ok);
      ASSERT_TRUE(acc.has_value()) << acc.error().details;
    }
    ASSERT_TRUE(rejected_request(a, c));
    ASSERT_TRUE(rejected_request(a, c));
    AuthAttempt next;
    EXPECT_TRUE(sends_credentials(a, c, next)) << "2 rejections, 1 success, 2 rejections: no back-off";
    // A third consecutive one does back off.
    if (next.sent != Scheme::none) {
      for (int i = 0; i < 5; ++i) {
        auto r = a.answer(next_challenge(c, next), kReq, next);
        if (!r) {
          expect_denied(r);
          break;
        }
      }
      AuthAttempt last;
      EXPECT_FALSE(sends_credentials(a, c, last));
    }
  }
}

}  // namespace
}  // namespace ferry::auth
