#include "admin/admin_address.h"

#include "auth/credentials.h"
#include "base/host_port.h"

namespace ferry {

std::string AdminAddress::to_string() const {
  if (!tcp_endpoint) return unix_path;
  const auto a = tcp_endpoint->address();
  const std::string host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  return host + ":" + std::to_string(tcp_endpoint->port());
}

Expected<AdminAddress> parse_admin_address(std::string_view text) {
  if (text.empty()) return fail("--admin: empty address");
  AdminAddress out;
  if (text.find('/') != std::string_view::npos) {
    // sockaddr_un holds 108 bytes including the terminating NUL.
    if (text.size() > 107) return fail("--admin " + std::string(text) + ": a unix socket path is at most 107 bytes");
    out.unix_path = std::string(text);
    return out;
  }
  auto hp = parse_host_port(text);
  if (!hp) return fail("--admin " + std::string(text) + ": " + hp.error() + " (a socket path or host:port)");
  if (hp->host == "localhost") hp->host = "127.0.0.1";
  error_code ec;
  auto address = asio::ip::make_address(hp->host, ec);
  if (ec) return fail("--admin " + std::string(text) + ": the host must be an IP address or localhost");
  out.tcp_endpoint = tcp::endpoint(address, hp->port);
  return out;
}

Expected<std::string> default_admin_socket(const GetEnv& getenv) {
  auto dir = getenv("XDG_RUNTIME_DIR");
  if (!dir || dir->empty() || dir->front() != '/')
    return fail("XDG_RUNTIME_DIR is not set (or not absolute): give the admin address with --admin");
  return *dir + "/ferry/admin.sock";
}

Expected<Secret> read_admin_token(const std::string& path) { return auth::read_password_file(path, "--admin-token"); }

}  // namespace ferry
