#include "auth/token_generator.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>

namespace ferry {

Expected<std::string> generate_client_token() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), int(bytes.size())) != 1)
    return Unexpected{std::string("the random generator failed: no client token made")};
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve(43);
  unsigned bits = 0, value = 0;
  for (unsigned char b : bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(value >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(value << (6 - bits)) & 0x3f]);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return out;
}

}  // namespace ferry
