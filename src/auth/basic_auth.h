#pragma once
// Basic (RFC 7617): "Basic base64(user:password)".
#include <string>
#include <string_view>

namespace ferry::auth {

std::string base64_encode(std::string_view bytes);
// Returns false on invalid input.
bool base64_decode(std::string_view text, std::string& out);

// The Proxy-Authorization value. The result holds the secret: callers keep
// it out of logs and wipe it when done.
std::string basic_credentials(std::string_view user, std::string_view password);

}  // namespace ferry::auth
