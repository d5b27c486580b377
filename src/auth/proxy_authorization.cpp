#include "auth/proxy_authorization.h"

namespace ferry::auth {

void append_proxy_authorization(std::string& head, std::string_view value) {
  if (value.empty() || head.size() < 2) return;
  static constexpr std::string_view kName = "Proxy-Authorization: ";
  static constexpr std::string_view kEnd = "\r\n";
  static constexpr size_t kSlack = 128;  // later small inserts
  const size_t grown = head.size() + kName.size() + value.size() + kEnd.size();
  if (head.capacity() < grown + kSlack) {
    // A fresh buffer of the final size; the old one holds no credential of
    // this call, but may hold an earlier one: wipe it before it is freed.
    std::string bigger;
    bigger.reserve(grown + kSlack);
    bigger.append(head);
    cleanse_string(head);
    head.swap(bigger);
  }
  const size_t at = head.size() - 2;  // before the final CRLF
  head.insert(at, kEnd);
  head.insert(at, value);
  head.insert(at, kName);
}

}  // namespace ferry::auth
