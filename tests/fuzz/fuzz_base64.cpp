// base64_decode reads the NTLM and Negotiate tokens a proxy sends.
//
// Invariants: a decode never yields more than 3 bytes per 4 characters;
// canonical base64 (RFC 4648 alphabet, '=' padding only at the end, zero
// pad bits) decodes to exactly what a strict reference decoder gives, and
// re-encodes to itself; anything decoded re-encodes and decodes back to the
// same bytes; encoding the raw input and decoding it gives the input back.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "auth/basic_auth.h"
#include "fuzz_check.h"

using namespace ferry::auth;

namespace {

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict RFC 4648 §4 decoding: nullopt for anything not canonical.
std::optional<std::string> strict_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  std::string out;
  uint32_t bits = 0;
  int nbits = 0;
  for (size_t i = 0; i < text.size() - pad; ++i) {
    int v = sextet(text[i]);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | uint32_t(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out.push_back(char((bits >> nbits) & 0xff));
    }
  }
  if (bits & ((1u << nbits) - 1)) return std::nullopt;  // non-zero pad bits
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(bytes), size);

  std::string decoded = "leftover";
  bool ok = base64_decode(text, decoded);
  auto strict = strict_decode(text);
  if (strict) {
    FUZZ_CHECK(ok);
    FUZZ_CHECK(decoded == *strict);
    FUZZ_CHECK(base64_encode(decoded) == text);
  }
  if (ok) {
    FUZZ_CHECK(decoded.size() <= 3 * text.size() / 4);
    std::string again;
    FUZZ_CHECK(base64_decode(base64_encode(decoded), again));
    FUZZ_CHECK(again == decoded);
  }

  std::string encoded = base64_encode(text);
  FUZZ_CHECK(encoded.size() == 4 * ((text.size() + 2) / 3));
  FUZZ_CHECK(strict_decode(encoded) == std::string(text));
  std::string back;
  FUZZ_CHECK(base64_decode(encoded, back));
  FUZZ_CHECK(back == text);
  return 0;
}
