#pragma once
// SOCKS5 server side (RFC 1928) and username/password sub-negotiation
// (RFC 1929): the messages a client sends us, parsed from the front of a
// buffer, and the replies we send, as pure functions over bytes.
//
// Every parse_* function looks at the front of `data` and returns a struct
// whose `size` is the number of bytes the message occupies once complete,
// 0 while more bytes are needed. `malformed` is set as soon as the bytes seen
// so far cannot start a valid message (the caller should close, after the
// reply noted below, if any); `size` is then meaningless.
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/proxy_error.h"
#include "base/secret.h"            // cleanse_string
#include "upstream/socks5_codec.h"  // kVersion, kMethod*

namespace ferry::socks5 {

inline constexpr uint8_t kUserPassVersion = 1;

inline constexpr uint8_t kCmdConnect = 1;
inline constexpr uint8_t kCmdBind = 2;
inline constexpr uint8_t kCmdUdpAssociate = 3;

inline constexpr uint8_t kAtypIpv4 = 1;
inline constexpr uint8_t kAtypDomain = 3;
inline constexpr uint8_t kAtypIpv6 = 4;

// Reply codes (RFC 1928 section 6).
inline constexpr uint8_t kReplySucceeded = 0x00;
inline constexpr uint8_t kReplyGeneralFailure = 0x01;
inline constexpr uint8_t kReplyNotAllowed = 0x02;
inline constexpr uint8_t kReplyNetworkUnreachable = 0x03;
inline constexpr uint8_t kReplyHostUnreachable = 0x04;
inline constexpr uint8_t kReplyConnectionRefused = 0x05;
inline constexpr uint8_t kReplyTtlExpired = 0x06;
inline constexpr uint8_t kReplyCommandNotSupported = 0x07;
inline constexpr uint8_t kReplyAddressTypeNotSupported = 0x08;

// VER NMETHODS METHODS... ; malformed if VER != 5 or NMETHODS == 0.
struct Greeting {
  std::vector<uint8_t> methods;
  size_t size = 0;  // 0 = incomplete
  bool malformed = false;
};
Greeting parse_greeting(std::string_view data);

// The method we pick from those offered: username/password if we require it
// (and it is offered), otherwise "no authentication"; kMethodUnacceptable
// when the client offers nothing we accept.
uint8_t select_method(const std::vector<uint8_t>& offered, bool require_userpass);

// 05 METHOD
std::string method_selection(uint8_t method);

// RFC 1929: 01 ULEN UNAME PLEN PASSWD; malformed if the version is not 1.
// Empty user names and passwords parse (they simply fail the credential check).
// With client tokens the password is the token (any user name): the
// password is wiped when the UserPass is destroyed, and so is the user name:
// its small-string buffer can hold message bytes past the name (the
// password) left there by an optimised copy. The caller still wipes the
// bytes it read the message from.
struct UserPass {
  std::string user, password;
  size_t size = 0;  // 0 = incomplete
  bool malformed = false;

  UserPass() = default;
  UserPass(const UserPass&) = default;
  UserPass(UserPass&&) = default;
  UserPass& operator=(const UserPass&) = default;
  UserPass& operator=(UserPass&&) = default;
  ~UserPass() {
    cleanse_string(user);
    cleanse_string(password);
  }
};
UserPass parse_userpass(std::string_view data);

// 01 00 on success, 01 01 on failure (the caller closes after a failure).
std::string userpass_status(bool ok);

// VER CMD RSV ATYP DST.ADDR DST.PORT.
// host: IPv4 as dotted text, IPv6 in canonical text without brackets, a
// domain name lower-cased. A domain that is itself an IP literal is returned
// as that literal with host_is_name = false.
// Domains must be 1..255 bytes of letters, digits, '-', '_' and '.' (an IP
// literal is also accepted); anything else (NUL, spaces, '%', ...) is malformed.
// When malformed, error_reply is the reply code to send before closing:
// kReplyAddressTypeNotSupported for an unknown ATYP, kReplyGeneralFailure
// otherwise (a peer with the wrong VER is probably not speaking SOCKS5 at
// all; the caller may prefer to just close). Commands other than CONNECT
// parse normally; see rejection_code.
struct Request {
  uint8_t command = 0;
  std::string host;
  uint16_t port = 0;
  bool host_is_name = false;
  size_t size = 0;  // 0 = incomplete
  bool malformed = false;
  uint8_t error_reply = 0;
};
Request parse_request(std::string_view data);

// 0 if a complete request can be served (CONNECT, well formed); otherwise the
// reply code to answer with: error_reply when malformed,
// kReplyCommandNotSupported for BIND, UDP ASSOCIATE and unknown commands.
uint8_t rejection_code(const Request& request);

// 05 CODE 00 ATYP BND.ADDR BND.PORT. With no endpoint, 0.0.0.0:0; a
// v4-mapped IPv6 endpoint is written as IPv4.
std::string reply(uint8_t code, const boost::asio::ip::tcp::endpoint* bound = nullptr);

// The reply code for a failure to reach the destination (RFC 9209 type ->
// RFC 1928 code). Chosen so that curl names the failure sensibly and so that
// ferry's own SOCKS5 client (reply_error) maps the code back to the same
// or the nearest type:
//   dns_error, dns_timeout                       -> 0x04 host unreachable
//   connection_refused                           -> 0x05 connection refused
//   connection_timeout                           -> 0x06 TTL expired (curl:
//       "TTL expired"; the convention of Tor and Dante for ETIMEDOUT, and
//       reply_error maps 0x06 back to connection_timeout)
//   destination_unavailable                      -> 0x03 network unreachable
//       (not 0x04, which ferry's client reads back as dns_error)
//   destination_ip_prohibited, http_request_denied -> 0x02 not allowed by ruleset
//   everything else                              -> 0x01 general failure
// ENETUNREACH/EHOSTUNREACH from connect() arrive as connection_refused (see
// net/tcp_connector.cpp) and are answered 0x05.
uint8_t reply_code_for(const ProxyError& err);

}  // namespace ferry::socks5
