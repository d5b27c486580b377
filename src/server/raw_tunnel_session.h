#pragma once
// Sessions that carry raw TCP rather than HTTP: a SOCKS5 client (the
// --socks-listen listener) and a `ferry tunnel` listener with a fixed
// target. Both route the target like a CONNECT (SPEC §6) and relay bytes.
#include "base/host_port.h"
#include "server/worker.h"

namespace ferry {

awaitable<void> run_socks_session(Worker& worker, tcp::socket socket);
awaitable<void> run_fixed_tunnel_session(Worker& worker, tcp::socket socket, HostPort target);

}  // namespace ferry
