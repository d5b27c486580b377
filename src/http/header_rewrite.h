#pragma once
// Builds the heads ferry sends on: hop-by-hop fields removed (RFC 9110 §7.6.1),
// framing re-stated by ferry, Via appended.
#include <string>
#include <string_view>

#include "http/message_framing.h"
#include "http/message_head.h"

namespace ferry::http {

// Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade,
// Transfer-Encoding, Content-Length (ferry restates framing), the
// Proxy-Authorization/Proxy-Authenticate pair (ferry owns upstream auth),
// and every field named in Connection.
bool is_hop_by_hop(std::string_view name, const ConnectionOptions& connection);

struct ForwardRequest {
  std::string_view method;
  std::string_view target;  // origin-form (or absolute-form for an upstream proxy)
  std::string_view host;    // Host value
  std::string_view via;     // our Via element, e.g. "1.1 ferry-abc"
  bool upgrade = false;     // restate Upgrade (RequestInfo::upgrade_protocol), Connection: upgrade
};
std::string build_request_head(const RequestHead& head, const RequestInfo& info, const ForwardRequest& fwd);

// Removes every field line named `name` (case-insensitive) from a head that
// build_request_head made (well-formed "Name: value\r\n" lines).
void remove_field(std::string& head, std::string_view name);

struct ForwardResponse {
  std::string_view via;
  BodyKind body_to_client = BodyKind::none;  // framing ferry will use towards the client
  bool close = false;                        // add Connection: close
  bool keep_alive_1_0 = false;               // HTTP/1.0 client that asked for keep-alive
  bool upgrade = false;                      // a 101: keep Upgrade, Connection: upgrade
};
std::string build_response_head(const ResponseHead& head, const ResponseInfo& info, const ForwardResponse& fwd);

std::string_view reason_phrase(int status);

}  // namespace ferry::http
