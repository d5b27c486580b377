// Digest (RFC 7616) challenges from an upstream proxy: Proxy-Authenticate
// value -> parse_challenges -> parse_digest_challenge -> digest_credentials.
//
// The input is restricted to what ferry's head parser lets through in a field
// value (HTAB, SP, VCHAR, obs-text). Invariants: an accepted challenge has a
// nonce and an algorithm ferry can compute; the credentials it yields are a
// valid field value, parse back as one "digest" challenge-shaped list whose
// realm, nonce, uri, opaque and algorithm are those of the challenge, and
// carry a response of the digest's length in lower-case hex.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/challenge.h"
#include "auth/digest_auth.h"
#include "fuzz_check.h"

using namespace ferry::auth;

namespace {

bool field_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

bool lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

void check_credentials(const DigestChallenge& d) {
  const DigestRequest req{"CONNECT", "example.com:443"};
  std::string v = digest_credentials(d, "us\"er", "pass\\word", req, 1, "0a4f113b");
  for (char c : v) FUZZ_CHECK(field_value_char(static_cast<unsigned char>(c)));

  std::vector<Challenge> parsed;
  FUZZ_CHECK(parse_challenges(v, parsed));
  FUZZ_CHECK(parsed.size() == 1);
  const Challenge& c = parsed[0];
  FUZZ_CHECK(c.scheme == "digest");
  FUZZ_CHECK(c.param("realm") == d.realm);
  FUZZ_CHECK(c.param("nonce") == d.nonce);
  FUZZ_CHECK(c.param("uri") == std::string(req.uri));
  FUZZ_CHECK(c.param("algorithm") == d.algorithm);
  FUZZ_CHECK(c.param("opaque") == (d.opaque.empty() ? std::nullopt : std::optional<std::string>(d.opaque)));
  FUZZ_CHECK(c.param("qop").has_value() == d.qop_auth);
  FUZZ_CHECK(d.userhash || c.param("username") == std::string("us\"er"));
  auto response = c.param("response");
  FUZZ_CHECK(response.has_value());
  bool sha256 = d.algorithm.starts_with("SHA-256");
  FUZZ_CHECK(response->size() == (sha256 ? 64u : 32u));
  FUZZ_CHECK(lower_hex(*response));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view value(reinterpret_cast<const char*>(bytes), size);
  for (unsigned char c : value)
    if (!field_value_char(c)) return 0;

  std::vector<Challenge> challenges;
  parse_challenges(value, challenges);
  for (const auto& c : challenges) {
    auto d = parse_digest_challenge(c);
    if (c.scheme != "digest") FUZZ_CHECK(!d);
    if (!d) continue;
    FUZZ_CHECK(!d->nonce.empty());
    FUZZ_CHECK(d->nonce == c.param("nonce"));
    FUZZ_CHECK(d->algorithm == "MD5" || d->algorithm == "MD5-SESS" || d->algorithm == "SHA-256" ||
               d->algorithm == "SHA-256-SESS");
    check_credentials(*d);
  }
  return 0;
}
