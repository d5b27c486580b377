// parse_challenges reads the Proxy-Authenticate values an upstream proxy
// sends.
//
// Invariants: schemes and parameter names are non-empty lower-case tokens; a
// challenge has a token68 or parameters, never both; parsed challenges,
// written back out in canonical form (parameter values quoted), parse to the
// same challenges; and appending never disturbs what `out` already held.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/challenge.h"
#include "fuzz_check.h"
#include "http/head_parser.h"

using namespace ferry::auth;

namespace {

bool lower_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!ferry::http::is_tchar(c) || (c >= 'A' && c <= 'Z')) return false;
  return true;
}

std::string serialize(const std::vector<Challenge>& challenges) {
  std::string out;
  for (const auto& c : challenges) {
    if (!out.empty()) out += ", ";
    out += c.scheme;
    if (!c.token68.empty()) out += " " + c.token68;
    for (size_t i = 0; i < c.params.size(); ++i)
      out += (i == 0 ? " " : ", ") + c.params[i].first + "=" + quoted(c.params[i].second);
  }
  return out;
}

bool same(const std::vector<Challenge>& a, const std::vector<Challenge>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].scheme != b[i].scheme || a[i].token68 != b[i].token68 || a[i].params != b[i].params) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view value(reinterpret_cast<const char*>(bytes), size);

  const Challenge sentinel{"sentinel", "abc", {}};
  std::vector<Challenge> out{sentinel};
  bool ok = parse_challenges(value, out);
  FUZZ_CHECK(!out.empty() && same({out.front()}, {sentinel}));
  out.erase(out.begin());

  for (const auto& c : out) {
    FUZZ_CHECK(lower_token(c.scheme));
    FUZZ_CHECK(c.token68.empty() || c.params.empty());
    for (const auto& [name, v] : c.params) {
      FUZZ_CHECK(lower_token(name));
      FUZZ_CHECK(c.param(name).has_value());
    }
    FUZZ_CHECK(c.token68.size() <= value.size());
  }
  if (!ok) return 0;

  std::string canonical = serialize(out);
  std::vector<Challenge> again;
  FUZZ_CHECK(parse_challenges(canonical, again));
  FUZZ_CHECK(same(out, again));
  return 0;
}
