#pragma once
// Where the admin listener (SPEC §2 --admin, §10) listens and `ferry run`
// connects: a unix socket path, or a TCP host:port.
#include <optional>
#include <string>
#include <string_view>

#include "base/expected.h"
#include "base/secret.h"
#include "net/asio.h"
#include "routing/route_table.h"

namespace ferry {

struct AdminAddress {
  std::string unix_path;                      // set for a unix socket
  std::optional<tcp::endpoint> tcp_endpoint;  // set for TCP

  bool is_unix() const { return !tcp_endpoint; }
  bool is_loopback() const { return !tcp_endpoint || tcp_endpoint->address().is_loopback(); }
  // The path, or "host:port" ("[::1]:port" for IPv6).
  std::string to_string() const;
};

// A value holding '/' is a socket path (relative ones allowed: "./a.sock");
// otherwise an IP literal or "localhost" with a port ("127.0.0.1:9090",
// "[::1]:9090", "localhost:9090"; no DNS).
Expected<AdminAddress> parse_admin_address(std::string_view text);

// $XDG_RUNTIME_DIR/ferry/admin.sock (XDG_RUNTIME_DIR must be absolute, as
// the XDG spec says); an error naming the variable when it is not set.
Expected<std::string> default_admin_socket(const GetEnv& getenv);

// Reads the admin token from FILE (first line, file private to its owner),
// like --password-file; errors name --admin-token and the path.
Expected<Secret> read_admin_token(const std::string& path);

}  // namespace ferry
