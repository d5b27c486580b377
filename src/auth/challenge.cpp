#include "auth/challenge.h"

#include "base/host_port.h"
#include "http/head_parser.h"

namespace ferry::auth {

std::optional<std::string> Challenge::param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return std::nullopt;
}

std::string quoted(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

namespace {

struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool at_end() const { return i >= s.size(); }
  void skip_ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  std::string_view token() {
    size_t start = i;
    while (i < s.size() && http::is_tchar(s[i])) ++i;
    return s.substr(start, i - start);
  }
  bool quoted_string(std::string& out) {
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    out.clear();
    while (i < s.size()) {
      char c = s[i++];
      if (c == '"') return true;
      if (c == '\\') {
        if (i >= s.size()) return false;
        c = s[i++];
      }
      out.push_back(c);
    }
    return false;
  }
};

bool is_token68_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == '+' || c == '/';
}

// Tries "name BWS = BWS (token / quoted-string)" at the cursor.
bool try_param(Cursor& c, std::pair<std::string, std::string>& out) {
  Cursor save = c;
  auto name = c.token();
  if (name.empty()) return false;
  c.skip_ws();
  if (c.at_end() || c.s[c.i] != '=') {
    c = save;
    return false;
  }
  ++c.i;
  c.skip_ws();
  std::string value;
  if (!c.at_end() && c.s[c.i] == '"') {
    if (!c.quoted_string(value)) {
      c = save;
      return false;
    }
  } else {
    auto t = c.token();
    if (t.empty()) {
      c = save;
      return false;
    }
    value = std::string(t);
  }
  Cursor after = c;
  after.skip_ws();
  if (!after.at_end() && after.s[after.i] != ',') {
    c = save;
    return false;
  }
  out = {to_lower(name), std::move(value)};
  return true;
}

}  // namespace

bool parse_challenges(std::string_view value, std::vector<Challenge>& out) {
  Cursor c{value};
  Challenge* current = nullptr;
  for (;;) {
    c.skip_ws();
    while (!c.at_end() && c.s[c.i] == ',') {
      ++c.i;
      c.skip_ws();
    }
    if (c.at_end()) return true;
    std::pair<std::string, std::string> p;
    if (current && current->token68.empty() && try_param(c, p)) {
      current->params.push_back(std::move(p));
      continue;
    }
    // A new challenge: scheme [ SP (token68 / auth-params) ]
    auto scheme = c.token();
    if (scheme.empty()) return false;
    out.push_back(Challenge{to_lower(scheme), {}, {}});
    current = &out.back();
    size_t before = c.i;
    c.skip_ws();
    if (c.at_end() || c.s[c.i] == ',') continue;
    if (c.i == before) return false;  // scheme must be followed by space
    if (try_param(c, p)) {
      current->params.push_back(std::move(p));
      continue;
    }
    size_t start = c.i;
    while (!c.at_end() && is_token68_char(c.s[c.i])) ++c.i;
    while (!c.at_end() && c.s[c.i] == '=') ++c.i;
    if (c.i == start) return false;
    current->token68 = std::string(c.s.substr(start, c.i - start));
    c.skip_ws();
    if (!c.at_end() && c.s[c.i] != ',') return false;
  }
}

}  // namespace ferry::auth
