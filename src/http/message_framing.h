#pragma once
// Decides how a message's body is delimited (RFC 9112 §6) and which
// connection options it carries; rejects every framing ambiguity.
#include <cstdint>
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
  bool expect_continue = false;
  bool keep_alive = true;  // what the client asked for
  bool upgrade = false;    // Connection: upgrade plus an Upgrade field
  std::string_view upgrade_protocol;
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
Expected<ResponseInfo> analyze_response(const ResponseHead& head, std::string_view request_method);

// Comma-separated list elements, trimmed, empty ones skipped.
std::vector<std::string_view> split_list(std::string_view value);

}  // namespace ferry::http
