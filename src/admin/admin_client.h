#pragma once
// A blocking client for the admin listener: one request per connection
// (Connection: close), for `ferry run` and tests.
#include <string>
#include <string_view>

#include "admin/admin_address.h"
#include "base/duration.h"
#include "base/expected.h"
#include "base/secret.h"

namespace ferry {

struct AdminReply {
  int status = 0;
  std::string body;  // may hold a run's token (201 of POST /v1/runs): wiped on destruction

  AdminReply() = default;
  AdminReply(AdminReply&&) = default;
  AdminReply& operator=(AdminReply&&) = default;
  ~AdminReply();
};

// Sends `method target` with `body` (JSON, when not empty) and, when
// `token` is not null, `Authorization: Bearer`. Errors (cannot connect, no
// answer within `timeout`, a malformed response) name the address, never
// the token.
Expected<AdminReply> admin_call(const AdminAddress& address, std::string_view method, std::string_view target,
                                std::string_view body, const Secret* token, Millis timeout);

}  // namespace ferry
