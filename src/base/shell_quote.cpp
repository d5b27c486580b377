#include "base/shell_quote.h"

namespace ferry {

std::string shell_quote(std::string_view s) {
  auto plain = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '.' ||
           c == '_' || c == '-' || c == ':' || c == ',' || c == '+' || c == '@' || c == '=';
  };
  bool safe = !s.empty();
  for (char c : s) safe = safe && plain(c);
  if (safe) return std::string(s);
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace ferry
