#pragma once
// Parses Proxy-Authenticate field values into challenges (RFC 9110 §11.1):
// several challenges may share one field line, separated by commas, and a
// challenge carries either a token68 or comma-separated auth-params.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::auth {

struct Challenge {
  std::string scheme;  // lower-case: "basic", "digest", "negotiate", "ntlm"
  std::string token68;
  std::vector<std::pair<std::string, std::string>> params;  // names lower-cased, values unquoted

  std::optional<std::string> param(std::string_view name) const;
};

// Appends the challenges found in one field value; returns false on a syntax error.
bool parse_challenges(std::string_view value, std::vector<Challenge>& out);

// Quotes a value as an RFC 9110 quoted-string.
std::string quoted(std::string_view value);

}  // namespace ferry::auth
