#pragma once
// Client tokens ferry makes itself (runs, SPEC §7): 256 bits from the
// OpenSSL CSPRNG, base64url without padding (43 characters), so they fit
// in URL userinfo (`http://run:TOKEN@127.0.0.1:3128`) unescaped.
#include <string>

#include "base/expected.h"

namespace ferry {

// Fails only when the CSPRNG does (then no token is better than a weak one).
Expected<std::string> generate_client_token();

}  // namespace ferry
