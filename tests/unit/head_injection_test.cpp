// apply_request_injection / scrub_response_head on heads as ferry builds them.
#include "intercept/head_injection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ferry {
namespace {

using testing::HasSubstr;
using testing::Not;

const SecretValue::EnvLookup kNoEnv = [](const std::string&) { return std::optional<std::string>(); };
SecretValue literal(std::string_view text) { return SecretValue::parse(text, kNoEnv).value(); }

struct RuleSpec {
  std::optional<std::pair<std::string, std::string>> header_;
  std::vector<std::pair<std::string, std::string>> add_;
  std::vector<std::string> remove_;
  std::optional<std::pair<std::string, std::string>> substitute_;
  bool scrub_ = false;

  RuleSpec& header(std::string n, std::string v) { return header_.emplace(n, v), *this; }
  RuleSpec& add(std::string n, std::string v) { return add_.emplace_back(n, v), *this; }
  RuleSpec& remove(std::string n) { return remove_.push_back(n), *this; }
  RuleSpec& substitute(std::string p, std::string v) { return substitute_.emplace(p, v), *this; }
  RuleSpec& scrub() { return scrub_ = true, *this; }
};

std::vector<ResolvedRule> resolved(const std::vector<RuleSpec>& specs) {
  std::vector<ResolvedRule> out;
  size_t n = 0;
  for (const auto& s : specs) {
    InjectRule r;
    r.number = ++n;
    r.host = *HostPattern::parse("api.example.com");
    if (s.header_) r.header = HeaderValue{s.header_->first, literal(s.header_->second)};
    for (const auto& [k, v] : s.add_) r.add_headers.push_back(HeaderValue{k, literal(v)});
    r.remove_headers = s.remove_;
    if (s.substitute_) r.substitute = Substitution{s.substitute_->first, literal(s.substitute_->second)};
    r.scrub_responses = s.scrub_;
    auto res = resolve_rule(std::make_shared<const InjectRule>(std::move(r)));
    EXPECT_TRUE(res);
    out.push_back(std::move(*res));
  }
  return out;
}

const std::string kHead =
    "GET /repos?token=sk-ph HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "authorization: Bearer client-fake\r\n"
    "Accept: */*\r\n"
    "X-Trace: sk-ph and sk-ph\r\n"
    "Cookie: a=1\r\n"
    "AUTHORIZATION: second\r\n"
    "Via: 1.1 ferry\r\n"
    "Content-Length: 5\r\n"
    "\r\n";

TEST(HeadInjection, SetReplacesEveryClientFieldOfThatName) {
  std::string head = kHead;
  auto r = apply_request_injection(head, resolved({RuleSpec().header("Authorization", "Bearer real")}));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(head,
            "GET /repos?token=sk-ph HTTP/1.1\r\n"
            "Host: api.example.com\r\n"
            "Accept: */*\r\n"
            "X-Trace: sk-ph and sk-ph\r\n"
            "Cookie: a=1\r\n"
            "Via: 1.1 ferry\r\n"
            "Content-Length: 5\r\n"
            "Authorization: Bearer real\r\n"
            "\r\n");
  EXPECT_EQ(r->injected, std::vector<std::string>{"Authorization"});
  EXPECT_FALSE(r->substituted);
}

TEST(HeadInjection, AllPhasesInOrder) {
  std::string head = kHead;
  auto r = apply_request_injection(head, resolved({RuleSpec()
                                                       .header("x-api-key", "k1")
                                                       .add("X-Api-Version", "2024-01")
                                                       .add("accept", "application/json")
                                                       .remove("cookie")
                                                       .remove("Authorization")
                                                       .substitute("sk-ph", "sk-REAL")}));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(head,
            "GET /repos?token=sk-REAL HTTP/1.1\r\n"
            "Host: api.example.com\r\n"
            "X-Trace: sk-REAL and sk-REAL\r\n"
            "Via: 1.1 ferry\r\n"
            "Content-Length: 5\r\n"
            "x-api-key: k1\r\n"
            "X-Api-Version: 2024-01\r\n"
            "accept: application/json\r\n"
            "\r\n");
  EXPECT_EQ(r->injected, (std::vector<std::string>{"x-api-key", "X-Api-Version", "accept"}));
  EXPECT_TRUE(r->substituted);
}

TEST(HeadInjection, TwoRulesSettingOneHeaderTheLaterWins) {
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  auto r = apply_request_injection(head, resolved({RuleSpec().header("Authorization", "first"),
                                                   RuleSpec().header("authorization", "second")}));
  ASSERT_TRUE(r);
  EXPECT_EQ(head, "GET / HTTP/1.1\r\nHost: h\r\nauthorization: second\r\n\r\n");
}

TEST(HeadInjection, SubstitutionSkipsHostAndFramingAndNeverRewritesInjectedValues) {
  std::string head = "POST /x HTTP/1.1\r\nHost: ph.example\r\nX-A: ph\r\nTransfer-Encoding: ph\r\n\r\n";
  // Rule 2 injects a value containing rule 1's placeholder: it stays as injected.
  auto r =
      apply_request_injection(head, resolved({RuleSpec().substitute("ph", "REAL"), RuleSpec().header("X-B", "ph")}));
  ASSERT_TRUE(r);
  EXPECT_EQ(head, "POST /x HTTP/1.1\r\nHost: ph.example\r\nX-A: REAL\r\nTransfer-Encoding: ph\r\nX-B: ph\r\n\r\n");
}

TEST(HeadInjection, ValueThatCannotGoInATargetIsAnErrorAndTheHeadIsUnchanged) {
  std::string head = "GET /?k=PH HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string before = head;
  auto r = apply_request_injection(head, resolved({RuleSpec().substitute("PH", "has space sk-SECRET")}));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr("request-target"));
  EXPECT_THAT(r.error(), Not(HasSubstr("sk-SECRET")));
  EXPECT_EQ(head, before);
  // The same value in a header field is fine.
  std::string h2 = "GET / HTTP/1.1\r\nHost: h\r\nX: PH\r\n\r\n";
  ASSERT_TRUE(apply_request_injection(h2, resolved({RuleSpec().substitute("PH", "has space")})));
  EXPECT_EQ(h2, "GET / HTTP/1.1\r\nHost: h\r\nX: has space\r\n\r\n");
}

TEST(HeadInjection, ControlBytesInAValueAreAnError) {
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  auto r = apply_request_injection(head, resolved({RuleSpec().header("Authorization", "a\x01sk-SECRET")}));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr("rule 1"));
  EXPECT_THAT(r.error(), Not(HasSubstr("sk-SECRET")));
}

TEST(HeadInjection, NoRulesLeavesTheHeadAsIs) {
  std::string head = kHead;
  ASSERT_TRUE(apply_request_injection(head, {}));
  EXPECT_EQ(head, kHead);
}

TEST(ScrubResponseHead, RealValueBecomesThePlaceholder) {
  auto rules = resolved({RuleSpec().substitute("sk-ph", "sk-REAL").scrub(), RuleSpec().substitute("b", "noscrub")});
  auto pairs = scrub_pairs(rules);
  ASSERT_EQ(pairs.size(), 1u);
  std::string head =
      "HTTP/1.1 200 OK sk-REAL\r\n"
      "Location: https://x/?t=sk-REAL\r\n"
      "X-Echo: Bearer sk-REAL, noscrub\r\n"
      "Content-Length: 7\r\n"
      "\r\n";
  EXPECT_TRUE(scrub_response_head(head, pairs));
  EXPECT_EQ(head,
            "HTTP/1.1 200 OK sk-ph\r\n"
            "Location: https://x/?t=sk-ph\r\n"
            "X-Echo: Bearer sk-ph, noscrub\r\n"
            "Content-Length: 7\r\n"
            "\r\n");
  std::string clean = "HTTP/1.1 204 No Content\r\nX: y\r\n\r\n";
  EXPECT_FALSE(scrub_response_head(clean, pairs));
  EXPECT_EQ(clean, "HTTP/1.1 204 No Content\r\nX: y\r\n\r\n");
}

TEST(SubstitutionPairs, PlaceholderToValueInRuleOrder) {
  auto pairs = substitution_pairs(resolved({RuleSpec().substitute("p1", "v1"), RuleSpec().header("A", "b"),
                                            RuleSpec().substitute("p2", "v2")}));
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].from, "p1");
  EXPECT_EQ(pairs[0].to, "v1");
  EXPECT_EQ(pairs[1].from, "p2");
}

}  // namespace
}  // namespace ferry
