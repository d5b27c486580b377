#pragma once
// SOCKS5 client messages (RFC 1928) and username/password auth (RFC 1929),
// as pure functions over bytes, so the handshake is testable byte for byte.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/proxy_error.h"

namespace ferry::socks5 {

inline constexpr uint8_t kVersion = 5;
inline constexpr uint8_t kMethodNone = 0x00;
inline constexpr uint8_t kMethodUserPass = 0x02;
inline constexpr uint8_t kMethodUnacceptable = 0xFF;

std::string greeting(bool offer_userpass);
// Returns false if user or password is longer than 255 bytes.
bool userpass_request(std::string_view user, std::string_view password, std::string& out);
// CONNECT to a domain name (socks5h) or an IP literal (socks5, after local resolution).
std::string connect_request(std::string_view host, uint16_t port);

// Parses the server's CONNECT reply from the front of `data`. Returns the
// number of bytes the reply occupies once complete, 0 if more bytes are needed.
struct Reply {
  uint8_t code = 0xFF;
  size_t size = 0;  // 0 = incomplete
  bool malformed = false;
};
Reply parse_reply(std::string_view data);

// A failed reply code as a ProxyError (RFC 9209 types).
ProxyError reply_error(uint8_t code, std::string_view proxy);

}  // namespace ferry::socks5
