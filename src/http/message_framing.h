#pragma once
// Decides how a message's body is delimited (RFC 9112 §6) and which
// connection options it carries; rejects every framing ambiguity.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "http/message_head.h"

namespace ferry::http {

enum class BodyKind { none, content_length, chunked, until_close };

struct ConnectionOptions {
  bool close = false;
  bool keep_alive = false;
  bool upgrade = false;
  std::vector<std::string> tokens;  // lower-cased names listed in Connection
};

struct RequestInfo {
  BodyKind body = BodyKind::none;
  uint64_t content_length = 0;
  // "Content-Length: 0" was sent: no body, but the field is restated, since
  // some servers answer a POST without it with 411 (RFC 9110 §8.6).
  bool zero_length = false;
  bool expect_continue = false;
  bool keep_alive = true;  // what the client asked for
  bool upgrade = false;    // Connection: upgrade plus an Upgrade field naming a protocol ferry passes on
  // The Upgrade list without h2c: HTTP/2 cleartext upgrades through a proxy
  // are the h2c-smuggling class (the origin's HTTP/2 stream escapes the
  // proxy's view of requests), so ferry never offers them.
  std::string upgrade_protocol;
  bool has_host = false;
  std::optional<uint64_t> max_forwards;  // a valid Max-Forwards value (RFC 9110 §7.6.2)
  ConnectionOptions connection;
};

struct ResponseInfo {
  BodyKind body = BodyKind::none;
  uint64_t content_length = 0;
  // Transfer codings other than a final chunked ("gzip"), in order. ferry
  // passes them on (it only ever undoes chunked), so they must be restated.
  std::string other_codings;
  bool keep_alive = true;  // the origin lets us reuse the connection
  ConnectionOptions connection;
};

Expected<RequestInfo> analyze_request(const RequestHead& head);
// Rules for a well-framed request that a proxy enforces before acting on it:
// an HTTP/1.1 request must carry Host (RFC 9112 §3.2).
Expected<bool> check_request_rules(const RequestHead& head, const RequestInfo& info);
Expected<ResponseInfo> analyze_response(const ResponseHead& head, std::string_view request_method);

// Comma-separated list elements, trimmed, empty ones skipped.
std::vector<std::string_view> split_list(std::string_view value);

}  // namespace ferry::http
