// parse_proxy_url reads --upstream values, [upstream] proxies and the
// *_PROXY environment variables, which may come from elsewhere than the
// operator (a login script, a PAC-less desktop setting).
//
// Every byte 0x01 in the input is replaced by a planted password, kSecret,
// so the fuzzer can put a secret anywhere. Invariants: the printed form
// (to_redacted_string) is exactly scheme://host:port and never holds the
// secret; an error message never holds the secret when it sits in the
// userinfo (anywhere before the last '@') and nowhere after it; a parsed URL,
// printed back with its userinfo percent-encoded, parses to the same value.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/host_port.h"
#include "config/proxy_url.h"
#include "fuzz_check.h"

using namespace ferry;

namespace {

// '!' is valid in a password but not in a scheme, host or port.
constexpr std::string_view kSecret = "Pw!S3cr3t";

bool holds_secret(std::string_view s) { return to_lower(s).find(to_lower(kSecret)) != std::string::npos; }

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out.push_back('%');
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string text;
  for (size_t i = 0; i < size; ++i) {
    if (bytes[i] == 1) text += kSecret;
    else text.push_back(char(bytes[i]));
  }

  auto url = parse_proxy_url(text);
  if (!url) {
    auto at = text.rfind('@');
    if (at != std::string::npos && holds_secret(text.substr(0, at)) && !holds_secret(text.substr(at)))
      FUZZ_CHECK(!holds_secret(url.error()));
    return 0;
  }

  const std::string printed = url->to_redacted_string();
  FUZZ_CHECK(printed == std::string(proxy_scheme_name(url->scheme)) + "://" + url->address.to_string());
  FUZZ_CHECK(!holds_secret(printed));
  auto reparsed = parse_proxy_url(printed);
  FUZZ_CHECK(reparsed && reparsed->scheme == url->scheme && reparsed->address == url->address &&
             !reparsed->has_credentials());

  std::string full = std::string(proxy_scheme_name(url->scheme)) + "://";
  if (url->has_credentials()) full += percent_encode(url->user) + ":" + percent_encode(url->password.view()) + "@";
  full += url->address.to_string();
  auto again = parse_proxy_url(full);
  FUZZ_CHECK(again && *again == *url);
  return 0;
}
