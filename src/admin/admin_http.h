#pragma once
// The small HTTP pieces of the admin listener: response bytes and the
// bearer-token check.
#include <string>
#include <string_view>
#include <vector>

#include "base/secret.h"
#include "control/control_api.h"
#include "http/message_head.h"

namespace ferry {

// Status line, Content-Type/Content-Length (none for 204), the response's
// own headers, Cache-Control: no-store, and Connection: close when `close`;
// then the body unless `head_only`. The caller wipes the result when the
// response holds a secret.
std::string format_admin_response(const ControlResponse& response, bool head_only, bool close);

// Exactly one `Authorization: Bearer <token>` field whose token equals
// `token`. Compared as SHA-256 digests with CRYPTO_memcmp: the time taken
// depends on neither the token's content nor its length.
bool bearer_matches(const std::vector<http::HeaderField>& fields, const Secret& token);

const char* status_reason(int status);

}  // namespace ferry
