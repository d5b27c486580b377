#pragma once
// MD4 (RFC 1320), for the NT hash only. OpenSSL 3 moved MD4 to the legacy
// provider, which distributions often do not ship or load, so NTLM cannot
// rely on EVP_md4(). MD4 is broken as a general hash; nothing else in ferry
// may use this.
#include <array>
#include <cstdint>
#include <string_view>

namespace ferry::ntlm {

using Md4Digest = std::array<uint8_t, 16>;

// The input is usually a password (as UTF-16LE); the implementation wipes
// its working block and state before returning.
Md4Digest md4(std::string_view data);

}  // namespace ferry::ntlm
