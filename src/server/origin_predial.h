#pragma once
// The origin leg of an intercepted tunnel, dialled while the client's TLS
// handshake runs. Without it a new host's first response pays the two
// handshakes one after the other (issue 8's new-host latency). The tunnel
// keeps the connection (InterceptScope::early_origin) and its first request
// takes it before the pool's; a failed dial is kept for that request to
// answer with (dialling again would double a timeout the user already
// waited for).
#include <string>

#include "base/proxy_error.h"
#include "net/byte_stream.h"
#include "server/client_connection.h"

namespace ferry {

struct PredialedOrigin {
  ByteStreamPtr stream;  // TLS to the origin, along the route; null: not dialled (see below)
  std::string pool_key;
};

// Dials `origin` over TLS along the route of an https:// request to it,
// with the route's failover; not when the worker's pool already holds an
// idle connection for the route (the first request takes that one: a
// tunnel per request to one host must not cost an origin handshake each).
awaitable<Expected<PredialedOrigin, ProxyError>> predial_origin(const ClientConnection& conn, const HostPort& origin);

}  // namespace ferry
