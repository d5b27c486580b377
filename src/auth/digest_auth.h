#pragma once
// Digest (RFC 7616) for proxy authentication: MD5, MD5-sess, SHA-256,
// SHA-256-sess; qop=auth (or none, RFC 2069 style); nonce counts; stale.
//
// The codec has no I/O and takes the client nonce from the caller so tests
// can check exact bytes against RFC 7616 §3.9.1.
#include <optional>
#include <string>
#include <string_view>

#include "auth/challenge.h"

namespace ferry::auth {

struct DigestChallenge {
  std::string realm, nonce, opaque;
  std::string algorithm = "MD5";  // as sent, upper-cased
  bool qop_auth = false;          // server offered qop=auth
  bool stale = false;
  bool userhash = false;
};

// Returns nullopt when the challenge cannot be answered (unknown algorithm,
// only qop=auth-int, missing nonce).
std::optional<DigestChallenge> parse_digest_challenge(const Challenge& c);

struct DigestRequest {
  std::string_view method;  // "GET", "CONNECT"
  std::string_view uri;     // request-target as sent: absolute URL, or host:port for CONNECT
};

// Builds the Proxy-Authorization value. `nc` is the nonce count for this
// nonce (1 for the first use); `cnonce` a fresh random string.
std::string digest_credentials(const DigestChallenge& ch, std::string_view user, std::string_view password,
                               const DigestRequest& req, uint32_t nc, std::string_view cnonce);

std::string random_cnonce();

}  // namespace ferry::auth
