#pragma once
// Who sent a request (SPEC §7 "Client tokens"): the token in its
// Proxy-Authorization (Basic with the token as password, or Bearer), or a
// SOCKS5 client's RFC 1929 password, selects the profile it is served with.
// Without a tokens file anyone --allow lets in is served with the global
// rules, and a run's token still selects the run's profile; with one, a
// client without a valid token is refused (407 / SOCKS5 auth failure).
#include <optional>

#include "base/proxy_error.h"
#include "base/secret.h"
#include "server/client_connection.h"

namespace ferry {

namespace http {
struct RequestHead;
}

// Sets `who` from `token` (null: none was sent). An error is the answer:
// 407 (token missing while required, unknown, revoked or expired) with
// ferry's Basic challenge, or 403 when the token names a profile the
// configuration no longer has.
std::optional<ProxyError> identify_client_token(ClientIdentity& who, const ServerContext& ctx,
                                                const ConfigSnapshot& snapshot, ClientScope scope, const Secret* token);

// The same for an HTTP request, from its Proxy-Authorization.
std::optional<ProxyError> identify_client(ClientConnection& conn, const http::RequestHead& head);

// 403 http_request_denied when `who`'s policy does not let it reach
// `target`, with details naming the host and the profile.
std::optional<ProxyError> policy_refusal(const ClientIdentity& who, const Config& config, const HostPort& target);
inline std::optional<ProxyError> policy_refusal(const ClientConnection& conn, const HostPort& target) {
  return policy_refusal(conn.who, conn.config(), target);
}

}  // namespace ferry
