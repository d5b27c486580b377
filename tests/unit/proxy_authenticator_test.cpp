// ProxyAuthenticator: scheme choice, preemptive Basic, Digest nonce counts,
// the one-retry rule (plus one for a stale nonce), and the error a client
// gets when ferry cannot or must not answer a 407.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <optional>
#include <string>
#include <vector>

#include "auth/basic_auth.h"
#include "auth/proxy_authenticator.h"
#include "fake_gss.h"

namespace ferry::auth {
namespace {

constexpr const char* kProxy = "http://proxy.example:3128";
constexpr DigestRequest kReq{"GET", "http://x/"};

Credentials creds(std::string user = "bob", std::string pw = "pw") {
  Credentials c;
  c.user = std::move(user);
  c.password = Secret(std::move(pw));
  return c;
}

ProxyAuthenticator make(AuthMode mode, Credentials c = creds()) {
  return ProxyAuthenticator(mode, std::move(c), kProxy);
}

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// The value of `name=` in a produced Proxy-Authorization value (quoted or not).
std::optional<std::string> param(const std::string& v, const std::string& name) {
  for (size_t pos = 0; (pos = v.find(name + "=", pos)) != std::string::npos; ++pos) {
    if (pos > 0 && v[pos - 1] != ' ' && v[pos - 1] != ',') continue;  // "nc" inside "cnonce"
    size_t start = pos + name.size() + 1;
    if (start < v.size() && v[start] == '"') {
      size_t end = v.find('"', start + 1);
      if (end == std::string::npos) return std::nullopt;
      return v.substr(start + 1, end - start - 1);
    }
    size_t end = v.find(',', start);
    return v.substr(start, end == std::string::npos ? std::string::npos : end - start);
  }
  return std::nullopt;
}

std::string hex(const EVP_MD* md, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), out, &len, md, nullptr), 1);
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < len; ++i) {
    s.push_back(digits[out[i] >> 4]);
    s.push_back(digits[out[i] & 15]);
  }
  return s;
}

// Checks the error shape every refusal shares and returns its details.
std::string expect_denied(const Expected<std::string, ProxyError>& r) {
  EXPECT_FALSE(r.has_value()) << (r.has_value() ? r.value() : std::string());
  if (r.has_value()) return {};
  EXPECT_EQ(r.error().type, ProxyErrc::http_request_denied);
  EXPECT_EQ(r.error().http_status(), 407);
  EXPECT_TRUE(contains(r.error().details, kProxy)) << r.error().details;
  for (const char* secret : {"bob", "Ym9iOnB3", "bob:pw"})
    EXPECT_FALSE(contains(r.error().details, secret)) << r.error().details;
  return r.error().details;
}

const std::string kDigestMd5 = R"(Digest realm="r", nonce="n1", qop="auth", algorithm=MD5)";
const std::string kBasic = R"(Basic realm="b")";

TEST(ProxyAuthenticator, NoCredentialsIsDeniedAndNamesOfferedSchemes) {
  struct Case {
    std::vector<std::string> challenges;
    std::vector<std::string> named;
  };
  const Case cases[] = {
      {{kBasic}, {"Basic"}},
      {{kDigestMd5}, {"Digest"}},
      {{kDigestMd5, kBasic}, {"Digest", "Basic"}},
      {{kBasic + ", " + kDigestMd5}, {"Digest", "Basic"}},
  };
  for (const auto& c : cases) {
    auto a = make(AuthMode::automatic, Credentials{});
    EXPECT_FALSE(a.has_credentials());
    AuthAttempt at;
    EXPECT_EQ(a.first_try(kReq, at), "");
    auto d = expect_denied(a.answer(c.challenges, kReq, at));
    EXPECT_TRUE(contains(d, "no credentials are configured")) << d;
    for (const auto& s : c.named) EXPECT_TRUE(contains(d, s)) << d;
  }
}

TEST(ProxyAuthenticator, AuthNoneIsDenied) {
  auto a = make(AuthMode::none);
  AuthAttempt at;
  EXPECT_EQ(a.first_try(kReq, at), "");
  EXPECT_EQ(at.sent, Scheme::none);
  auto d = expect_denied(a.answer({kBasic}, kReq, at));
  EXPECT_TRUE(contains(d, "--auth none")) << d;
  EXPECT_TRUE(contains(d, "Basic")) << d;
}

TEST(ProxyAuthenticator, AutoPrefersDigestOverBasic) {
  for (const auto& challenges : std::vector<std::vector<std::string>>{
           {kBasic, kDigestMd5}, {kDigestMd5, kBasic}, {kBasic + ", " + kDigestMd5}}) {
    auto a = make(AuthMode::automatic);
    AuthAttempt at;
    auto r = a.answer(challenges, kReq, at);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    const std::string& v = *r;
    EXPECT_TRUE(v.starts_with(R"(Digest username="bob")")) << v;
    EXPECT_TRUE(contains(v, R"(uri="http://x/")")) << v;
    EXPECT_TRUE(contains(v, R"(realm="r")")) << v;
    EXPECT_TRUE(contains(v, R"(nonce="n1")")) << v;
    EXPECT_TRUE(contains(v, "nc=00000001")) << v;
    EXPECT_TRUE(contains(v, "qop=auth")) << v;
    auto cn = param(v, "cnonce");
    ASSERT_TRUE(cn) << v;
    EXPECT_FALSE(cn->empty());
    EXPECT_EQ(at.sent, Scheme::digest);
    EXPECT_EQ(at.answers, 1);
  }
}

TEST(ProxyAuthenticator, DigestResponseMatchesRecomputedMd5) {
  auto a = make(AuthMode::automatic, creds("bob", "pw"));
  AuthAttempt at;
  const DigestRequest req{"CONNECT", "example.com:443"};
  auto r = a.answer({R"(Digest realm="corp", nonce="abc123", qop="auth", opaque="op")"}, req, at);
  ASSERT_TRUE(r.has_value()) << r.error().details;
  const std::string& v = *r;
  auto cnonce = param(v, "cnonce");
  auto nc = param(v, "nc");
  auto response = param(v, "response");
  ASSERT_TRUE(cnonce && nc && response) << v;
  EXPECT_EQ(*nc, "00000001");
  EXPECT_EQ(param(v, "uri"), "example.com:443");
  EXPECT_EQ(param(v, "opaque"), "op");
  EXPECT_EQ(param(v, "algorithm"), "MD5");
  const std::string ha1 = hex(EVP_md5(), "bob:corp:pw");
  const std::string ha2 = hex(EVP_md5(), "CONNECT:example.com:443");
  EXPECT_EQ(*response, hex(EVP_md5(), ha1 + ":abc123:00000001:" + *cnonce + ":auth:" + ha2)) << v;
  EXPECT_FALSE(contains(v, ":pw")) << v;
}

TEST(ProxyAuthenticator, Sha256PreferredOverMd5) {
  const std::string sha = R"(Digest realm="r", nonce="nsha", qop="auth", algorithm=SHA-256)";
  for (const auto& challenges :
       std::vector<std::vector<std::string>>{{kDigestMd5, sha}, {sha, kDigestMd5}, {kDigestMd5 + ", " + sha}}) {
    auto a = make(AuthMode::automatic);
    AuthAttempt at;
    auto r = a.answer(challenges, kReq, at);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_TRUE(contains(*r, "algorithm=SHA-256")) << *r;
    EXPECT_TRUE(contains(*r, R"(nonce="nsha")")) << *r;
    auto resp = param(*r, "response");
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->size(), 64u) << *r;  // hex SHA-256
    // And the SHA-256 response is right too.
    auto cnonce = param(*r, "cnonce");
    ASSERT_TRUE(cnonce);
    const std::string ha1 = hex(EVP_sha256(), "bob:r:pw");
    const std::string ha2 = hex(EVP_sha256(), "GET:http://x/");
    EXPECT_EQ(*resp, hex(EVP_sha256(), ha1 + ":nsha:00000001:" + *cnonce + ":auth:" + ha2));
  }
}

TEST(ProxyAuthenticator, BasicOnlyAnswerIsExactBytes) {
  for (AuthMode mode : {AuthMode::automatic, AuthMode::basic}) {
    auto a = make(mode);
    AuthAttempt at;
    auto r = a.answer({kBasic}, kReq, at);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_EQ(*r, "Basic " + base64_encode("bob:pw"));
    EXPECT_EQ(*r, "Basic Ym9iOnB3");
    EXPECT_EQ(at.sent, Scheme::basic);
  }
}

TEST(ProxyAuthenticator, BasicModeIsPreemptive) {
  auto a = make(AuthMode::basic);
  AuthAttempt at;
  EXPECT_EQ(a.first_try(kReq, at), "Basic Ym9iOnB3");
  EXPECT_EQ(at.sent, Scheme::basic);
  // Without credentials there is nothing to send.
  auto none = make(AuthMode::basic, Credentials{});
  AuthAttempt at2;
  EXPECT_EQ(none.first_try(kReq, at2), "");
  EXPECT_EQ(at2.sent, Scheme::none);
}

TEST(ProxyAuthenticator, AutoLearnsBasicAfterFirst407) {
  auto a = make(AuthMode::automatic);
  AuthAttempt at;
  EXPECT_EQ(a.first_try(kReq, at), "");
  EXPECT_EQ(at.sent, Scheme::none);
  ASSERT_TRUE(a.answer({kBasic}, kReq, at).has_value());
  for (int i = 0; i < 3; ++i) {
    AuthAttempt next;
    EXPECT_EQ(a.first_try(kReq, next), "Basic Ym9iOnB3");
    EXPECT_EQ(next.sent, Scheme::basic);
  }
}

TEST(ProxyAuthenticator, AutoLearnsDigestAndCountsNonceUses) {
  auto a = make(AuthMode::automatic);
  AuthAttempt at;
  EXPECT_EQ(a.first_try(kReq, at), "");
  auto r = a.answer({kDigestMd5}, kReq, at);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(param(*r, "nc"), "00000001");
  std::string last_cnonce = param(*r, "cnonce").value_or("");
  for (const char* want : {"00000002", "00000003", "00000004"}) {
    AuthAttempt next;
    const DigestRequest req{"GET", "http://x/other"};
    auto v = a.first_try(req, next);
    EXPECT_EQ(next.sent, Scheme::digest);
    EXPECT_TRUE(v.starts_with(R"(Digest username="bob")")) << v;
    EXPECT_EQ(param(v, "nc"), want) << v;
    EXPECT_EQ(param(v, "nonce"), "n1") << v;
    EXPECT_EQ(param(v, "uri"), "http://x/other") << v;
    auto cn = param(v, "cnonce");
    ASSERT_TRUE(cn);
    EXPECT_NE(*cn, last_cnonce) << "cnonce reused";
    last_cnonce = *cn;
  }
}

TEST(ProxyAuthenticator, Second407AfterCredentialsIsRejected) {
  struct Case {
    AuthMode mode;
    std::vector<std::string> challenges;
    const char* scheme;
  };
  const Case cases[] = {
      {AuthMode::automatic, {kBasic}, "Basic"},
      {AuthMode::basic, {kBasic}, "Basic"},
      {AuthMode::automatic, {kDigestMd5}, "Digest"},
      {AuthMode::digest, {kDigestMd5}, "Digest"},
      // A fresh nonce without stale=true: the password is wrong.
      {AuthMode::automatic, {R"(Digest realm="r", nonce="n2", qop="auth")"}, "Digest"},
  };
  for (const auto& c : cases) {
    const std::string user = "alice-unique-user", pw = "hunter2-unique-pw";
    auto a = make(c.mode, creds(user, pw));
    AuthAttempt at;
    a.first_try(kReq, at);
    if (at.sent == Scheme::none) {
      ASSERT_TRUE(a.answer({c.challenges[0].starts_with("Basic") ? kBasic : kDigestMd5}, kReq, at).has_value());
    }
    auto d = expect_denied(a.answer(c.challenges, kReq, at));
    EXPECT_TRUE(contains(d, "rejected")) << d;
    EXPECT_TRUE(contains(d, "credentials")) << d;
    EXPECT_TRUE(contains(d, c.scheme)) << d;
    EXPECT_FALSE(contains(d, user)) << d;
    EXPECT_FALSE(contains(d, pw)) << d;
    // Asked yet again: still no answer (never a loop).
    auto d2 = expect_denied(a.answer(c.challenges, kReq, at));
    EXPECT_FALSE(contains(d2, user));
    EXPECT_FALSE(contains(d2, pw));
  }
}

TEST(ProxyAuthenticator, RejectedDigestIsForgottenInAutoMode) {
  auto a = make(AuthMode::automatic);
  AuthAttempt at;
  ASSERT_TRUE(a.answer({kDigestMd5}, kReq, at).has_value());
  expect_denied(a.answer({kDigestMd5}, kReq, at));
  AuthAttempt next;
  EXPECT_EQ(a.first_try(kReq, next), "");
  EXPECT_EQ(next.sent, Scheme::none);
}

TEST(ProxyAuthenticator, StaleNonceGetsOneMoreAnswer) {
  auto a = make(AuthMode::automatic);
  AuthAttempt at;
  ASSERT_TRUE(a.answer({kDigestMd5}, kReq, at).has_value());
  // A second request reuses the nonce (nc=2) ...
  AuthAttempt at2;
  auto v = a.first_try(kReq, at2);
  EXPECT_EQ(param(v, "nc"), "00000002");
  // ... the proxy says the nonce is stale: answer again with the new nonce.
  auto r = a.answer({R"(Digest realm="r", nonce="fresh", qop="auth", stale=true)"}, kReq, at2);
  ASSERT_TRUE(r.has_value()) << r.error().details;
  EXPECT_EQ(param(*r, "nonce"), "fresh") << *r;
  EXPECT_EQ(param(*r, "nc"), "00000001") << *r;
  EXPECT_TRUE(at2.stale_retry_used);
  // More stale answers for the same request (S2: concurrent requests reach
  // a strict proxy with their nc out of order): a few more tries, bounded.
  for (int i = 1; i < ProxyAuthenticator::kMaxStaleRetries; ++i) {
    auto again = a.answer({R"(Digest realm="r", nonce="fresher", qop="auth", stale=true)"}, kReq, at2);
    ASSERT_TRUE(again.has_value()) << again.error().details;
    EXPECT_EQ(param(*again, "nonce"), "fresher");
  }
  auto d = expect_denied(a.answer({R"(Digest realm="r", nonce="freshest", qop="auth", stale=true)"}, kReq, at2));
  EXPECT_TRUE(contains(d, "stale")) << d;
  EXPECT_TRUE(contains(d, "Digest")) << d;
  // stale=true means the password matched: nothing counts towards the back-off.
  for (int i = 0; i < 5; ++i) {
    AuthAttempt stale_only;
    ASSERT_FALSE(a.first_try(kReq, stale_only).empty());
    for (int k = 0; k < ProxyAuthenticator::kMaxStaleRetries; ++k)
      ASSERT_TRUE(a.answer({R"(Digest realm="r", nonce="s", qop="auth", stale=true)"}, kReq, stale_only));
    expect_denied(a.answer({R"(Digest realm="r", nonce="s", qop="auth", stale=true)"}, kReq, stale_only));
  }
  AuthAttempt still;
  EXPECT_FALSE(a.first_try(kReq, still).empty()) << "no back-off from stale answers";
}

TEST(ProxyAuthenticator, StaleRightAfterFirstAnswerGetsOneMore) {
  auto a = make(AuthMode::automatic);
  AuthAttempt at;
  ASSERT_TRUE(a.answer({kDigestMd5}, kReq, at).has_value());
  auto r = a.answer({R"(Digest realm="r", nonce="n9", qop="auth", stale=TRUE)"}, kReq, at);
  ASSERT_TRUE(r.has_value()) << r.error().details;
  EXPECT_EQ(param(*r, "nonce"), "n9");
  EXPECT_EQ(param(*r, "nc"), "00000001");
  // Then a fresh nonce without stale=true: the password is wrong.
  expect_denied(a.answer({R"(Digest realm="r", nonce="n10", qop="auth")"}, kReq, at));
}

TEST(ProxyAuthenticator, PreemptiveBasicToDigestOnlyProxyIsNotLooped) {
  auto a = make(AuthMode::basic);
  AuthAttempt at;
  ASSERT_EQ(a.first_try(kReq, at), "Basic Ym9iOnB3");
  auto d = expect_denied(a.answer({kDigestMd5}, kReq, at));
  EXPECT_FALSE(contains(d, "bob")) << d;
  // Still preemptive for the next request: --auth basic is what was asked for.
  AuthAttempt next;
  EXPECT_EQ(a.first_try(kReq, next), "Basic Ym9iOnB3");
}

TEST(ProxyAuthenticator, StaleAfterBasicIsRejected) {
  auto a = make(AuthMode::basic);
  AuthAttempt at;
  ASSERT_EQ(a.first_try(kReq, at), "Basic Ym9iOnB3");
  auto d = expect_denied(a.answer({R"(Digest realm="r", nonce="n", qop="auth", stale=true)", kBasic}, kReq, at));
  EXPECT_TRUE(contains(d, "rejected")) << d;
}

TEST(ProxyAuthenticator, MalformedOrMissingChallengesAreDenied) {
  struct Case {
    std::vector<std::string> challenges;
    const char* says;
  };
  const Case cases[] = {
      {{}, "without any Proxy-Authenticate"},
      {{""}, "without any Proxy-Authenticate"},
      {{R"(Basic realm="unterminated)"}, "cannot parse"},
      {{"=x"}, "cannot parse"},
      {{kBasic, "Negotiate abc def"}, "cannot parse"},
  };
  for (AuthMode mode : {AuthMode::automatic, AuthMode::basic, AuthMode::digest}) {
    for (const auto& c : cases) {
      auto a = make(mode);
      AuthAttempt at;
      auto d = expect_denied(a.answer(c.challenges, kReq, at));
      EXPECT_TRUE(contains(d, c.says)) << d;
      EXPECT_FALSE(contains(d, "bob")) << d;
    }
  }
}

TEST(ProxyAuthenticator, ConnectionBoundSchemesWithoutMeansAreDenied) {
  // No Negotiate mechanism and no credentials: nothing to answer with, and
  // the details name what the proxy offered.
  const std::vector<std::vector<std::string>> cases = {
      {"Negotiate"}, {"NTLM"}, {"Negotiate", "NTLM"}, {"Negotiate, NTLM"}};
  for (const auto& c : cases) {
    auto a = make(AuthMode::automatic, Credentials{});
    AuthAttempt at;
    EXPECT_EQ(a.first_try(kReq, at), "");
    auto d = expect_denied(a.answer(c, kReq, at));
    EXPECT_TRUE(contains(d, "cannot answer")) << d;
    for (const char* name : {"Negotiate", "NTLM"}) {
      bool offered = false;
      for (const auto& s : c) offered |= contains(s, name);
      EXPECT_EQ(contains(d, name), offered) << d;
    }
    EXPECT_EQ(at.sent, Scheme::none);
    EXPECT_EQ(at.answers, 0);
    EXPECT_EQ(at.context, nullptr);
  }
}

TEST(ProxyAuthenticator, NtlmIsAnsweredWithType1WhenCredentialsExist) {
  // NTLM outranks Digest and Basic; Negotiate without a mechanism is skipped.
  const std::vector<std::vector<std::string>> cases = {
      {"NTLM"}, {"Negotiate", "NTLM"}, {"Negotiate, NTLM"}, {kBasic, "NTLM"}, {kDigestMd5, "NTLM"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.front());
    auto a = make(AuthMode::automatic);
    AuthAttempt at;
    auto r = a.answer(c, kReq, at);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    ASSERT_TRUE(r->starts_with("NTLM ")) << *r;
    std::string raw;
    ASSERT_TRUE(base64_decode(r->substr(5), raw)) << *r;
    ASSERT_EQ(raw.size(), 40u);  // NEGOTIATE_MESSAGE with its Version field
    EXPECT_EQ(raw.substr(0, 8), std::string("NTLMSSP\0", 8));
    EXPECT_EQ(raw.substr(8, 4), std::string("\x01\0\0\0", 4));  // MessageType 1
    EXPECT_EQ(at.sent, Scheme::ntlm);
    EXPECT_EQ(at.ntlm_leg, 1);
    EXPECT_EQ(at.answers, 1);
    EXPECT_TRUE(ProxyAuthenticator::body_withheld(at));
  }
}

TEST(ProxyAuthenticator, UnanswerableDigestFallsBackToBasic) {
  // Digest with only qop=auth-int cannot be answered; Basic can.
  auto a = make(AuthMode::automatic);
  AuthAttempt at;
  auto r = a.answer({R"(Digest realm="r", nonce="n", qop="auth-int")", kBasic}, kReq, at);
  ASSERT_TRUE(r.has_value()) << r.error().details;
  EXPECT_EQ(*r, "Basic Ym9iOnB3");
}

TEST(ProxyAuthenticator, ConfiguredModeMustBeOffered) {
  struct Case {
    AuthMode mode;
    std::string challenge;
    const char* says;
  };
  const Case cases[] = {
      {AuthMode::digest, kBasic, "--auth digest"},
      {AuthMode::basic, kDigestMd5, "--auth basic"},
  };
  for (const auto& c : cases) {
    auto a = make(c.mode);
    AuthAttempt at;  // no first_try: nothing sent yet
    auto d = expect_denied(a.answer({c.challenge}, kReq, at));
    EXPECT_TRUE(contains(d, c.says)) << d;
  }
}

}  // namespace
}  // namespace ferry::auth

namespace ferry::auth {
namespace {

// MD5-sess makes HA1 once per nonce from the first cnonce (RFC 7616 §3.4.2):
// every later use of that nonce must carry the same cnonce; plain MD5 takes a
// fresh one each time.
TEST(ProxyAuthenticator, DigestSessKeepsItsCnonceForTheNonce) {
  for (const bool sess : {true, false}) {
    SCOPED_TRACE(sess ? "MD5-sess" : "MD5");
    auto a = make(AuthMode::automatic);
    AuthAttempt at;
    const std::string challenge =
        std::string(R"(Digest realm="r", nonce="n1", qop="auth", algorithm=)") + (sess ? "MD5-sess" : "MD5");
    auto first = a.answer({challenge}, kReq, at);
    ASSERT_TRUE(first.has_value());
    AuthAttempt next;
    const std::string second = a.first_try(kReq, next);
    auto c1 = param(*first, "cnonce"), c2 = param(second, "cnonce");
    ASSERT_TRUE(c1 && c2) << *first << " / " << second;
    EXPECT_EQ(*c1 == *c2, sess) << *c1 << " vs " << *c2;
    EXPECT_EQ(param(second, "nc"), std::optional<std::string>("00000002"));
  }
}

}  // namespace
}  // namespace ferry::auth

namespace ferry::auth {
namespace {

// ---- D12: no automatic downgrade to cleartext Basic ----

struct FallbackRig {
  std::shared_ptr<fake::FakeGssMechanism> gss = std::make_shared<fake::FakeGssMechanism>();
  std::shared_ptr<ProxyAuthenticator::Clock::time_point> now =
      std::make_shared<ProxyAuthenticator::Clock::time_point>(ProxyAuthenticator::Clock::time_point{} +
                                                              std::chrono::hours(1));
  AuthPolicy policy;  // default: an http:// proxy, no fallback to Basic
  ProxyAuthenticator make() {
    auto clock = now;
    return ProxyAuthenticator(
        AuthMode::automatic, creds(), kProxy, NegotiateSetup{gss, "HTTP@proxy.example"}, [clock] { return *clock; },
        policy);
  }
};

TEST(ProxyAuthenticator, AutoNeverFallsBackToBasicOverHttp) {
  FallbackRig rig;
  rig.gss->fail_with(GssCause::kdc_unreachable);
  auto a = rig.make();
  for (int i = 1; i <= 2; ++i) {
    AuthAttempt at;
    EXPECT_EQ(a.first_try(kReq, at), "") << "nothing learnt: no pre-emptive Basic";
    auto d = expect_denied(a.answer({"Negotiate", kBasic}, kReq, at));
    EXPECT_TRUE(contains(d, "cannot reach the Kerberos KDC")) << d;
    EXPECT_TRUE(contains(d, "does not fall back to Basic over http://")) << d;
    EXPECT_TRUE(contains(d, "--auth-allow-basic-fallback")) << d;
    EXPECT_EQ(at.sent, Scheme::none);
    // No rest either: the next request asks the KDC again (it may be back).
    EXPECT_EQ(rig.gss->log->starts, i);
  }
  // Once Kerberos works again, Negotiate is used.
  rig.gss->succeed();
  AuthAttempt ok;
  auto r = a.answer({"Negotiate", kBasic}, kReq, ok);
  ASSERT_TRUE(r.has_value()) << r.error().details;
  EXPECT_TRUE(r->starts_with("Negotiate ")) << *r;
}

TEST(ProxyAuthenticator, BasicIsStillUsedWhenItIsNotAFallback) {
  // A proxy offering Basic only, and an https:// proxy (TLS hides the
  // password): Basic is fine; Digest and NTLM never carry the password.
  struct Case {
    const char* name;
    bool cleartext;
    std::vector<std::string> offered;
    const char* starts;
  };
  const Case cases[] = {
      {"Basic only, http://", true, {kBasic}, "Basic "},
      {"Negotiate and Basic, https://", false, {"Negotiate", kBasic}, "Basic "},
      {"Negotiate and Digest, http://", true, {"Negotiate", kDigestMd5}, "Digest "},
      {"Negotiate and NTLM, http://", true, {"Negotiate", "NTLM"}, "NTLM "},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FallbackRig rig;
    rig.policy.cleartext = c.cleartext;
    rig.gss->fail_with(GssCause::no_credentials);
    auto a = rig.make();
    AuthAttempt at;
    auto r = a.answer(c.offered, kReq, at);
    ASSERT_TRUE(r.has_value()) << r.error().details;
    EXPECT_TRUE(r->starts_with(c.starts)) << *r;
  }
}

// With --auth-allow-basic-fallback Basic answers while Negotiate rests,
// and only then: the learnt scheme does not become Basic for good.
TEST(ProxyAuthenticator, AllowedBasicFallbackIsNotSticky) {
  FallbackRig rig;
  rig.policy.allow_basic_fallback = true;
  rig.gss->fail_with(GssCause::kdc_unreachable);
  auto a = rig.make();
  AuthAttempt at;
  auto r = a.answer({"Negotiate", kBasic}, kReq, at);
  ASSERT_TRUE(r.has_value()) << r.error().details;
  EXPECT_EQ(*r, basic_credentials("bob", "pw"));
  ASSERT_TRUE(a.accepted({}, at).has_value());
  EXPECT_EQ(rig.gss->log->starts, 1);

  // While Negotiate rests, new requests carry Basic at once.
  AuthAttempt during;
  EXPECT_EQ(a.first_try(kReq, during), basic_credentials("bob", "pw"));
  EXPECT_EQ(rig.gss->log->starts, 1);

  // After the rest Negotiate is tried first again, and used when it works.
  *rig.now += ProxyAuthenticator::kNegotiateRest + std::chrono::seconds(1);
  rig.gss->succeed();
  AuthAttempt after;
  auto v = a.first_try(kReq, after);
  EXPECT_TRUE(v.starts_with("Negotiate ")) << v;
  EXPECT_EQ(after.sent, Scheme::negotiate);
  EXPECT_EQ(rig.gss->log->starts, 2);
}

}  // namespace
}  // namespace ferry::auth
